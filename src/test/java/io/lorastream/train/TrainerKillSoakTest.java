package io.lorastream.train;

import static io.lorastream.train.TrainerTopics.example;
import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.ExampleLedger;
import io.lorastream.testing.TopicProbe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trainer process killed with SIGKILL at many seeded random moments while examples keep
 * arriving: start-up, joining the group, training, in the middle of a transaction. Every input
 * example is accounted for from what was committed (snapshots and checkpoints): trained exactly
 * once, none lost. The final adapters are bit-identical to those of one trainer that never stopped
 * reading the same input (every step trains one tenant; training is deterministic).
 *
 * <p>The normal suite kills 20 times; a soak runs longer:
 * {@code mvn -o test -Dtest=TrainerKillSoakTest -Dlorastream.soak.kills=200 [-Dlorastream.soak.seed=N]}.
 */
@Tag("slow")
class TrainerKillSoakTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  static Path modelDir;

  /** The trainer processes' logs, one per incarnation, kept for a look after a failed soak. */
  private static final Path LOG_DIR = Path.of("target", "trainer-kill-soak");

  private static final int KILLS = Integer.getInteger("lorastream.soak.kills", 20);
  private static final long SEED = Long.getLong("lorastream.soak.seed", 20261128L);
  private static final int BATCH = 4;
  /** Below the batch size: every step trains one tenant, so runs compare bit for bit. */
  private static final int UNFUSED = 1;
  private static final List<String> TENANTS = List.of("acme", "globex", "initech");
  /**
   * A quarter of the kills come within this long of a trainer's start (start-up and joining the
   * group took 3-25 s here, depending on the machine's load), the others within this long after it
   * published its first snapshot (a step with its transaction took ~0.1-0.4 s).
   */
  private static final int STARTUP_KILL_WINDOW_MS = 6_000;
  private static final int TRAINING_KILL_WINDOW_MS = 1_500;

  @BeforeAll
  static void createModel() throws IOException {
    TinyModelFactory.create(modelDir, 11);
    if (Files.isDirectory(LOG_DIR)) {
      try (Stream<Path> old = Files.list(LOG_DIR)) {
        for (Path log : old.toList()) {
          Files.delete(log);
        }
      }
    }
    Files.createDirectories(LOG_DIR);
  }

  @Test
  void trainerKilledAtRandomMomentsUnderLoadTrainsEveryExampleExactlyOnce() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("soak.");
    TopicAdmin.ensureTopics(kafka, topics);
    Random random = new Random(SEED);

    // Each incarnation gets two rounds of examples: one while it starts, one while it trains.
    int killedWhileTraining = 0;
    int rounds = 0;
    long started = System.nanoTime();
    for (int kill = 0; kill < KILLS; kill++) {
      TrainerProcess trainer = startTrainer(topics, kill);
      TrainerTopics.produce(kafka, topics, round(rounds++));
      if (random.nextInt(4) == 0) {
        // During start-up: loading the model, creating topics, fencing the predecessor, joining, restoring.
        sleep(random.nextInt(STARTUP_KILL_WINDOW_MS));
        TrainerTopics.produce(kafka, topics, round(rounds++));
      } else {
        // While it works through its backlog: training, publishing, committing.
        assertThat(trainer.awaitLog(" - tenant \\S+ v\\d+: ", Duration.ofSeconds(120)))
            .as("trainer %d published", kill).isTrue();
        TrainerTopics.produce(kafka, topics, round(rounds++));
        sleep(random.nextInt(TRAINING_KILL_WINDOW_MS));
      }
      trainer.kill();
      if (trainer.publishesLogged() > 0) {
        killedWhileTraining++;
      }
    }
    long killPhaseSeconds = (System.nanoTime() - started) / 1_000_000_000L;

    long perTenant = (long) rounds * BATCH;
    TrainerProcess last = startTrainer(topics, KILLS);
    List<AdapterSnapshot> snapshots;
    List<AdapterCheckpoint> checkpoints;
    try {
      snapshots = TrainerTopics.snapshotsUntil(kafka, topics, allTenantsSeen(perTenant, AdapterSnapshot::getTenant,
          AdapterSnapshot::getExamplesSeen), Duration.ofSeconds(180));
    } finally {
      last.kill();
    }
    Predicate<List<AdapterCheckpoint>> allCheckpointed = allTenantsSeen(perTenant, AdapterCheckpoint::getTenant,
        AdapterCheckpoint::getExamplesSeen);
    checkpoints = TopicProbe.tenantCheckpoints(TopicProbe.readUntil(kafka, topics.checkpoints().name(),
        records -> allCheckpointed.test(TopicProbe.tenantCheckpoints(records)), Duration.ofSeconds(30)));
    Map<String, List<Long>> inputOffsets = inputOffsets(kafka, topics, (int) perTenant * TENANTS.size());

    ExampleLedger bySnapshots = new ExampleLedger(inputOffsets);
    snapshots.forEach(s -> bySnapshots.record(s.getTenant(), s.getTrainedThrough(), s.getExamplesSeen()));
    ExampleLedger byCheckpoints = new ExampleLedger(inputOffsets);
    checkpoints.forEach(c -> byCheckpoints.record(c.getTenant(), c.getTrainedThrough(), c.getExamplesSeen()));
    System.out.printf("kill soak (seed %d): %d kills over %d s, %d of them after the trainer had published; "
            + "%d examples, %d lost, %d duplicated (snapshots), %d lost, %d duplicated (checkpoints)%n", SEED, KILLS,
        killPhaseSeconds, killedWhileTraining, bySnapshots.examples(), bySnapshots.lost(), bySnapshots.duplicated(),
        byCheckpoints.lost(), byCheckpoints.duplicated());

    for (ExampleLedger ledger : List.of(bySnapshots, byCheckpoints)) {
      assertThat(ledger.examples()).isEqualTo(perTenant * TENANTS.size());
      assertThat(ledger.inconsistencies()).isEmpty();
      assertThat(ledger.lost()).isZero();
      assertThat(ledger.duplicated()).isZero();
    }
    // Every step published (no holdout, canary off): versions 1, 2, ... each one micro-batch further.
    for (String tenant : TENANTS) {
      List<AdapterSnapshot> versions = snapshots.stream().filter(s -> s.getTenant().equals(tenant)).toList();
      assertThat(versions).extracting(AdapterSnapshot::getVersion)
          .containsExactlyElementsOf(sequence(perTenant / BATCH, 1));
      assertThat(versions).extracting(AdapterSnapshot::getExamplesSeen)
          .containsExactlyElementsOf(sequence(perTenant / BATCH, BATCH));
    }
    // Most kills hit a trainer in the middle of its work.
    assertThat(killedWhileTraining).isGreaterThanOrEqualTo(KILLS / 2);

    Map<String, AdapterSnapshot> straight = uninterrupted(kafka, topics, perTenant);
    for (String tenant : TENANTS) {
      AdapterSnapshot killed = TrainerTopics.last(snapshots.stream().filter(s -> s.getTenant().equals(tenant)).toList());
      assertThat(killed.getWeightsSha256()).as(tenant).isEqualTo(straight.get(tenant).getWeightsSha256());
      assertThat(killed.getTrainedThrough()).as(tenant).isEqualTo(straight.get(tenant).getTrainedThrough());
    }
  }

  /** Round {@code r}: one full micro-batch of each tenant, deterministic from r. */
  private static List<TrainingExample> round(int r) {
    List<TrainingExample> examples = new ArrayList<>();
    for (int i = 0; i < BATCH; i++) {
      int n = r * BATCH + i;
      for (String tenant : TENANTS) {
        examples.add(example(tenant, tenant + "-" + n, "Question " + n + " for " + tenant + "?\nAnswer:",
            " answer " + (n * 7 % 5) + ".", false));
      }
    }
    return examples;
  }

  /** Static membership: a restarted trainer takes its killed predecessor's place without waiting for its session to expire. */
  private TrainerProcess startTrainer(Topics topics, int incarnation) {
    return TrainerProcess.start(KAFKA.bootstrapServers(), topics, modelDir, "soak-0", BATCH, UNFUSED,
        LOG_DIR.resolve("trainer-" + incarnation + ".log"), "--kafka-property", "group.instance.id=soak-0");
  }

  /** The same input topic read by one in-process trainer that never stops, publishing elsewhere. */
  private static Map<String, AdapterSnapshot> uninterrupted(KafkaSettings kafka, Topics input, long perTenant) {
    Topics output = new Topics("soak.straight.");
    TopicAdmin.ensureTopics(kafka, output);
    TrainerSettings settings = TrainerSettings.defaults().withInstanceId("straight").withGroupId("soak.straight.trainer")
        .withBatching(BATCH, Duration.ofMinutes(10))
        .withGate(new TrainerSettings.Gate(0.10, TrainerSettings.Gate.DEFAULT_HOLDOUT_MIN_MARGIN, Double.POSITIVE_INFINITY, 2))
        .withMaxFusedRows(UNFUSED);
    try (BaseModel base = BaseModel.load(modelDir);
        ContinualTrainer trainer = new ContinualTrainer(base, kafka, output, input.cleanExamples().name(), settings,
            Metrics.create()).start()) {
      Map<String, AdapterSnapshot> last = new HashMap<>();
      TrainerTopics.snapshotsUntil(kafka, output, allTenantsSeen(perTenant, AdapterSnapshot::getTenant,
          AdapterSnapshot::getExamplesSeen), Duration.ofSeconds(120)).forEach(s -> last.put(s.getTenant(), s));
      return last;
    }
  }

  private static Map<String, List<Long>> inputOffsets(KafkaSettings kafka, Topics topics, int total) {
    Map<String, List<Long>> offsets = new HashMap<>();
    List<ConsumerRecord<String, byte[]>> records = TopicProbe.readUntil(kafka, topics.cleanExamples().name(),
        rs -> rs.size() >= total, Duration.ofSeconds(30));
    assertThat(records).hasSize(total);
    for (ConsumerRecord<String, byte[]> r : records) {
      offsets.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.offset());
    }
    return offsets;
  }

  private static <T> Predicate<List<T>> allTenantsSeen(long perTenant, Function<T, String> tenant,
      ToLongFunction<T> seen) {
    return list -> TENANTS.stream().allMatch(t -> list.stream()
        .anyMatch(x -> tenant.apply(x).equals(t) && seen.applyAsLong(x) == perTenant));
  }

  private static List<Long> sequence(long length, long step) {
    List<Long> values = new ArrayList<>();
    for (long i = 1; i <= length; i++) {
      values.add(i * step);
    }
    return values;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
