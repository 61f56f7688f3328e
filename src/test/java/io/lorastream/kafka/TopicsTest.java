package io.lorastream.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.CodecException;
import io.lorastream.contract.SampleRecords;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;

class TopicsTest {

  @Test
  void defaultNamesFollowTheContract() {
    Topics topics = new Topics();
    assertThat(topics.all())
        .extracting(Topic::name)
        .containsExactly(
            "lorastream.examples.v1",
            "lorastream.examples.clean.v1",
            "lorastream.examples.dlq.v1",
            "lorastream.checkpoints.v1",
            "lorastream.adapters.v1",
            "lorastream.inference.requests.v1",
            "lorastream.inference.responses.v1");
    assertThat(Topics.ERROR_HEADER).isEqualTo("lorastream.error");
  }

  @Test
  void prefixReplacesTheDefault() {
    assertThat(new Topics("staging.").adapters().name()).isEqualTo("staging.adapters.v1");
    assertThat(new Topics("").examples().name()).isEqualTo("examples.v1");
    assertThatThrownBy(() -> new Topics("a/b")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void adaptersAndCheckpointsAreCompactedForLargeValues() {
    Topics topics = new Topics();
    for (Topic<?, ?> topic : new Topic<?, ?>[] {topics.adapters(), topics.checkpoints()}) {
      assertThat(topic.configs())
          .containsEntry("cleanup.policy", "compact")
          .containsEntry("max.message.bytes", "52428800");
      assertThat(topic.partitions()).isEqualTo(8);
    }
    assertThat(topics.inferenceRequests().partitions()).isEqualTo(4);
  }

  @Test
  void newTopicAsksForTwoInSyncReplicasOnlyWithThreeReplicas() {
    Topic<?, ?> adapters = new Topics().adapters();
    NewTopic three = adapters.newTopic((short) 3);
    assertThat(three.replicationFactor()).isEqualTo((short) 3);
    assertThat(three.configs()).containsEntry("min.insync.replicas", "2");
    assertThat(adapters.newTopic((short) 1).configs()).doesNotContainKey("min.insync.replicas");
  }

  @Test
  void valueSerdesRoundTripAndKeepTombstones() {
    Topics topics = new Topics();
    var snapshot = SampleRecords.snapshot("acme", 2, 100, 7);
    var serde = topics.adapters().valueSerde();
    byte[] bytes = serde.serializer().serialize("t", snapshot);
    assertThat(bytes).isEqualTo(AvroCodec.ADAPTER_SNAPSHOT.encode(snapshot));
    assertThat(serde.deserializer().deserialize("t", bytes)).isEqualTo(snapshot);
    assertThat(serde.serializer().serialize("t", null)).isNull();
    assertThat(serde.deserializer().deserialize("t", null)).isNull();
  }

  @Test
  void valueDeserializerLetsCodecFailuresThrough() {
    byte[] json = "{}".getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> new Topics().examples().valueSerde().deserializer().deserialize("t", json))
        .isInstanceOfSatisfying(
            CodecException.class,
            e -> assertThat(e.reason()).isEqualTo(CodecException.Reason.BAD_MAGIC));
  }

  @Test
  void settingsCopyClientPropertiesIntoEveryClient() {
    KafkaSettings settings =
        new KafkaSettings(
            "k1:9093,k2:9093",
            Map.of("security.protocol", "SASL_SSL", "sasl.mechanism", "PLAIN",
                "ssl.truststore.location", "/etc/kafka/trust.jks"));
    for (Map<String, Object> config :
        java.util.List.of(settings.producer(), settings.consumer("g"), settings.admin(),
            settings.transactionalProducer("tx-1"))) {
      assertThat(config)
          .containsEntry("bootstrap.servers", "k1:9093,k2:9093")
          .containsEntry("security.protocol", "SASL_SSL")
          .containsEntry("sasl.mechanism", "PLAIN")
          .containsEntry("ssl.truststore.location", "/etc/kafka/trust.jks");
    }
    assertThat(settings.toString()).doesNotContain("trust.jks");
  }

  @Test
  void producerAndConsumerAllowFiftyMiBValues() {
    KafkaSettings settings = KafkaSettings.of("localhost:9092");
    assertThat(settings.producer())
        .containsEntry("acks", "all")
        .containsEntry("enable.idempotence", true)
        .containsEntry("max.request.size", 52_428_800)
        .containsEntry("buffer.memory", 134_217_728L);
    assertThat(settings.transactionalProducer("trainer-0"))
        .containsEntry("transactional.id", "trainer-0");
    Map<String, Object> consumer = settings.consumer("gateway");
    assertThat(consumer)
        .containsEntry("group.id", "gateway")
        .containsEntry("isolation.level", "read_committed")
        .containsEntry("enable.auto.commit", false)
        .containsEntry("auto.offset.reset", "earliest");
    assertThat((Integer) consumer.get("max.partition.fetch.bytes")).isGreaterThan(52_428_800);
    assertThat((Integer) consumer.get("fetch.max.bytes")).isGreaterThan(52_428_800);
  }
}
