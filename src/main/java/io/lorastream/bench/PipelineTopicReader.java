package io.lorastream.bench;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainedOffset;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Splits;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.train.AdapterControls;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads the clean examples and the adapters topics (read_committed, from the beginning) into an
 * {@link ExampleLedger}: where ingest put each example, and what each published snapshot covers.
 */
final class PipelineTopicReader implements AutoCloseable {
  private final KafkaConsumer<String, byte[]> consumer;
  private final Topics topics;
  private final ExampleLedger ledger;
  private final Thread thread;
  private volatile boolean running = true;
  private volatile Exception failure;

  PipelineTopicReader(KafkaSettings kafka, Topics topics, ExampleLedger ledger) {
    this.consumer = new KafkaConsumer<>(kafka.consumer("bench-e2e-reader-" + UUID.randomUUID()),
        new StringDeserializer(), new ByteArrayDeserializer());
    this.topics = topics;
    this.ledger = ledger;
    this.thread = new Thread(this::loop, "bench-topic-reader");
  }

  PipelineTopicReader start() {
    consumer.subscribe(List.of(topics.cleanExamples().name(), topics.adapters().name()));
    thread.start();
    return this;
  }

  /** The exception that stopped the reader, or null. */
  Exception failure() {
    return failure;
  }

  private void loop() {
    try {
      while (running) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(50))) {
          if (r.value() == null) {
            continue;
          }
          if (r.topic().equals(topics.cleanExamples().name())) {
            if (r.headers().lastHeader(AdapterControls.HEADER) != null) {
              continue;
            }
            TrainingExample e = AvroCodec.TRAINING_EXAMPLE.decode(r.value());
            ledger.cleaned(new ExampleLedger.CleanRecord(e.getTenant(), e.getId(), r.partition(), r.offset(),
                Splits.isHoldout(e)));
          } else {
            ledger.published(facts(AvroCodec.ADAPTER_SNAPSHOT.decode(r.value()), System.currentTimeMillis()));
          }
        }
      }
    } catch (org.apache.kafka.common.errors.WakeupException e) {
      // closing
    } catch (Exception e) {
      failure = e;
    }
  }

  private ExampleLedger.SnapshotFacts facts(AdapterSnapshot s, long seenAt) {
    Map<Integer, Long> through = new HashMap<>();
    for (TrainedOffset t : s.getTrainedThrough()) {
      if (t.getTopic().equals(topics.cleanExamples().name())) {
        through.put(t.getPartition(), t.getNextOffset());
      }
    }
    return new ExampleLedger.SnapshotFacts(s.getTenant(), s.getVersion(), through, s.getExamplesSeen(),
        s.getTrainLoss(), s.getHoldoutLoss(), seenAt);
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    consumer.wakeup();
    thread.join(10_000);
    consumer.close(Duration.ofSeconds(5));
  }
}
