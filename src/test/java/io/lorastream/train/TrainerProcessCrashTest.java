package io.lorastream.train;

import static io.lorastream.train.TrainerTopics.example;
import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.contract.Bytes;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.TopicProbe;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trainers as separate JVM processes, killed with SIGKILL while examples stream in: every example
 * is trained exactly once and the adapters end bit-identical to an uninterrupted run (steps of one
 * tenant each), or equal to float rounding with fused steps, whose tenant groups depend on timing.
 */
@Tag("slow")
class TrainerProcessCrashTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  static Path modelDir;

  @TempDir
  static Path logDir;

  private static final int BATCH = 4;
  /** Below the batch size: every step trains one tenant, so runs are comparable bit for bit. */
  private static final int UNFUSED = 1;
  private static final int FUSED = 64;

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(modelDir, 11);
  }

  @Test
  void killedTrainerRestartsWithoutLosingOrRepeatingExamples() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics crashed = new Topics("crash.");
    TopicAdmin.ensureTopics(kafka, crashed);
    List<TrainingExample> examples = examples(List.of("acme", "globex"), 24);
    Random random = new Random(7);

    TrainerProcess trainer = startTrainer(crashed, "crash-0", UNFUSED);
    int sent = 0;
    for (int kill = 0; kill < 3; kill++) {
      int upTo = sent + 12;
      TrainerTopics.produce(kafka, crashed, examples.subList(sent, upTo));
      sent = upTo;
      Thread.sleep(2_000 + random.nextInt(4_000));
      trainer.kill();
      trainer = startTrainer(crashed, "crash-0", UNFUSED);
    }
    TrainerTopics.produce(kafka, crashed, examples.subList(sent, examples.size()));
    try {
      assertTrainedExactlyOnce(kafka, crashed, examples, Map.of("acme", 24L, "globex", 24L), UNFUSED);
    } finally {
      trainer.kill();
    }
  }

  @Test
  void survivorTakesOverTheTenantsOfAKilledTrainer() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics shared = new Topics("shared.");
    TopicAdmin.ensureTopics(kafka, shared);
    List<String> tenants = List.of("acme", "globex", "initech", "umbrella");
    List<TrainingExample> examples = examples(tenants, 12);
    Random random = new Random(11);

    TrainerProcess first = startTrainer(shared, "pair-0", FUSED);
    TrainerProcess second = startTrainer(shared, "pair-1", FUSED);
    try {
      TrainerTopics.produce(kafka, shared, examples.subList(0, 24));
      Thread.sleep(3_000 + random.nextInt(3_000));
      second.kill();
      TrainerTopics.produce(kafka, shared, examples.subList(24, examples.size()));
      Map<String, Long> expected = tenants.stream().collect(Collectors.toMap(t -> t, t -> 12L));
      assertTrainedExactlyOnce(kafka, shared, examples, expected, FUSED);
    } finally {
      first.kill();
      second.kill();
    }
  }

  /** Round robin over tenants, {@code perTenant} each, so batches are full: perTenant is a multiple of BATCH. */
  private static List<TrainingExample> examples(List<String> tenants, int perTenant) {
    List<TrainingExample> list = new ArrayList<>();
    for (int i = 0; i < perTenant; i++) {
      for (String tenant : tenants) {
        list.add(example(tenant, tenant + "-" + i, "Question " + i + " for " + tenant + "?\nAnswer:",
            " answer " + (i * 7 % 5) + ".", false));
      }
    }
    return list;
  }

  private void assertTrainedExactlyOnce(KafkaSettings kafka, Topics topics, List<TrainingExample> examples,
      Map<String, Long> expectedSeen, int maxFusedRows) {
    List<AdapterSnapshot> snapshots = TrainerTopics.snapshotsUntil(kafka, topics, s -> expectedSeen.entrySet().stream()
        .allMatch(e -> s.stream().anyMatch(x -> x.getTenant().equals(e.getKey())
            && x.getExamplesSeen() == e.getValue())), Duration.ofSeconds(120));
    Map<String, AdapterSnapshot> straight = uninterrupted(kafka, topics.prefix() + "straight.", examples,
        expectedSeen, maxFusedRows);
    // Where each tenant's examples ended in the input topic: trained-through must be exactly there.
    Map<String, Long> nextOffset = new HashMap<>();
    for (ConsumerRecord<String, byte[]> r : TopicProbe.readUntil(kafka, topics.cleanExamples().name(),
        rs -> rs.size() >= examples.size(), Duration.ofSeconds(30))) {
      nextOffset.merge(r.key(), r.offset() + 1, Math::max);
    }
    for (String tenant : expectedSeen.keySet()) {
      List<AdapterSnapshot> versions = snapshots.stream().filter(s -> s.getTenant().equals(tenant)).toList();
      AdapterSnapshot last = versions.get(versions.size() - 1);
      assertThat(last.getExamplesSeen()).as(tenant).isEqualTo(expectedSeen.get(tenant));
      if (maxFusedRows < BATCH) {
        assertThat(last.getWeightsSha256()).as(tenant).isEqualTo(straight.get(tenant).getWeightsSha256());
      } else {
        // One step more or less would move weights by up to the learning rate, 5e-3.
        assertThat(maxAbsDifference(last, straight.get(tenant))).as(tenant).isLessThanOrEqualTo(5e-5f);
      }
      assertThat(last.getTrainedThrough()).singleElement()
          .satisfies(t -> assertThat(t.getNextOffset()).as(tenant).isEqualTo(nextOffset.get(tenant)));
      for (int i = 0; i < versions.size(); i++) {
        assertThat(versions.get(i).getVersion()).as(tenant).isEqualTo(i + 1);
        if (i > 0) {
          assertThat(versions.get(i).getExamplesSeen()).as(tenant).isGreaterThan(versions.get(i - 1).getExamplesSeen());
        }
      }
    }
  }

  /** The same examples through one in-process trainer that never stops. */
  private static Map<String, AdapterSnapshot> uninterrupted(KafkaSettings kafka, String prefix,
      List<TrainingExample> examples, Map<String, Long> expectedSeen, int maxFusedRows) {
    Topics topics = new Topics(prefix);
    TopicAdmin.ensureTopics(kafka, topics);
    TrainerTopics.produce(kafka, topics, examples);
    TrainerSettings settings = TrainerSettings.defaults().withInstanceId("straight").withGroupId(prefix + "trainer")
        .withBatching(BATCH, Duration.ofMinutes(10))
        .withGate(new TrainerSettings.Gate(0.10, TrainerSettings.Gate.DEFAULT_HOLDOUT_MIN_MARGIN, Double.POSITIVE_INFINITY, 2))
        .withMaxFusedRows(maxFusedRows);
    try (BaseModel base = BaseModel.load(modelDir);
        ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
            settings, Metrics.create()).start()) {
      List<AdapterSnapshot> all = TrainerTopics.snapshotsUntil(kafka, topics, s -> expectedSeen.entrySet().stream()
          .allMatch(e -> s.stream().anyMatch(x -> x.getTenant().equals(e.getKey())
              && x.getExamplesSeen() == e.getValue())), Duration.ofSeconds(90));
      Map<String, AdapterSnapshot> last = new HashMap<>();
      all.forEach(s -> last.put(s.getTenant(), s));
      return last;
    }
  }

  /** The largest absolute difference between the two snapshots' adapter weights. */
  private static float maxAbsDifference(AdapterSnapshot x, AdapterSnapshot y) {
    LoraConfig config = TrainerSettings.defaults().lora();
    try (BaseModel base = BaseModel.load(modelDir);
        LoraAdapter a = LoraAdapter.fromPeftSafetensors(Bytes.of(x.getWeights()), config, base);
        LoraAdapter b = LoraAdapter.fromPeftSafetensors(Bytes.of(y.getWeights()), config, base)) {
      float max = 0;
      for (int i = 0; i < a.parameters().size(); i++) {
        float[] p = a.parameters().get(i).toFloatArray();
        float[] q = b.parameters().get(i).toFloatArray();
        for (int j = 0; j < p.length; j++) {
          max = Math.max(max, Math.abs(p[j] - q[j]));
        }
      }
      return max;
    }
  }

  private static TrainerProcess startTrainer(Topics topics, String instanceId, int maxFusedRows) {
    return TrainerProcess.start(KAFKA.bootstrapServers(), topics, modelDir, instanceId, BATCH, maxFusedRows,
        logDir.resolve(topics.prefix() + instanceId + ".log"));
  }
}
