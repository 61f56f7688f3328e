package io.lorastream.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.SampleRecords;
import io.lorastream.testing.EmbeddedKafkaExtension;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class EmbeddedKafkaBrokerTest {
  @RegisterExtension static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @Test
  void ensureTopicsIsIdempotentAndAdaptersTopicIsCompactedForLargeValues() throws Exception {
    Topics topics = new Topics();
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);

    try (Admin admin = Admin.create(KAFKA.settings().admin())) {
      assertThat(admin.listTopics().names().get())
          .containsAll(topics.all().stream().map(Topic::name).toList());
      assertThat(admin.describeTopics(List.of(topics.adapters().name()))
              .allTopicNames().get().get(topics.adapters().name()).partitions())
          .hasSize(8);
      ConfigResource adapters =
          new ConfigResource(ConfigResource.Type.TOPIC, topics.adapters().name());
      Config config = admin.describeConfigs(List.of(adapters)).all().get().get(adapters);
      assertThat(config.get("cleanup.policy").value()).isEqualTo("compact");
      assertThat(config.get("max.message.bytes").value()).isEqualTo("52428800");
    }
  }

  @Test
  void twentyMiBSnapshotRoundTripsThroughTheBroker() throws Exception {
    Topics topics = new Topics("large.");
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    Topic<String, AdapterSnapshot> adapters = topics.adapters();
    AdapterSnapshot snapshot = SampleRecords.snapshot("acme", 5, 20 * 1024 * 1024, 42);

    try (KafkaProducer<String, AdapterSnapshot> producer =
        new KafkaProducer<>(KAFKA.settings().producer(),
            adapters.keySerde().serializer(), adapters.valueSerde().serializer())) {
      producer.send(new ProducerRecord<>(adapters.name(), "acme", snapshot)).get();
    }

    List<ConsumerRecord<String, AdapterSnapshot>> records =
        readUntil(topics.adapters(), "large-reader", received -> !received.isEmpty());
    assertThat(records).hasSize(1);
    assertThat(records.get(0).key()).isEqualTo("acme");
    assertThat(records.get(0).value()).isEqualTo(snapshot);
  }

  @Test
  void transactionalRecordsAreVisibleToReadCommittedConsumersOnlyAfterCommit() throws Exception {
    Topics topics = new Topics("tx.");
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    Topic<String, TrainingExample> examples = topics.cleanExamples();

    try (KafkaProducer<String, TrainingExample> producer =
            new KafkaProducer<>(KAFKA.settings().transactionalProducer("tx-test"),
                examples.keySerde().serializer(), examples.valueSerde().serializer());
        KafkaConsumer<String, TrainingExample> consumer =
            new KafkaConsumer<>(KAFKA.settings().consumer("tx-reader"),
                examples.keySerde().deserializer(), examples.valueSerde().deserializer())) {
      consumer.assign(partitions(examples));
      consumer.seekToBeginning(consumer.assignment());
      producer.initTransactions();

      producer.beginTransaction();
      producer.send(new ProducerRecord<>(examples.name(), "acme", SampleRecords.example("acme", "committed")));
      producer.flush();
      assertThat(ids(poll(consumer, Duration.ofSeconds(1)))).isEmpty();
      producer.commitTransaction();
      assertThat(ids(pollUntil(consumer, r -> !r.isEmpty()))).containsExactly("committed");

      producer.beginTransaction();
      producer.send(new ProducerRecord<>(examples.name(), "acme", SampleRecords.example("acme", "aborted")));
      producer.flush();
      producer.abortTransaction();
      producer.beginTransaction();
      producer.send(new ProducerRecord<>(examples.name(), "acme", SampleRecords.example("acme", "after")));
      producer.commitTransaction();

      // Same tenant key, same partition: "after" arrives only once "aborted" has been skipped.
      assertThat(ids(pollUntil(consumer, r -> ids(r).contains("after")))).containsExactly("after");
    }
  }

  @Test
  void restartOnTheSameDirectoryKeepsTopicsAndRecords() throws Exception {
    Topics topics = new Topics("restart.");
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    Topic<String, TrainingExample> examples = topics.examples();
    try (KafkaProducer<String, TrainingExample> producer =
        new KafkaProducer<>(KAFKA.settings().producer(),
            examples.keySerde().serializer(), examples.valueSerde().serializer())) {
      producer.send(new ProducerRecord<>(examples.name(), "acme", SampleRecords.example("acme", "kept"))).get();
    }

    KAFKA.restart();

    List<ConsumerRecord<String, TrainingExample>> records =
        readUntil(examples, "restart-reader", received -> !received.isEmpty());
    assertThat(records).extracting(r -> r.value().getId()).containsExactly("kept");
  }

  @Test
  void ensureTopicsSaysWhereNoBrokerAnswered() throws IOException {
    int unused;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      unused = socket.getLocalPort();
    }
    KafkaSettings nowhere = KafkaSettings.of("127.0.0.1:" + unused);
    long start = System.nanoTime();

    assertThatThrownBy(() -> TopicAdmin.ensureTopics(nowhere, new Topics(), Duration.ofSeconds(2)))
        .isInstanceOf(KafkaUnavailableException.class)
        .hasMessageContaining("no Kafka broker answered at 127.0.0.1:" + unused + " within 2 s")
        .hasMessageContaining("./lorastream broker");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  private static <K, V> List<ConsumerRecord<K, V>> readUntil(
      Topic<K, V> topic, String group, Predicate<List<ConsumerRecord<K, V>>> done) {
    try (KafkaConsumer<K, V> consumer =
        new KafkaConsumer<>(KAFKA.settings().consumer(group),
            topic.keySerde().deserializer(), topic.valueSerde().deserializer())) {
      consumer.assign(partitions(topic));
      consumer.seekToBeginning(consumer.assignment());
      return pollUntil(consumer, done);
    }
  }

  private static Set<TopicPartition> partitions(Topic<?, ?> topic) {
    return IntStream.range(0, topic.partitions())
        .mapToObj(p -> new TopicPartition(topic.name(), p))
        .collect(Collectors.toSet());
  }

  private static <K, V> List<ConsumerRecord<K, V>> pollUntil(
      KafkaConsumer<K, V> consumer, Predicate<List<ConsumerRecord<K, V>>> done) {
    List<ConsumerRecord<K, V>> received = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!done.test(received) && System.nanoTime() < deadline) {
      received.addAll(poll(consumer, Duration.ofMillis(200)));
    }
    return received;
  }

  private static <K, V> List<ConsumerRecord<K, V>> poll(KafkaConsumer<K, V> consumer, Duration d) {
    List<ConsumerRecord<K, V>> out = new ArrayList<>();
    consumer.poll(d).forEach(out::add);
    return out;
  }

  private static List<String> ids(List<ConsumerRecord<String, TrainingExample>> records) {
    return records.stream().map(r -> r.value().getId()).toList();
  }
}
