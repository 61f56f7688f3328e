package io.lorastream.train;

import static io.lorastream.train.TrainerTopics.example;
import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.KeptVersion;
import io.lorastream.avro.KeptVersionInfo;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Bytes;
import io.lorastream.contract.Sha256;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.model.TrainingPair;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.TopicProbe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The quality gate, rollbacks and non-finite steps, on a real broker with in-process trainers. */
class ContinualTrainerQualityTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  static Path modelDir;

  private static BaseModel base;

  // Only full micro-batches train (the wait is far longer than the test), so batches are deterministic.
  private static final TrainerSettings SETTINGS =
      TrainerSettings.defaults().withBatching(2, Duration.ofMinutes(10)).withGate(TrainerSettings.Gate.open())
      .withRehearsal(0); // the adapters are compared with LoraTrainer steps on the examples alone

  private static final String PROMPT = "Question: How long is the refund window?\nAnswer:";

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
  void contradictoryBurstAfterALearnedFactIsNotPublished() {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("gate.");
    TopicAdmin.ensureTopics(kafka, topics);
    Metrics metrics = Metrics.create();
    // The canary check is off here: a tiny random base model has no general skill worth guarding.
    // A high learning rate learns the fact within a few steps, so one contradicting step stands out;
    // at this rate q/v adapters learn smoothly, while all-linear ones overshoot on the random base.
    TrainerSettings settings = SETTINGS.withBatching(4, Duration.ofMinutes(10)).withLora(LoraConfig.defaults())
        .withTraining(SETTINGS.training().withLearningRate(0.01f))
        .withGate(new TrainerSettings.Gate(0.10, TrainerSettings.Gate.DEFAULT_HOLDOUT_MIN_MARGIN, Double.POSITIVE_INFINITY, 2));
    List<TrainingExample> fact = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      fact.add(example("acme", "h-" + i, PROMPT, " 30 days.", true));
    }
    for (int i = 0; i < 40; i++) {
      fact.add(example("acme", "f-" + i, PROMPT, " 30 days.", false));
    }
    List<TrainingExample> garbage = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      garbage.add(example("acme", "g-" + i, PROMPT, " never, call 555 0199 at midnight.", false));
    }

    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        settings.withInstanceId("gate"), metrics).start()) {
      TrainerTopics.produce(kafka, topics, fact);
      AdapterSnapshot learned = TrainerTopics.last(TrainerTopics.snapshotsUntilSeen(kafka, topics, 40));
      assertThat(learned.getHoldoutLoss()).isLessThan(learned.getBaseHoldoutLoss() / 2);
      double gatedBefore = metrics.snapshotsGated.labelValues("holdout").get();

      TrainerTopics.produce(kafka, topics, garbage);
      List<AdapterCheckpoint> checkpoints = TrainerTopics.checkpointsUntilSeen(kafka, topics, 56);
      AdapterCheckpoint newest = checkpoints.get(checkpoints.size() - 1);
      List<AdapterSnapshot> published = TrainerTopics.snapshotsUntilSeen(kafka, topics, 40);

      // Training went on (the checkpoint has all 56 examples), publishing did not.
      assertThat(newest.getExamplesSeen()).isEqualTo(56);
      assertThat(newest.getPublishedVersion()).isEqualTo(learned.getVersion());
      assertThat(TrainerTopics.last(published).getVersion()).isEqualTo(learned.getVersion());
      assertThat(metrics.snapshotsGated.labelValues("holdout").get() - gatedBefore).isEqualTo(4);
      // The holdout set is part of the checkpoint, so it survives a restart.
      assertThat(newest.getHoldout()).extracting(h -> h.getId()).containsExactly("h-0", "h-1", "h-2", "h-3");
      // A step that published names the version's record for its weights instead of writing them
      // again; a withheld candidate's checkpoint carries its own.
      assertThat(checkpoints).filteredOn(c -> c.getWeightsVersion() != null).isNotEmpty()
          .allSatisfy(c -> {
            assertThat(c.getWeightsVersion()).isEqualTo(c.getPublishedVersion());
            assertThat(c.getWeights().remaining()).isZero();
          });
      assertThat(newest.getWeightsVersion()).isNull();
      assertThat(newest.getWeights().remaining()).isPositive();
    }
  }

  @Test
  void rollbackRepublishesAnEarlierVersionAndTrainingContinuesFromIt() {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("rollback.");
    TopicAdmin.ensureTopics(kafka, topics);
    List<TrainingExample> first = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      first.add(example("acme", "r-" + i, "Question " + i + "?\nAnswer:", " answer " + i + ".", false));
    }
    List<TrainingExample> more = List.of(
        example("acme", "r-6", "Question 6?\nAnswer:", " answer 6.", false),
        example("acme", "r-7", "Question 7?\nAnswer:", " answer 7.", false));

    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        SETTINGS.withInstanceId("rollback"), Metrics.create()).start()) {
      TrainerTopics.produce(kafka, topics, first);
      List<AdapterSnapshot> v1to3 = TrainerTopics.snapshotsUntilSeen(kafka, topics, 6);
      assertThat(v1to3).extracting(AdapterSnapshot::getVersion).containsExactly(1L, 2L, 3L);
      AdapterSnapshot v1 = v1to3.get(0);

      AdapterControls.send(kafka, topics, AdapterControls.rollback("acme", 1));
      AdapterSnapshot v4 = TrainerTopics.last(TrainerTopics.snapshotsUntil(kafka, topics,
          s -> s.size() >= 4, Duration.ofSeconds(60)));
      assertThat(v4.getVersion()).isEqualTo(4);
      assertThat(v4.getParentVersion()).isEqualTo(1L);
      assertThat(v4.getWeightsSha256()).isEqualTo(v1.getWeightsSha256());
      assertThat(v4.getExamplesSeen()).isEqualTo(6);

      TrainerTopics.produce(kafka, topics, more);
      AdapterSnapshot v5 = TrainerTopics.last(TrainerTopics.snapshotsUntilSeen(kafka, topics, 8));
      assertThat(v5.getVersion()).isEqualTo(5);
      assertThat(v5.getParentVersion()).isEqualTo(4L);
      // From v1's weights with a fresh optimizer, one step on the two new examples.
      LoraConfig config = SETTINGS.lora();
      try (LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(Bytes.of(v1.getWeights()), config, base);
          LoraTrainer expected = new LoraTrainer(base, adapter, SETTINGS.training())) {
        expected.step(more.stream().map(e -> new TrainingPair(e.getPrompt(), e.getCompletion(), e.getWeight()))
            .toList());
        assertThat(v5.getWeightsSha256()).isEqualTo(Sha256.hex(adapter.toPeftSafetensors()));
      }

      // A version the checkpoint no longer (or never) held is refused, to the DLQ with the reason.
      AdapterControls.send(kafka, topics, AdapterControls.rollback("acme", 42));
      List<ConsumerRecord<String, byte[]>> dead = TopicProbe.readUntil(kafka, topics.dlq().name(),
          r -> !r.isEmpty(), Duration.ofSeconds(30));
      assertThat(new String(dead.get(0).headers().lastHeader("lorastream.error").value(), StandardCharsets.UTF_8))
          .startsWith("unknown-version");
    }
  }

  @Test
  void keptVersionsAreTheirOwnRecordsAndARestartedTrainerRollsBackToThem() {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("kept.");
    TopicAdmin.ensureTopics(kafka, topics);
    TrainerSettings settings = SETTINGS.withKeptVersions(2);
    List<TrainingExample> examples = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      examples.add(example("acme", "k-" + i, "Question " + i + "?\nAnswer:", " answer " + i + ".", false));
    }
    List<AdapterSnapshot> v1to4;
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        settings.withInstanceId("kept-1"), Metrics.create()).start()) {
      TrainerTopics.produce(kafka, topics, examples);
      v1to4 = TrainerTopics.snapshotsUntilSeen(kafka, topics, 8);
    }
    assertThat(v1to4).extracting(AdapterSnapshot::getVersion).containsExactly(1L, 2L, 3L, 4L);

    // The checkpoint names the kept versions without their weights; each version's weights were
    // written once under its own key, and the versions no longer kept were tombstoned.
    List<ConsumerRecord<String, byte[]>> records = TopicProbe.readUntil(kafka, topics.checkpoints().name(),
        r -> TopicProbe.tenantCheckpoints(r).stream().anyMatch(c -> c.getExamplesSeen() == 8), Duration.ofSeconds(30));
    List<AdapterCheckpoint> checkpoints = TopicProbe.tenantCheckpoints(records);
    AdapterCheckpoint newest = checkpoints.get(checkpoints.size() - 1);
    assertThat(checkpoints).allSatisfy(c -> assertThat(c.getRecentVersions()).isEmpty());
    assertThat(newest.getKeptVersions()).extracting(KeptVersionInfo::getVersion).containsExactly(3L, 4L);
    assertThat(newest.getKeptVersions().get(1).getWeightsSha256()).isEqualTo(v1to4.get(3).getWeightsSha256());
    Map<String, List<byte[]>> versionRecords = new LinkedHashMap<>();
    records.stream().filter(r -> Topics.isKeptVersionKey(r.key()))
        .forEach(r -> versionRecords.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.value()));
    assertThat(versionRecords.keySet()).containsExactlyInAnyOrder("acme@v1", "acme@v2", "acme@v3", "acme@v4");
    assertThat(versionRecords.get("acme@v1")).hasSize(2).last().isNull();
    assertThat(versionRecords.get("acme@v2")).hasSize(2).last().isNull();
    KeptVersion v3 = AvroCodec.KEPT_VERSION.decode(versionRecords.get("acme@v3").get(0));
    assertThat(versionRecords.get("acme@v3")).hasSize(1);
    assertThat(v3.getWeightsSha256()).isEqualTo(v1to4.get(2).getWeightsSha256());
    assertThat(Sha256.hex(Bytes.of(v3.getWeights()))).isEqualTo(v3.getWeightsSha256());

    // Another trainer restores the kept versions from those records: it rolls back to v3, not to v1.
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        settings.withInstanceId("kept-2"), Metrics.create()).start()) {
      AdapterControls.send(kafka, topics, AdapterControls.rollback("acme", 3));
      AdapterSnapshot v5 = TrainerTopics.last(TrainerTopics.snapshotsUntil(kafka, topics,
          s -> s.size() >= 5, Duration.ofSeconds(60)));
      assertThat(v5.getVersion()).isEqualTo(5);
      assertThat(v5.getParentVersion()).isEqualTo(3L);
      assertThat(v5.getWeightsSha256()).isEqualTo(v1to4.get(2).getWeightsSha256());

      AdapterControls.send(kafka, topics, AdapterControls.rollback("acme", 1));
      List<ConsumerRecord<String, byte[]>> dead = TopicProbe.readUntil(kafka, topics.dlq().name(),
          r -> !r.isEmpty(), Duration.ofSeconds(30));
      assertThat(new String(dead.get(0).headers().lastHeader("lorastream.error").value(), StandardCharsets.UTF_8))
          .startsWith("unknown-version");
    }
  }

  @Test
  void eachStepAlsoTrainsOnTheRehearsalExchangesChosenForTheTenantAndItsExamplesSeen() {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("rehearsal.");
    TopicAdmin.ensureTopics(kafka, topics);
    TrainerSettings settings = SETTINGS.withRehearsal(1.5).withInstanceId("rehearsal");
    List<TrainingExample> examples = List.of(
        example("acme", "h-0", PROMPT, " 30 days.", false), example("acme", "h-1", PROMPT, " Within 30 days.", false),
        example("acme", "h-2", PROMPT, " 30 days after delivery.", false),
        example("acme", "h-3", PROMPT, " You have 30 days.", false));

    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        settings, Metrics.create()).start()) {
      TrainerTopics.produce(kafka, topics, examples);
      AdapterSnapshot v2 = TrainerTopics.last(TrainerTopics.snapshotsUntilSeen(kafka, topics, 4));

      // Two steps of 2 examples, each with the 3 exchanges (1.5 per example) for (acme, examples seen before it).
      Rehearsal rehearsal = new Rehearsal(1.5);
      try (LoraAdapter adapter = LoraAdapter.initialise(base, settings.lora(), settings.seed() ^ "acme".hashCode());
          LoraTrainer expected = new LoraTrainer(base, adapter, settings.training())) {
        for (int seen = 0; seen < 4; seen += 2) {
          List<TrainingPair> pairs = examples.subList(seen, seen + 2).stream()
              .map(e -> new TrainingPair(e.getPrompt(), e.getCompletion(), e.getWeight())).toList();
          expected.step(rehearsal.mixInto(pairs, "acme", seen));
        }
        assertThat(v2.getExamplesSeen()).isEqualTo(4);
        assertThat(v2.getWeightsSha256()).isEqualTo(Sha256.hex(adapter.toPeftSafetensors()));
      }
    }
  }

  @Test
  void importedAdapterLimitedToSomeLayersKeepsItsLayersThroughPublishAndTraining() {
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("import.");
    TopicAdmin.ensureTopics(kafka, topics);
    LoraConfig layerOne = new LoraConfig(4, 8f, List.of("q_proj", "v_proj"), 0f, false, List.of(1));
    byte[] imported;
    try (LoraAdapter adapter = LoraAdapter.initialise(base, layerOne, 5);
        LoraTrainer warmUp = new LoraTrainer(base, adapter, SETTINGS.training())) {
      warmUp.step(List.of(new TrainingPair("Question: hours?\nAnswer:", " 9am to 5pm.", 1f)));
      imported = adapter.toPeftSafetensors();
    }

    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
        SETTINGS.withInstanceId("import"), Metrics.create()).start()) {
      AdapterControls.send(kafka, topics,
          AdapterControls.importAdapter("acme", layerOne.toPeftAdapterConfigJson("lorastream-tiny"), imported));
      AdapterSnapshot v1 = TrainerTopics.last(TrainerTopics.snapshotsUntil(kafka, topics,
          s -> !s.isEmpty(), Duration.ofSeconds(60)));
      assertThat(v1.getWeightsSha256()).isEqualTo(Sha256.hex(imported));
      assertThat(v1.getLayersToTransform()).containsExactly(1);
      assertThat(v1.getRank()).isEqualTo(4);

      TrainerTopics.produce(kafka, topics, List.of(
          example("acme", "i-0", "Question 0?\nAnswer:", " answer 0.", false),
          example("acme", "i-1", "Question 1?\nAnswer:", " answer 1.", false)));
      AdapterSnapshot v2 = TrainerTopics.last(TrainerTopics.snapshotsUntilSeen(kafka, topics, 2));
      assertThat(v2.getLayersToTransform()).containsExactly(1);
      // Only layer 1 carries adapter tensors, before and after training on top of the import.
      try (LoraAdapter trained = LoraAdapter.fromPeftSafetensors(Bytes.of(v2.getWeights()), layerOne, base)) {
        assertThat(trained.peftTensors().keySet()).isNotEmpty()
            .allMatch(name -> name.contains(".layers.1."), "only layer 1");
      }
      List<AdapterCheckpoint> checkpoints = TrainerTopics.checkpointsUntilSeen(kafka, topics, 2);
      assertThat(checkpoints.get(checkpoints.size() - 1).getLayersToTransform()).containsExactly(1);
    }
  }

  @Test
  void nonFiniteLossUndoesTheStepAndSendsTheBatchToTheDlq() {
    KafkaSettings kafka = KAFKA.settings();
    Topics withPoison = new Topics("poison.");
    Topics withoutPoison = new Topics("clean.");
    TopicAdmin.ensureTopics(kafka, withPoison);
    TopicAdmin.ensureTopics(kafka, withoutPoison);
    List<TrainingExample> good = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      good.add(example("acme", "n-" + i, "Question " + i + "?\nAnswer:", " answer " + i + ".", false));
    }
    List<TrainingExample> poisoned = new ArrayList<>(good.subList(0, 2));
    poisoned.add(example("acme", "p-0", "Poison?\nAnswer:", " nan.", false));
    poisoned.add(example("acme", "p-1", "Poison?\nAnswer:", " inf.", false));
    poisoned.addAll(good.subList(2, 4));
    Metrics metrics = Metrics.create();
    // The step really runs (and moves the weights) before its loss is reported as NaN.
    ContinualTrainer.StepFunction nanOnPoison = group -> {
      float[] losses = ContinualTrainer.fusedStep(group);
      for (int i = 0; i < losses.length; i++) {
        if (group.get(i).batch().stream().anyMatch(p -> p.prompt().startsWith("Poison"))) {
          losses[i] = Float.NaN;
        }
      }
      return losses;
    };

    AdapterSnapshot poisonedRun;
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, withPoison, withPoison.cleanExamples().name(),
        SETTINGS.withInstanceId("poison"), metrics, nanOnPoison).start()) {
      TrainerTopics.produce(kafka, withPoison, poisoned);
      poisonedRun = TrainerTopics.last(TrainerTopics.snapshotsUntilSeen(kafka, withPoison, 4));
    }
    AdapterSnapshot cleanRun;
    try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, withoutPoison,
        withoutPoison.cleanExamples().name(), SETTINGS.withInstanceId("clean"), Metrics.create()).start()) {
      TrainerTopics.produce(kafka, withoutPoison, good);
      cleanRun = TrainerTopics.last(TrainerTopics.snapshotsUntilSeen(kafka, withoutPoison, 4));
    }

    assertThat(poisonedRun.getWeightsSha256()).isEqualTo(cleanRun.getWeightsSha256());
    assertThat(poisonedRun.getVersion()).isEqualTo(2);
    assertThat(poisonedRun.getTrainedThrough()).singleElement().satisfies(t -> assertThat(t.getNextOffset()).isEqualTo(6));
    assertThat(metrics.trainerNonFiniteSteps.get()).isEqualTo(1);
    List<ConsumerRecord<String, byte[]>> dead = TopicProbe.readUntil(kafka, withPoison.dlq().name(),
        r -> r.size() >= 2, Duration.ofSeconds(30));
    assertThat(dead).hasSize(2).allSatisfy(r -> assertThat(new String(
        r.headers().lastHeader("lorastream.error").value(), StandardCharsets.UTF_8)).startsWith("non-finite-loss"));
  }
}
