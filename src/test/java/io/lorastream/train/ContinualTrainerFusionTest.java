package io.lorastream.train;

import static io.lorastream.train.TrainerTopics.example;
import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.Bytes;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.model.TrainingPair;
import io.lorastream.model.TrainingSettings;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.TopicProbe;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Micro-batches of several tenants ready in one cycle train in fused steps, as if each trained alone. */
class ContinualTrainerFusionTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  static Path modelDir;

  private static BaseModel base;

  private static final int BATCH = 4;

  // Only full micro-batches train (the wait is far longer than the test), so batches are deterministic.
  // q/v adapters: with all-linear ones fused and separate weights differed by up to 1e-3 here, more
  // than the 5e-5 rounding bound below, which is not explained yet (fusion is off by default).
  private static final TrainerSettings SETTINGS = TrainerSettings.defaults().withLora(LoraConfig.defaults())
      .withBatching(BATCH, Duration.ofMinutes(10)).withGate(TrainerSettings.Gate.open()).withMaxFusedRows(64)
      .withRehearsal(0) // the adapters are compared with LoraTrainer steps on the examples alone
      // The rounding bound below is calibrated at lr 5e-3: Adam turns summation-order differences
      // into weight differences that grow with the learning rate (1.8e-4 at the default 7.5e-3).
      .withTraining(TrainingSettings.defaults().withLearningRate(5e-3f));

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(modelDir, 11);
    base = BaseModel.load(modelDir);
  }

  @AfterAll
  static void closeModel() {
    base.close();
  }

  @Test
  void groupsFollowTheBatchOrderWithinTheRowCap() {
    List<MicroBatch> batches = List.of(batch("a", 4), batch("b", 4), batch("c", 2), batch("d", 11), batch("e", 1),
        batch("e", 1), batch("f", 3));
    assertThat(ContinualTrainer.fusedGroups(batches, 10)).extracting(g -> g.stream().map(MicroBatch::tenant).toList())
        .containsExactly(List.of("a", "b", "c"), List.of("d"), List.of("e"), List.of("e", "f"));
    assertThat(ContinualTrainer.fusedGroups(batches, 1)).hasSize(batches.size());
    assertThat(ContinualTrainer.fusedGroups(List.of(), 64)).isEmpty();
  }

  @Test
  void readyTenantsTrainTogetherAndEachEndsAsIfTrainedAlone() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("fused.");
    TopicAdmin.ensureTopics(kafka, topics);
    List<String> tenants = List.of("acme", "globex", "initech", "umbrella");
    List<TrainingExample> examples = roundRobin(tenants, 2 * BATCH);
    Metrics metrics = Metrics.create();
    // Everything is on the topic before the trainer starts: its first cycles find every tenant ready.
    TrainerTopics.produce(kafka, topics, examples);
    Map<String, AdapterSnapshot> newest;
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        SETTINGS.withInstanceId("fused"), metrics).start()) {
      newest = newestOnceSeen(kafka, topics, tenants, 2 * BATCH);
    }

    HistogramSnapshot.HistogramDataPointSnapshot steps =
        metrics.trainerFusedBatchTenants.collect().getDataPoints().get(0);
    assertThat(steps.getSum()).as("tenant steps").isEqualTo(2.0 * tenants.size());
    assertThat(steps.getCount()).as("fused steps, fewer than tenant steps").isLessThan(2L * tenants.size());
    assertThat(metrics.trainerSteps.get()).isEqualTo(2.0 * tenants.size());
    // The cycles' commits were timed.
    HistogramSnapshot.HistogramDataPointSnapshot commits =
        metrics.trainerCommitSeconds.collect().getDataPoints().get(0);
    assertThat(commits.getCount()).isPositive();
    assertThat(commits.getSum()).isPositive();

    for (String tenant : tenants) {
      List<List<TrainingPair>> own = List.of(pairs(tenant, examples, 0), pairs(tenant, examples, 1));
      long seed = SETTINGS.seed() ^ tenant.hashCode();
      try (LoraAdapter separate = LoraAdapter.initialise(base, SETTINGS.lora(), seed);
          LoraTrainer separateTrainer = new LoraTrainer(base, separate, SETTINGS.training());
          LoraAdapter published = LoraAdapter.fromPeftSafetensors(Bytes.of(newest.get(tenant).getWeights()),
              SETTINGS.lora(), base)) {
        for (List<TrainingPair> batch : own) {
          separateTrainer.step(batch);
        }
        // LoraTrainer.step sums in another order; Adam turns that into differences of about 1e-5
        // after two steps, while one step moves weights by up to the learning rate, 5e-3.
        assertThat(maxAbsDifference(published, separate)).as(tenant).isLessThanOrEqualTo(5e-5f);
      }
    }
  }

  @Test
  void groupsOfOneCycleTrainAndAreGatedAtOnceOnTheTrainThreadsAndEachTenantEndsAsIfTrainedAlone() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("threads.");
    TopicAdmin.ensureTopics(kafka, topics);
    List<String> tenants = List.of("acme", "globex", "initech", "umbrella", "hooli", "stark");
    List<TrainingExample> examples = roundRobin(tenants, 2 * BATCH);
    // One tenant per group (the row cap is one batch), so every step is LoraTrainer.step: the
    // weights must equal separate training bit for bit, whichever thread ran which step.
    // The gate checks the canary set (with a margin every candidate passes): each candidate's
    // evaluation runs on the worker that ran its step.
    TrainerSettings settings = SETTINGS.withInstanceId("threads").withMaxFusedRows(BATCH).withTrainThreads(3)
        .withGate(new TrainerSettings.Gate(Double.POSITIVE_INFINITY, 0, 10.0, 2));
    Set<String> gateThreads = ConcurrentHashMap.newKeySet();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger mostAtOnce = new AtomicInteger();
    Set<String> stepThreads = ConcurrentHashMap.newKeySet();
    ContinualTrainer.StepFunction observed = group -> {
      mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
      try {
        stepThreads.add(Thread.currentThread().getName());
        // Long enough that the steps of a cycle's groups overlap when they run at once.
        Thread.sleep(200);
        return ContinualTrainer.fusedStep(group);
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      } finally {
        running.decrementAndGet();
      }
    };
    TrainerTopics.produce(kafka, topics, examples); // every tenant is ready in the first cycles
    Map<String, AdapterSnapshot> newest;
    Metrics metrics = Metrics.create();
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        settings, metrics, observed).observeGate(tenant -> gateThreads.add(Thread.currentThread().getName())).start()) {
      newest = newestOnceSeen(kafka, topics, tenants, 2 * BATCH);
    }

    assertThat(mostAtOnce.get()).as("steps running at once").isEqualTo(3);
    assertThat(stepThreads).allSatisfy(name -> assertThat(name).startsWith("lorastream-trainer-threads-step-"));
    assertThat(gateThreads).as("threads that evaluated candidates").hasSizeGreaterThan(1)
        .allSatisfy(name -> assertThat(name).startsWith("lorastream-trainer-threads-step-"));
    assertThat(metrics.trainerGateSeconds.collect().getDataPoints().get(0).getCount())
        .as("candidates evaluated").isEqualTo(2L * tenants.size());
    assertThat(metrics.trainerSteps.get()).isEqualTo(2.0 * tenants.size());
    for (String tenant : tenants) {
      List<List<TrainingPair>> own = List.of(pairs(tenant, examples, 0), pairs(tenant, examples, 1));
      try (LoraAdapter separate = LoraAdapter.initialise(base, settings.lora(), settings.seed() ^ tenant.hashCode());
          LoraTrainer separateTrainer = new LoraTrainer(base, separate, settings.training());
          LoraAdapter published = LoraAdapter.fromPeftSafetensors(Bytes.of(newest.get(tenant).getWeights()),
              settings.lora(), base)) {
        for (List<TrainingPair> batch : own) {
          separateTrainer.step(batch);
        }
        assertThat(maxAbsDifference(published, separate)).as(tenant).isZero();
      }
    }
    // Each tenant's snapshots came in its steps' order, in the transactions of its cycles.
    Map<String, List<Long>> seen = new HashMap<>();
    TrainerTopics.snapshotsUntil(kafka, topics, s -> s.size() >= 2 * tenants.size(), Duration.ofSeconds(30))
        .forEach(s -> seen.computeIfAbsent(s.getTenant(), t -> new ArrayList<>()).add(s.getExamplesSeen()));
    assertThat(seen).hasSize(tenants.size()).allSatisfy((tenant, counts) ->
        assertThat(counts).as(tenant).containsExactly((long) BATCH, 2L * BATCH));
  }

  @Test
  void aStepTakesTheShareOfTheLearningRateOfItsBatchSizeAndOfTheTenantsExamplesSeen() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("lr-scale.");
    TopicAdmin.ensureTopics(kafka, topics);
    // Three steps of one example each of a batch of 4 (each closes after its wait): sqrt(1/4) of
    // the rate, and from the third on, past the one example after which the rate falls, also
    // sqrt(1 / examples seen).
    TrainerSettings settings = SETTINGS.withInstanceId("lr-scale").withBatching(BATCH, Duration.ofMillis(200))
        .withLearningRateDecay(1);
    List<TrainingExample> examples = roundRobin(List.of("acme"), 3);
    Map<String, AdapterSnapshot> newest = new HashMap<>();
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        settings, Metrics.create()).start()) {
      for (int i = 0; i < examples.size(); i++) {
        TrainerTopics.produce(kafka, topics, List.of(examples.get(i)));
        newest = newestOnceSeen(kafka, topics, List.of("acme"), i + 1);
      }
    }

    float[] scales = {settings.learningRateScale(1, 0), settings.learningRateScale(1, 1),
        settings.learningRateScale(1, 2)};
    assertThat(scales[0]).isEqualTo(0.5f);
    assertThat(scales[1]).isEqualTo(0.5f);
    assertThat(scales[2]).isEqualTo((float) Math.sqrt(0.25 * 0.5));
    List<TrainingPair> pairs = examples.stream()
        .map(e -> new TrainingPair(e.getPrompt(), e.getCompletion(), e.getWeight())).toList();
    try (LoraAdapter published = LoraAdapter.fromPeftSafetensors(Bytes.of(newest.get("acme").getWeights()),
            settings.lora(), base);
        LoraAdapter expected = LoraAdapter.initialise(base, settings.lora(), settings.seed() ^ "acme".hashCode());
        LoraTrainer expectedTrainer = new LoraTrainer(base, expected, settings.training());
        LoraAdapter noDecay = LoraAdapter.initialise(base, settings.lora(), settings.seed() ^ "acme".hashCode());
        LoraTrainer noDecayTrainer = new LoraTrainer(base, noDecay, settings.training());
        LoraAdapter fullRate = LoraAdapter.initialise(base, settings.lora(), settings.seed() ^ "acme".hashCode());
        LoraTrainer fullRateTrainer = new LoraTrainer(base, fullRate, settings.training())) {
      for (int i = 0; i < pairs.size(); i++) {
        expectedTrainer.step(List.of(pairs.get(i)), scales[i]);
        noDecayTrainer.step(List.of(pairs.get(i)), 0.5f);
        fullRateTrainer.step(List.of(pairs.get(i)));
      }
      assertThat(maxAbsDifference(published, expected)).isZero();
      assertThat(maxAbsDifference(published, noDecay)).isGreaterThan(1e-6f);
      assertThat(maxAbsDifference(published, fullRate)).isGreaterThan(1e-4f);
    }
  }

  @Test
  void nonFiniteLossInAFusedStepUndoesOnlyThatTenant() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics withPoison = new Topics("fused-poison.");
    Topics withoutPoison = new Topics("fused-clean.");
    TopicAdmin.ensureTopics(kafka, withPoison);
    TopicAdmin.ensureTopics(kafka, withoutPoison);
    List<String> tenants = List.of("acme", "globex", "initech");
    List<TrainingExample> good = roundRobin(tenants, 2 * BATCH);
    // acme's second micro-batch is poison; the others' batches are the same in both runs.
    List<TrainingExample> poisoned = new ArrayList<>(good.stream().filter(e -> !e.getTenant().equals("acme")).toList());
    List<TrainingExample> acme = good.stream().filter(e -> e.getTenant().equals("acme")).toList();
    poisoned.addAll(acme.subList(0, BATCH));
    for (int i = 0; i < BATCH; i++) {
      poisoned.add(example("acme", "p-" + i, "Poison " + i + "?\nAnswer:", " nan.", false));
    }
    poisoned.addAll(acme.subList(BATCH, 2 * BATCH));
    Metrics metrics = Metrics.create();
    List<Integer> groupSizes = Collections.synchronizedList(new ArrayList<>());
    // The fused step really runs (and moves every tenant's weights) before acme's loss is reported as NaN.
    ContinualTrainer.StepFunction nanOnPoison = group -> {
      groupSizes.add(group.size());
      float[] losses = ContinualTrainer.fusedStep(group);
      for (int i = 0; i < losses.length; i++) {
        if (group.get(i).batch().stream().anyMatch(p -> p.prompt().startsWith("Poison"))) {
          losses[i] = Float.NaN;
        }
      }
      return losses;
    };

    TrainerTopics.produce(kafka, withPoison, poisoned);
    Map<String, AdapterSnapshot> poisonedRun;
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, withPoison, withPoison.cleanExamples().name(),
        SETTINGS.withInstanceId("fused-poison"), metrics, nanOnPoison).start()) {
      poisonedRun = newestOnceSeen(kafka, withPoison, tenants, 2 * BATCH);
    }
    TrainerTopics.produce(kafka, withoutPoison, good);
    Map<String, AdapterSnapshot> cleanRun;
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, withoutPoison,
        withoutPoison.cleanExamples().name(), SETTINGS.withInstanceId("fused-clean"), Metrics.create()).start()) {
      cleanRun = newestOnceSeen(kafka, withoutPoison, tenants, 2 * BATCH);
    }

    assertThat(groupSizes).as("the poison batch was in a fused step").anyMatch(n -> n > 1);
    assertThat(metrics.trainerNonFiniteSteps.get()).isEqualTo(1);
    // Every tenant trained on exactly its good batches (one step more or less would differ by ~5e-3),
    // fused in different groups in the two runs, hence equal to rounding.
    for (String tenant : tenants) {
      assertThat(poisonedRun.get(tenant).getExamplesSeen()).as(tenant).isEqualTo(2 * BATCH);
      try (LoraAdapter poisonedWeights = LoraAdapter.fromPeftSafetensors(
              Bytes.of(poisonedRun.get(tenant).getWeights()), SETTINGS.lora(), base);
          LoraAdapter cleanWeights = LoraAdapter.fromPeftSafetensors(
              Bytes.of(cleanRun.get(tenant).getWeights()), SETTINGS.lora(), base)) {
        assertThat(maxAbsDifference(poisonedWeights, cleanWeights)).as(tenant).isLessThanOrEqualTo(5e-5f);
      }
    }
    List<ConsumerRecord<String, byte[]>> dead = TopicProbe.readUntil(kafka, withPoison.dlq().name(),
        r -> r.size() >= BATCH, Duration.ofSeconds(30));
    assertThat(dead).hasSize(BATCH).allSatisfy(r -> {
      assertThat(r.key()).isEqualTo("acme");
      assertThat(new String(r.headers().lastHeader("lorastream.error").value(), StandardCharsets.UTF_8))
          .startsWith("non-finite-loss");
    });
  }

  /** {@code perTenant} examples of each tenant, interleaved. */
  private static List<TrainingExample> roundRobin(List<String> tenants, int perTenant) {
    List<TrainingExample> list = new ArrayList<>();
    for (int i = 0; i < perTenant; i++) {
      for (String tenant : tenants) {
        list.add(example(tenant, tenant + "-" + i, "Question " + i + " for " + tenant + "?\nAnswer:",
            " answer " + (i * 7 % 5) + " from " + tenant + ".", false));
      }
    }
    return list;
  }

  /** Each tenant's newest snapshot, once every tenant published one that saw {@code seen} examples. */
  private static Map<String, AdapterSnapshot> newestOnceSeen(KafkaSettings kafka, Topics topics, List<String> tenants,
      long seen) {
    Predicate<List<AdapterSnapshot>> done = s -> tenants.stream()
        .allMatch(t -> s.stream().anyMatch(x -> x.getTenant().equals(t) && x.getExamplesSeen() == seen));
    Map<String, AdapterSnapshot> newest = new HashMap<>();
    TrainerTopics.snapshotsUntil(kafka, topics, done, Duration.ofSeconds(90)).forEach(s -> newest.put(s.getTenant(), s));
    return newest;
  }

  /** The tenant's {@code n}-th micro-batch of {@code examples} as training pairs. */
  private static List<TrainingPair> pairs(String tenant, List<TrainingExample> examples, int n) {
    return examples.stream().filter(e -> e.getTenant().equals(tenant)).skip((long) n * BATCH).limit(BATCH)
        .map(e -> new TrainingPair(e.getPrompt(), e.getCompletion(), e.getWeight())).toList();
  }

  private static MicroBatch batch(String tenant, int size) {
    List<PendingExample> examples = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      examples.add(new PendingExample(new TopicPartition("t", 0), i, example(tenant, tenant + i, "q", " a", false), 0));
    }
    return new MicroBatch(tenant, examples);
  }

  private static float maxAbsDifference(LoraAdapter x, LoraAdapter y) {
    float max = 0;
    for (int i = 0; i < x.parameters().size(); i++) {
      float[] a = x.parameters().get(i).toFloatArray();
      float[] b = y.parameters().get(i).toFloatArray();
      for (int j = 0; j < a.length; j++) {
        max = Math.max(max, Math.abs(a[j] - b[j]));
      }
    }
    return max;
  }
}
