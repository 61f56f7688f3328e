package io.lorastream;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Splits;
import io.lorastream.gateway.ApiKeys;
import io.lorastream.gateway.Gateway;
import io.lorastream.gateway.GatewaySettings;
import io.lorastream.ingest.IngestService;
import io.lorastream.ingest.IngestSettings;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.ExampleLedger;
import io.lorastream.testing.TopicProbe;
import io.lorastream.train.ContinualTrainer;
import io.lorastream.train.TrainerSettings;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.ToLongFunction;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker stops for a while and comes back while examples keep arriving; ingest, trainer and
 * gateway run on without being restarted. Meanwhile the gateway answers with its last good adapters
 * and {@code /readyz} says it is degraded; afterwards ingest and the trainer carry on, every example
 * sent is trained exactly once (accounted from the committed snapshots and checkpoints) and the
 * gateway serves the newest version again.
 */
class BrokerOutageTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  private static final String KEY = "ls-outage-admin";
  private static final List<String> TENANTS = List.of("acme", "globex");
  private static final Duration OUTAGE = Duration.ofSeconds(10);
  /** The load: one example every this many ms, tenants in turn. */
  private static final long SEND_EVERY_MS = 100;

  @TempDir
  Path modelDir;

  @TempDir
  Path ingestState;

  @Test
  void ingestTrainerAndGatewayRideOutABrokerOutageWithoutLosingOrRepeatingExamples() throws Exception {
    TinyModelFactory.create(modelDir, 5);
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("outage.");
    TopicAdmin.ensureTopics(kafka, topics);
    Metrics metrics = Metrics.create();
    TrainerSettings trainerSettings = TrainerSettings.defaults().withInstanceId("outage-0")
        .withBatching(4, Duration.ofMillis(300)).withGate(TrainerSettings.Gate.open());
    IngestSettings ingestSettings = IngestSettings.defaults().withApplicationId("outage-ingest");

    // Short client timeouts: the outage outlasts them, so the trainer's calls fail and it must recover.
    KafkaSettings impatient = new KafkaSettings(kafka.bootstrapServers(), Map.of("max.block.ms", "3000",
        "default.api.timeout.ms", "5000", "request.timeout.ms", "3000", "delivery.timeout.ms", "6000"));

    try (BaseModel base = BaseModel.load(modelDir);
        IngestService ingest = IngestService.start(kafka, topics, ingestSettings, metrics, ingestState);
        ContinualTrainer trainer = new ContinualTrainer(base, impatient, topics, topics.cleanExamples().name(),
            trainerSettings, metrics).start();
        Gateway gateway = Gateway.start(base, kafka, topics, GatewaySettings.defaults().withPort(0),
            ApiKeys.of(List.of(ApiKeys.entry("ops", null, KEY))), metrics);
        Load load = new Load(kafka, topics)) {
      assertThat(gateway.awaitReady(Duration.ofSeconds(60))).isTrue();
      await("acme served before the outage", Duration.ofSeconds(90),
          () -> servedVersion(gateway, "acme") > 0);

      // A burst, so the broker goes away while the trainer is working through a backlog.
      double steps = metrics.trainerSteps.get();
      load.burst(60);
      await("the trainer busy with the burst", Duration.ofSeconds(60), () -> metrics.trainerSteps.get() >= steps + 3);
      KAFKA.stop();
      // Snapshots the follower fetched just before the stop may still be verified and applied.
      long servedAtStop = settledVersion(gateway, "acme", Duration.ofSeconds(2));
      Set<String> readiness = new HashSet<>();
      long outageEnd = System.nanoTime() + OUTAGE.toNanos();
      while (System.nanoTime() < outageEnd) {
        // The last good adapter keeps answering; readiness stays 200 but says what is missing.
        assertThat(completionVersion(gateway, "acme")).isEqualTo(servedAtStop);
        HttpResponse<String> ready = get(gateway, "/readyz");
        assertThat(ready.statusCode()).isEqualTo(200);
        JsonObject body = new JsonObject(ready.body());
        readiness.add(body.getString("status") + "/" + body.getString("kafka"));
        Thread.sleep(500);
      }
      assertThat(readiness).contains("degraded/unreachable");
      KAFKA.restart();

      Thread.sleep(5_000);
      int sent = load.stop();
      assertThat(load.failures()).as("examples the producer could not deliver").isZero();

      // Ingest passes every example on (no duplicate ids, all valid), in the tenant's order.
      List<ConsumerRecord<String, byte[]>> clean = TopicProbe.readUntil(kafka, topics.cleanExamples().name(),
          records -> records.size() >= sent, Duration.ofSeconds(90));
      assertThat(clean).hasSize(sent);
      assertThat(ingest.state()).isEqualTo(KafkaStreams.State.RUNNING);
      Map<String, List<Long>> trainOffsets = new HashMap<>();
      TENANTS.forEach(t -> trainOffsets.put(t, new ArrayList<>()));
      for (ConsumerRecord<String, byte[]> r : clean) {
        if (!Splits.isHoldout(AvroCodec.TRAINING_EXAMPLE.decode(r.value()))) {
          trainOffsets.get(r.key()).add(r.offset());
        }
      }

      // The trainer, never restarted, trains everything exactly once.
      Map<String, Long> expected = new HashMap<>();
      trainOffsets.forEach((t, offsets) -> expected.put(t, (long) offsets.size()));
      List<AdapterSnapshot> snapshots = TopicProbe.readUntil(kafka, topics.adapters().name(),
          records -> allSeen(decode(records, AvroCodec.ADAPTER_SNAPSHOT::decode), expected,
              AdapterSnapshot::getTenant, AdapterSnapshot::getExamplesSeen), Duration.ofSeconds(120))
          .stream().map(r -> AvroCodec.ADAPTER_SNAPSHOT.decode(r.value())).toList();
      List<AdapterCheckpoint> checkpoints = TopicProbe.tenantCheckpoints(TopicProbe.readUntil(kafka,
          topics.checkpoints().name(), records -> allSeen(TopicProbe.tenantCheckpoints(records), expected,
              AdapterCheckpoint::getTenant, AdapterCheckpoint::getExamplesSeen), Duration.ofSeconds(30)));
      ExampleLedger bySnapshots = new ExampleLedger(trainOffsets);
      snapshots.forEach(s -> bySnapshots.record(s.getTenant(), s.getTrainedThrough(), s.getExamplesSeen()));
      ExampleLedger byCheckpoints = new ExampleLedger(trainOffsets);
      checkpoints.forEach(c -> byCheckpoints.record(c.getTenant(), c.getTrainedThrough(), c.getExamplesSeen()));
      System.out.printf("broker outage of %d s: %d examples sent, %d trained: %d lost, %d duplicated (snapshots), "
              + "%d lost, %d duplicated (checkpoints)%n", OUTAGE.toSeconds(), sent, bySnapshots.examples(),
          bySnapshots.lost(), bySnapshots.duplicated(), byCheckpoints.lost(), byCheckpoints.duplicated());
      for (ExampleLedger ledger : List.of(bySnapshots, byCheckpoints)) {
        assertThat(ledger.inconsistencies()).isEmpty();
        assertThat(ledger.lost()).isZero();
        assertThat(ledger.duplicated()).isZero();
      }

      // The gateway follows the adapters topic again and serves the newest version.
      long newest = snapshots.stream().filter(s -> s.getTenant().equals("acme"))
          .mapToLong(AdapterSnapshot::getVersion).max().orElseThrow();
      await("the gateway serves acme v" + newest, Duration.ofSeconds(60),
          () -> servedVersion(gateway, "acme") == newest);
      assertThat(completionVersion(gateway, "acme")).isEqualTo(newest);
      await("readiness back to ready", Duration.ofSeconds(30),
          () -> new JsonObject(get(gateway, "/readyz").body()).getString("status").equals("ready"));
    }
  }

  /** Sends examples of the tenants in turn, each with a new id, until stopped; counts what failed. */
  private static final class Load implements AutoCloseable {
    private final KafkaProducer<String, byte[]> producer;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger sent = new AtomicInteger();
    private final AtomicInteger failures = new AtomicInteger();
    private final Thread thread;
    private final String topic;

    Load(KafkaSettings kafka, Topics topics) {
      topic = topics.examples().name();
      producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(), new ByteArraySerializer());
      thread = new Thread(() -> {
        for (int n = 0; running.get(); n++) {
          String tenant = TENANTS.get(n % TENANTS.size());
          send(tenant + "-" + n, tenant);
          try {
            Thread.sleep(SEND_EVERY_MS);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "outage-load");
      thread.start();
    }

    /** Sends {@code count} examples at once, besides the steady load. */
    void burst(int count) {
      for (int i = 0; i < count; i++) {
        send("burst-" + i, TENANTS.get(i % TENANTS.size()));
      }
    }

    private void send(String id, String tenant) {
      TrainingExample example = TrainingExample.newBuilder().setId(id).setTenant(tenant)
          .setPrompt("Question " + id + "?\nAnswer:").setCompletion(" answer " + id.length() % 7 + ".").setWeight(1f)
          .setEventTime(Instant.now()).setMetadata(Map.of()).build();
      producer.send(new ProducerRecord<>(topic, tenant, AvroCodec.TRAINING_EXAMPLE.encode(example)),
          (metadata, error) -> {
            if (error != null) {
              failures.incrementAndGet();
            }
          });
      sent.incrementAndGet();
    }

    /** Stops sending, waits until everything sent is acknowledged (or failed); returns how many were sent. */
    int stop() throws InterruptedException {
      running.set(false);
      thread.join();
      producer.flush();
      return sent.get();
    }

    int failures() {
      return failures.get();
    }

    @Override
    public void close() throws InterruptedException {
      stop();
      producer.close();
    }
  }

  private static <T> List<T> decode(List<ConsumerRecord<String, byte[]>> records, Function<byte[], T> decoder) {
    return records.stream().map(r -> decoder.apply(r.value())).toList();
  }

  private static <T> boolean allSeen(List<T> records, Map<String, Long> expected, Function<T, String> tenant,
      ToLongFunction<T> seen) {
    return expected.entrySet().stream().allMatch(e -> records.stream()
        .anyMatch(r -> tenant.apply(r).equals(e.getKey()) && seen.applyAsLong(r) == e.getValue()));
  }

  @FunctionalInterface
  private interface Condition {
    boolean holds() throws Exception;
  }

  private static void await(String what, Duration timeout, Condition condition) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.holds()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      }
      Thread.sleep(100);
    }
  }

  private static long completionVersion(Gateway gateway, String model) throws Exception {
    HttpResponse<String> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1/completions"))
            .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("model", model).put("prompt", "Hi")
                .put("max_tokens", 2).encode()))
            .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return new JsonObject(response.body()).getJsonObject("adapter").getLong("version");
  }

  /** The tenant's version in {@code GET /v1/models}; 0 while the gateway serves none. */
  /** The served version once it has not changed for {@code quiet}. */
  private static long settledVersion(Gateway gateway, String tenant, Duration quiet) throws Exception {
    long version = servedVersion(gateway, tenant);
    long since = System.nanoTime();
    while (System.nanoTime() - since < quiet.toNanos()) {
      Thread.sleep(100);
      long now = servedVersion(gateway, tenant);
      if (now != version) {
        version = now;
        since = System.nanoTime();
      }
    }
    return version;
  }

  private static long servedVersion(Gateway gateway, String tenant) throws Exception {
    JsonArray models = new JsonObject(get(gateway, "/v1/models").body()).getJsonArray("data");
    for (int i = 0; i < models.size(); i++) {
      JsonObject model = models.getJsonObject(i);
      if (model.getString("id").equals(tenant)) {
        return model.getLong("version");
      }
    }
    return 0;
  }

  private static HttpResponse<String> get(Gateway gateway, String path) throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path))
            .header("Authorization", "Bearer " + KEY).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
