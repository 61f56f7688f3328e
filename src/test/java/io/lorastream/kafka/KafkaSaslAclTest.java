package io.lorastream.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import io.lorastream.testing.LogCapture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker with SASL/PLAIN and ACLs: lorastream's clients authenticate with credentials passed
 * through {@link KafkaSettings}, reach what ACLs grant, are refused with an authorization error
 * where none does, and no password reaches the logs.
 */
class KafkaSaslAclTest {
  static final String ADMIN_PASSWORD = "admin-pw-7f3a9c";
  static final String ALICE_PASSWORD = "alice-pw-51d2e8";
  static final String MALLORY_PASSWORD = "mallory-pw-c09b44";

  @TempDir
  static Path dataDir;
  static EmbeddedKafkaBroker broker;
  static LogCapture logs;
  static final Topics topics = new Topics("secure.");

  @BeforeAll
  static void start() {
    logs = LogCapture.start(Map.of("org.apache.kafka", Level.INFO, "kafka", Level.INFO, "io.lorastream", Level.DEBUG));
    broker = EmbeddedKafkaBroker.startWithSasl(dataDir, 0, new EmbeddedKafkaBroker.SaslUsers(
        Map.of("admin", ADMIN_PASSWORD, "alice", ALICE_PASSWORD, "mallory", MALLORY_PASSWORD), "admin"));
    // The super user creates lorastream's topics and lets alice use the examples topic and her group.
    KafkaSettings admin = broker.settingsFor("admin", ADMIN_PASSWORD);
    TopicAdmin.ensureTopics(admin, topics);
    try (Admin client = Admin.create(admin.admin())) {
      ResourcePattern examples = new ResourcePattern(ResourceType.TOPIC, topics.examples().name(), PatternType.LITERAL);
      ResourcePattern group = new ResourcePattern(ResourceType.GROUP, "alice-", PatternType.PREFIXED);
      List<AclBinding> acls = new ArrayList<>();
      for (AclOperation op : List.of(AclOperation.WRITE, AclOperation.READ, AclOperation.DESCRIBE)) {
        acls.add(new AclBinding(examples, new AccessControlEntry("User:alice", "*", op, AclPermissionType.ALLOW)));
      }
      acls.add(new AclBinding(group, new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW)));
      client.createAcls(acls).all().get();
      // ACLs reach the broker's authorizer through the metadata log, a moment after the call
      // returns: wait until the broker lists them, or the first tests race the propagation.
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (client.describeAcls(AclBindingFilter.ANY).values().get().size() < acls.size()) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the broker did not list the new ACLs within 30 s");
        }
        Thread.sleep(100);
      }
    } catch (InterruptedException | ExecutionException e) {
      throw new IllegalStateException(e);
    }
  }

  @AfterAll
  static void stop() {
    if (broker != null) {
      broker.close();
    }
    logs.close();
  }

  @Test
  void userWithAclsProducesAndConsumesThroughKafkaSettings() throws Exception {
    KafkaSettings alice = broker.settingsFor("alice", ALICE_PASSWORD);
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(alice.producer(), new StringSerializer(), new StringSerializer())) {
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme", "hello")).get();
    }
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(alice.consumer("alice-readers"), new StringDeserializer(), new StringDeserializer())) {
      consumer.subscribe(List.of(topics.examples().name()));
      List<ConsumerRecord<String, String>> read = new ArrayList<>();
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (read.isEmpty() && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(read::add);
      }
      assertThat(read).extracting(ConsumerRecord::value).containsExactly("hello");
    }
  }

  @Test
  void userWithoutAclsIsRefusedWithAnAuthorizationError() {
    KafkaSettings mallory = broker.settingsFor("mallory", MALLORY_PASSWORD);
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(withShortTimeouts(mallory.producer()), new StringSerializer(), new StringSerializer())) {
      assertThatThrownBy(() -> producer.send(new ProducerRecord<>(topics.examples().name(), "acme", "x")).get())
          .hasCauseInstanceOf(TopicAuthorizationException.class);
    }
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(mallory.consumer("alice-readers"),
        new StringDeserializer(), new StringDeserializer())) {
      consumer.subscribe(List.of(topics.examples().name()));
      assertThatThrownBy(() -> consumer.poll(Duration.ofSeconds(10)))
          .isInstanceOfAny(GroupAuthorizationException.class, TopicAuthorizationException.class);
    }
    // alice's rights stop at the examples topic: the adapters topic is not hers.
    KafkaSettings alice = broker.settingsFor("alice", ALICE_PASSWORD);
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(withShortTimeouts(alice.producer()), new StringSerializer(), new StringSerializer())) {
      assertThatThrownBy(() -> producer.send(new ProducerRecord<>(topics.adapters().name(), "acme", "x")).get())
          .hasCauseInstanceOf(TopicAuthorizationException.class);
    }
  }

  @Test
  void wrongPasswordFailsAuthentication() {
    KafkaSettings impostor = broker.settingsFor("alice", "not-alices-password");
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(withShortTimeouts(impostor.producer()), new StringSerializer(), new StringSerializer())) {
      assertThatThrownBy(() -> producer.send(new ProducerRecord<>(topics.examples().name(), "acme", "x")).get())
          .hasCauseInstanceOf(SaslAuthenticationException.class);
    }
  }

  @Test
  void passwordsAppearNeitherInLogsNorInSettingsNorOnDisk() throws Exception {
    KafkaSettings alice = broker.settingsFor("alice", ALICE_PASSWORD);
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(alice.producer(), new StringSerializer(), new StringSerializer())) {
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme", "logged?")).get();
    }
    assertThat(logs.events()).as("client configs were logged and inspected").isPositive();
    assertThat(logs.text()).doesNotContain(ADMIN_PASSWORD, ALICE_PASSWORD, MALLORY_PASSWORD);
    assertThat(alice.toString()).doesNotContain(ALICE_PASSWORD);
    try (Stream<Path> files = Files.walk(dataDir)) {
      for (Path file : files.filter(Files::isRegularFile).filter(f -> f.toString().endsWith(".properties")).toList()) {
        assertThat(Files.readString(file, StandardCharsets.ISO_8859_1)).as("%s", file)
            .doesNotContain(ADMIN_PASSWORD, ALICE_PASSWORD);
      }
    }
  }

  private static Map<String, Object> withShortTimeouts(Map<String, Object> config) {
    config.put("max.block.ms", 15_000);
    config.put("delivery.timeout.ms", 15_000);
    config.put("request.timeout.ms", 10_000);
    return config;
  }
}
