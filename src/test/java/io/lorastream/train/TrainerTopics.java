package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Splits;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.testing.TopicProbe;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Writes examples straight to the trainer's input and reads what it publishes, for trainer tests. */
final class TrainerTopics {
  private TrainerTopics() {}

  static TrainingExample example(String tenant, String id, String prompt, String completion, boolean holdout) {
    return TrainingExample.newBuilder().setId(id).setTenant(tenant).setPrompt(prompt).setCompletion(completion)
        .setWeight(1f).setEventTime(Instant.ofEpochMilli(1_000_000L))
        .setMetadata(holdout ? Map.of(Splits.KEY, Splits.HOLDOUT) : Map.of()).build();
  }

  static void produce(KafkaSettings kafka, Topics topics, List<TrainingExample> examples) {
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
        new ByteArraySerializer())) {
      for (TrainingExample e : examples) {
        producer.send(new ProducerRecord<>(topics.cleanExamples().name(), e.getTenant(),
            AvroCodec.TRAINING_EXAMPLE.encode(e)));
      }
    }
  }

  static List<AdapterSnapshot> snapshotsUntil(KafkaSettings kafka, Topics topics,
      Predicate<List<AdapterSnapshot>> done, Duration timeout) {
    return TopicProbe.readUntil(kafka, topics.adapters().name(),
        records -> done.test(records.stream().map(r -> AvroCodec.ADAPTER_SNAPSHOT.decode(r.value())).toList()),
        timeout).stream().map(r -> AvroCodec.ADAPTER_SNAPSHOT.decode(r.value())).toList();
  }

  static List<AdapterSnapshot> snapshotsUntilSeen(KafkaSettings kafka, Topics topics, long examplesSeen) {
    return snapshotsUntil(kafka, topics, s -> s.stream().anyMatch(x -> x.getExamplesSeen() >= examplesSeen),
        Duration.ofSeconds(90));
  }

  static List<AdapterCheckpoint> checkpointsUntilSeen(KafkaSettings kafka, Topics topics, long examplesSeen) {
    return TopicProbe.tenantCheckpoints(TopicProbe.readUntil(kafka, topics.checkpoints().name(),
        records -> TopicProbe.tenantCheckpoints(records).stream().anyMatch(c -> c.getExamplesSeen() >= examplesSeen),
        Duration.ofSeconds(90)));
  }

  static AdapterSnapshot last(List<AdapterSnapshot> snapshots) {
    return snapshots.get(snapshots.size() - 1);
  }
}
