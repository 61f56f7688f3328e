package io.lorastream.testing;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads a topic from the beginning (read_committed) in tests, waiting for what a test expects. */
public final class TopicProbe {
  private TopicProbe() {}

  /** Every committed record of the topic, read until {@code done} holds for the list or the timeout passes. */
  public static List<ConsumerRecord<String, byte[]>> readUntil(KafkaSettings kafka, String topic,
      Predicate<List<ConsumerRecord<String, byte[]>>> done, Duration timeout) {
    List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(
        kafka.consumer("probe-" + UUID.randomUUID()), new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!done.test(records)) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("timed out after " + timeout + " reading " + topic + "; saw " + records.size()
              + " records");
        }
        consumer.poll(Duration.ofMillis(200)).forEach(records::add);
      }
    }
    return records;
  }

  /**
   * The tenant checkpoints among records of the checkpoints topic, decoded, in order; the weights
   * records of kept versions ({@link Topics#keptVersionKey}) and tombstones are left out.
   */
  public static List<AdapterCheckpoint> tenantCheckpoints(List<ConsumerRecord<String, byte[]>> records) {
    return records.stream()
        .filter(r -> !Topics.isKeptVersionKey(r.key()) && r.value() != null)
        .map(r -> AvroCodec.ADAPTER_CHECKPOINT.decode(r.value()))
        .toList();
  }
}
