package io.lorastream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Splits;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.TopicProbe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Ingest as it runs: Kafka Streams with exactly_once_v2 against a real broker. */
class IngestServiceTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  Path stateDir;

  @Test
  void movesExamplesToTheCleanTopicAndBadOnesToTheDlqExactlyOnce() {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("svc.");
    TopicAdmin.ensureTopics(kafka, topics);
    Metrics metrics = Metrics.create();
    byte[] notAvro = "{\"not\": \"avro\"}".getBytes(StandardCharsets.UTF_8);

    try (IngestService ingest = IngestService.start(kafka, topics, IngestSettings.defaults(), metrics, stateDir);
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(oneInFlight(kafka), new StringSerializer(),
            new ByteArraySerializer())) {
      for (String tenant : List.of("acme", "globex")) {
        for (int i = 0; i < 3; i++) {
          producer.send(new ProducerRecord<>(topics.examples().name(), tenant, encode(tenant, tenant + "-" + i)));
        }
      }
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme", encode("acme", "acme-0"))); // duplicate
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme", notAvro));
      producer.send(new ProducerRecord<>(topics.examples().name(), "Bad Tenant", encode("Bad Tenant", "x-1")));
      // Last in acme's partition: once it is clean, everything of acme before it was processed.
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme", encode("acme", "acme-last")));
      producer.flush();

      // TopicProbe reads read_committed: only what ingest's transactions committed.
      List<ConsumerRecord<String, byte[]>> clean = TopicProbe.readUntil(kafka, topics.cleanExamples().name(),
          records -> records.size() >= 7 && records.stream().anyMatch(r -> decode(r).getId().equals("acme-last")),
          Duration.ofSeconds(60));
      assertThat(clean).extracting(r -> decode(r).getId()).containsExactlyInAnyOrder(
          "acme-0", "acme-1", "acme-2", "globex-0", "globex-1", "globex-2", "acme-last");
      assertThat(clean).allSatisfy(r -> {
        assertThat(r.key()).isEqualTo(decode(r).getTenant());
        assertThat(decode(r).getMetadata()).containsKey(Splits.KEY);
      });

      List<ConsumerRecord<String, byte[]>> dead = TopicProbe.readUntil(kafka, topics.dlq().name(),
          records -> records.size() >= 2, Duration.ofSeconds(30));
      assertThat(dead).hasSize(2);
      assertThat(dead).extracting(IngestServiceTest::reason)
          .anySatisfy(reason -> assertThat(reason).startsWith("bad-magic: "))
          .anySatisfy(reason -> assertThat(reason).startsWith("invalid-tenant: "));
      assertThat(dead).anySatisfy(r -> assertThat(r.value()).isEqualTo(notAvro));

      assertThat(ingest.state()).isEqualTo(KafkaStreams.State.RUNNING);
      assertThat(metrics.ingestExamples.labelValues("duplicate").getLongValue()).isEqualTo(1);
      assertThat(metrics.ingestRejected.labelValues("bad-magic").getLongValue()).isEqualTo(1);
    }
  }

  @Test
  void hostileRecordsOnARealBrokerGoToTheDlqAndIngestKeepsRunning() {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("hostile.");
    TopicAdmin.ensureTopics(kafka, topics);
    Metrics metrics = Metrics.create();
    byte[] tenMegabytePrompt = AvroCodec.TRAINING_EXAMPLE.encode(TrainingExample.newBuilder().setId("big")
        .setTenant("acme").setPrompt("p".repeat(10_000_000)).setCompletion(" c").setWeight(1f)
        .setEventTime(Instant.now()).setMetadata(Map.of()).build());
    byte[] garbled = encode("acme", "garbled");
    Arrays.fill(garbled, 10, garbled.length, (byte) 0xFF);
    IngestSettings settings = IngestSettings.defaults().withApplicationId("hostile-ingest")
        .withRemovedTenants(Set.of("gone"));

    try (IngestService ingest = IngestService.start(kafka, topics, settings, metrics, stateDir);
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(oneInFlight(kafka), new StringSerializer(),
            new ByteArraySerializer())) {
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme", tenMegabytePrompt));
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme", garbled));
      producer.send(new ProducerRecord<>(topics.examples().name(), "gone", encode("gone", "g-1")));
      producer.send(new ProducerRecord<>(topics.examples().name(), "../x", encode("../x", "x-1")));
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme", encode("acme", "after")));
      producer.flush();

      List<ConsumerRecord<String, byte[]>> clean = TopicProbe.readUntil(kafka, topics.cleanExamples().name(),
          records -> !records.isEmpty(), Duration.ofSeconds(60));
      assertThat(clean).extracting(r -> decode(r).getId()).containsExactly("after");
      List<ConsumerRecord<String, byte[]>> dead = TopicProbe.readUntil(kafka, topics.dlq().name(),
          records -> records.size() >= 4, Duration.ofSeconds(30));
      assertThat(dead).extracting(IngestServiceTest::reason).extracting(r -> r.substring(0, r.indexOf(':')))
          .containsExactlyInAnyOrder("prompt-too-long", "corrupt", "tenant-removed", "invalid-tenant");
      assertThat(dead).anySatisfy(r -> assertThat(r.value()).isEqualTo(tenMegabytePrompt));
      assertThat(ingest.state()).isEqualTo(KafkaStreams.State.RUNNING);
      assertThat(metrics.ingestRejected.labelValues("prompt-too-long").getLongValue()).isEqualTo(1);
      assertThat(metrics.ingestRejected.labelValues("tenant-removed").getLongValue()).isEqualTo(1);
    }
  }

  /**
   * The producer settings with one request in flight. On topics just created, a first send can be
   * refused while the partition gets its leader; with several requests in flight the idempotent
   * producer then once saw later batches appended before the refused one was retried, and retried
   * it for good (OutOfOrderSequenceException in the broker's log, one record never written). One
   * in flight keeps every retry in order.
   */
  private static Map<String, Object> oneInFlight(KafkaSettings kafka) {
    Map<String, Object> config = new java.util.HashMap<>(kafka.producer());
    config.put("max.in.flight.requests.per.connection", 1);
    return config;
  }

  private static byte[] encode(String tenant, String id) {
    return AvroCodec.TRAINING_EXAMPLE.encode(TrainingExample.newBuilder().setId(id).setTenant(tenant)
        .setPrompt("Question " + id + "?\nAnswer:").setCompletion(" yes.").setWeight(1f)
        .setEventTime(Instant.now()).setMetadata(Map.of()).build());
  }

  private static TrainingExample decode(ConsumerRecord<String, byte[]> record) {
    return AvroCodec.TRAINING_EXAMPLE.decode(record.value());
  }

  private static String reason(ConsumerRecord<String, byte[]> record) {
    return new String(record.headers().lastHeader(Topics.ERROR_HEADER).value(), StandardCharsets.UTF_8);
  }
}
