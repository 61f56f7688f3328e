package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import io.lorastream.testing.TestAdapters;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FusedLoraTrainerTest {
  @TempDir static Path tmp;
  static BaseModel base;

  static final List<TrainingPair> CAPITALS =
      List.of(
          new TrainingPair("Q: capital of France?\nA:", " Paris.", 1f),
          new TrainingPair("Q: capital of Peru?\nA:", " Lima.", 2f));
  static final List<TrainingPair> MIXED =
      List.of(
          new TrainingPair("Translate: cat", " chat", 1f),
          new TrainingPair("2+2=", " 4", 0.5f),
          new TrainingPair("", "only a completion, and a long one at that", 2f));
  static final List<TrainingPair> SHORT = List.of(new TrainingPair("hi", " there", 1f));
  /** Two examples of the same length: alone they take a row each, next to OTHER they share one. */
  static final List<TrainingPair> TWO_SHORT =
      List.of(new TrainingPair("hi", " there", 1f), new TrainingPair("yo", " where", 2f));
  static final List<TrainingPair> OTHER =
      List.of(new TrainingPair("Something else entirely, longer than the rest of them", " yes", 1f),
          new TrainingPair("no", " maybe not", 3f));

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(tmp.resolve("tiny"), 42);
    base = BaseModel.load(tmp.resolve("tiny"));
  }

  @AfterAll
  static void closeModel() {
    base.close();
  }

  /** Tenants with different ranks, targets and (for one) non-zero B, so every factor has gradients. */
  static final List<LongFunction<LoraAdapter>> TENANTS =
      List.of(
          seed -> CausalLmTest.randomAdapter(base, seed),
          seed -> {
            LoraAdapter a = LoraAdapter.initialise(base, new LoraConfig(8, 16f, List.of("q_proj", "v_proj"), 0f, false), seed);
            TestAdapters.randomiseB(base, a, seed + 100);
            return a;
          },
          seed -> LoraAdapter.initialise(base, new LoraConfig(2, 4f, List.of("k_proj", "o_proj", "down_proj"), 0f, true), seed));

  static float maxAbsDifference(LoraAdapter x, LoraAdapter y) {
    List<NDArray> px = x.parameters();
    List<NDArray> py = y.parameters();
    float max = 0;
    for (int i = 0; i < px.size(); i++) {
      float[] a = px.get(i).toFloatArray();
      float[] b = py.get(i).toFloatArray();
      for (int j = 0; j < a.length; j++) {
        max = Math.max(max, Math.abs(a[j] - b[j]));
      }
    }
    return max;
  }

  static List<LoraTrainer> trainers(List<LoraAdapter> adapters) {
    List<LoraTrainer> out = new ArrayList<>();
    adapters.forEach(a -> out.add(new LoraTrainer(base, a, TrainingSettings.defaults())));
    return out;
  }

  static void closeAll(List<? extends AutoCloseable> things) throws Exception {
    for (AutoCloseable c : things) {
      c.close();
    }
  }

  @Test
  void fusedStepsEqualSeparateSteps() throws Exception {
    // In the second round OTHER's long prompt makes the rows long enough for TWO_SHORT to share one
    List<List<TrainingPair>> first = List.of(CAPITALS, MIXED, SHORT);
    List<List<TrainingPair>> second = List.of(OTHER, TWO_SHORT, MIXED);
    List<LoraAdapter> separate = new ArrayList<>();
    List<LoraAdapter> fused = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      separate.add(TENANTS.get(t).apply(10 + t));
      fused.add(TENANTS.get(t).apply(10 + t));
    }
    List<byte[]> initial = separate.stream().map(LoraAdapter::toPeftSafetensors).toList();
    List<LoraTrainer> alone = trainers(separate);
    List<LoraTrainer> together = trainers(fused);
    // Each tenant takes its own share of the learning rate, in the fused step as alone.
    float[] learningRateScales = {1f, 0.5f, 0.25f};
    try {
      for (List<List<TrainingPair>> round : List.of(first, second)) {
        float[] expected = new float[3];
        for (int t = 0; t < 3; t++) {
          expected[t] = alone.get(t).step(round.get(t), learningRateScales[t]);
        }
        List<FusedLoraTrainer.TenantBatch> batches = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
          batches.add(new FusedLoraTrainer.TenantBatch(together.get(t), round.get(t), learningRateScales[t]));
        }
        float[] losses = FusedLoraTrainer.step(batches);
        for (int t = 0; t < 3; t++) {
          assertThat(losses[t]).isCloseTo(expected[t], Offset.offset(1e-5f * Math.max(1f, expected[t])));
        }
      }
      for (int t = 0; t < 3; t++) {
        assertThat(together.get(t).step()).isEqualTo(2);
        assertThat(maxAbsDifference(fused.get(t), separate.get(t))).as("tenant %d", t).isLessThanOrEqualTo(1e-5f);
        assertThat(fused.get(t).toPeftSafetensors()).as("tenant %d was trained", t).isNotEqualTo(initial.get(t));
      }
    } finally {
      closeAll(alone);
      closeAll(together);
      closeAll(separate);
      closeAll(fused);
    }
  }

  @Test
  void aFusedStepPacksEachTenantsExamplesIntoRowsAsLongAsItsLongestExample() throws Exception {
    List<LoraAdapter> adapters = List.of(TENANTS.get(0).apply(1), TENANTS.get(1).apply(2), TENANTS.get(2).apply(3));
    List<LoraTrainer> trainers = trainers(adapters);
    try {
      List<List<TrainingPair>> batches = List.of(TWO_SHORT, MIXED, OTHER);
      List<FusedLoraTrainer.TenantBatch> step = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        step.add(new FusedLoraTrainer.TenantBatch(trainers.get(t), batches.get(t)));
      }
      List<LoraTrainer.EncodedBatch> layout = FusedLoraTrainer.encode(step);
      int longest = 0;
      for (int t = 0; t < 3; t++) {
        longest = Math.max(longest, LoraTrainer.longestInputs(trainers.get(t).sequences(batches.get(t))));
      }
      int rows = 0;
      for (int t = 0; t < 3; t++) {
        LoraTrainer.EncodedBatch e = layout.get(t);
        assertThat(e.packed()).isTrue();
        assertThat(e.length()).as("every tenant's rows are the step's length").isEqualTo(longest);
        assertThat(e.tokens()).isEqualTo(trainers.get(t).inputTokens(batches.get(t)));
        rows += e.size();
      }
      assertThat(trainers.get(0).encodeForStep(TWO_SHORT).size()).as("alone: a row each").isEqualTo(2);
      assertThat(layout.get(0).size()).as("next to OTHER's long prompt: one row").isEqualTo(1);
      assertThat(rows).as("7 examples").isLessThan(7);
    } finally {
      closeAll(trainers);
      closeAll(adapters);
    }
  }

  @Test
  void eachTenantOfAFusedStepCountsItsOwnInputTokens() throws Exception {
    List<LoraAdapter> adapters = List.of(CausalLmTest.randomAdapter(base, 3), CausalLmTest.randomAdapter(base, 4));
    List<LoraTrainer> trainers = trainers(adapters);
    try {
      FusedLoraTrainer.step(List.of(
          new FusedLoraTrainer.TenantBatch(trainers.get(0), MIXED),
          new FusedLoraTrainer.TenantBatch(trainers.get(1), CAPITALS)));
      assertThat(trainers.get(0).lastStepInputTokens()).isEqualTo(trainers.get(0).inputTokens(MIXED));
      assertThat(trainers.get(1).lastStepInputTokens()).isEqualTo(trainers.get(1).inputTokens(CAPITALS));
      assertThat(trainers.get(0).lastStepInputTokens()).isNotEqualTo(trainers.get(1).lastStepInputTokens());
    } finally {
      closeAll(trainers);
      closeAll(adapters);
    }
  }

  @Test
  void fusedStepWithLoraDropoutEqualsSeparateSteps() throws Exception {
    LoraConfig dropout = new LoraConfig(4, 8f, List.of("q_proj", "v_proj", "up_proj"), 0.2f, false);
    List<LoraAdapter> separate = List.of(
        LoraAdapter.initialise(base, dropout, 1), CausalLmTest.randomAdapter(base, 2));
    List<LoraAdapter> fused = List.of(
        LoraAdapter.initialise(base, dropout, 1), CausalLmTest.randomAdapter(base, 2));
    List<LoraTrainer> alone = trainers(separate);
    List<LoraTrainer> together = trainers(fused);
    try {
      for (int s = 0; s < 2; s++) {
        alone.get(0).step(MIXED);
        alone.get(1).step(CAPITALS);
        FusedLoraTrainer.step(List.of(
            new FusedLoraTrainer.TenantBatch(together.get(0), MIXED),
            new FusedLoraTrainer.TenantBatch(together.get(1), CAPITALS)));
      }
      assertThat(maxAbsDifference(fused.get(0), separate.get(0))).isLessThanOrEqualTo(1e-5f);
      assertThat(maxAbsDifference(fused.get(1), separate.get(1))).isLessThanOrEqualTo(1e-5f);
    } finally {
      closeAll(alone);
      closeAll(together);
      closeAll(separate);
      closeAll(fused);
    }
  }

  @Test
  void oneTenantsDataChangesNoWeightOfAnother() throws Exception {
    // Tenant B trained on the same batches three times over: alone, beside A's batch, beside
    // another batch of A's.
    List<LoraAdapter> bs = new ArrayList<>();
    List<LoraAdapter> as = new ArrayList<>();
    List<LoraTrainer> all = new ArrayList<>();
    try {
      byte[] aInitial;
      try (LoraAdapter fresh = CausalLmTest.randomAdapter(base, 78)) {
        aInitial = fresh.toPeftSafetensors();
      }
      for (int run = 0; run < 3; run++) {
        bs.add(CausalLmTest.randomAdapter(base, 77));
        as.add(CausalLmTest.randomAdapter(base, 78));
      }
      for (int run = 0; run < 3; run++) {
        LoraTrainer b = new LoraTrainer(base, bs.get(run), TrainingSettings.defaults());
        LoraTrainer a = new LoraTrainer(base, as.get(run), TrainingSettings.defaults());
        all.add(a);
        all.add(b);
        List<FusedLoraTrainer.TenantBatch> batches = new ArrayList<>();
        if (run == 1) {
          batches.add(new FusedLoraTrainer.TenantBatch(a, MIXED));
        }
        if (run == 2) {
          batches.add(new FusedLoraTrainer.TenantBatch(a, OTHER));
        }
        batches.add(new FusedLoraTrainer.TenantBatch(b, CAPITALS));
        FusedLoraTrainer.step(batches);
        // A second step of B alone: Adam's first step hardly depends on the gradient's scale, its
        // second does, so a leak that only rescaled B's gradient would show here.
        FusedLoraTrainer.step(List.of(new FusedLoraTrainer.TenantBatch(b, MIXED)));
        assertThat(a.step()).isEqualTo(run == 0 ? 0 : 1);
        assertThat(b.step()).isEqualTo(2);
      }
      assertThat(maxAbsDifference(bs.get(1), bs.get(0))).isLessThanOrEqualTo(1e-6f);
      assertThat(maxAbsDifference(bs.get(2), bs.get(0))).isLessThanOrEqualTo(1e-6f);
      assertThat(as.get(0).toPeftSafetensors()).as("a tenant absent from a step is not moved")
          .isEqualTo(aInitial);
      assertThat(maxAbsDifference(as.get(1), as.get(2))).as("A's own data does matter to A").isGreaterThan(1e-4f);
    } finally {
      closeAll(all);
      closeAll(bs);
      closeAll(as);
    }
  }

  @Test
  void fuzzedTenantMixesInFusedStepsEqualEachTenantTrainedAlone() throws Exception {
    // Seeded: each round picks which tenants share the step, in which order, and which of their
    // examples; every tenant must end exactly where training alone on its own batches puts it.
    java.util.SplittableRandom random = new java.util.SplittableRandom(2026_11_28L);
    List<List<TrainingPair>> pools = List.of(CAPITALS, MIXED, OTHER);
    List<LoraAdapter> separate = new ArrayList<>();
    List<LoraAdapter> fused = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      separate.add(TENANTS.get(t).apply(500 + t));
      fused.add(TENANTS.get(t).apply(500 + t));
    }
    List<byte[]> initial = fused.stream().map(LoraAdapter::toPeftSafetensors).toList();
    List<LoraTrainer> alone = trainers(separate);
    List<LoraTrainer> together = trainers(fused);
    int[] steps = new int[3];
    try {
      for (int round = 0; round < 4; round++) {
        List<Integer> order = new ArrayList<>(List.of(0, 1, 2));
        java.util.Collections.shuffle(order, new java.util.Random(random.nextLong()));
        List<Integer> present = order.subList(0, 1 + random.nextInt(3));
        List<FusedLoraTrainer.TenantBatch> batches = new ArrayList<>();
        for (int t : present) {
          List<TrainingPair> pool = new ArrayList<>(pools.get((t + round) % 3));
          java.util.Collections.shuffle(pool, new java.util.Random(random.nextLong()));
          List<TrainingPair> batch = pool.subList(0, 1 + random.nextInt(pool.size()));
          alone.get(t).step(batch);
          batches.add(new FusedLoraTrainer.TenantBatch(together.get(t), batch));
          steps[t]++;
        }
        FusedLoraTrainer.step(batches);
      }
      for (int t = 0; t < 3; t++) {
        assertThat(together.get(t).step()).isEqualTo(steps[t]);
        // Float rounding only: sums run in another order and over other padding, and AdamW turns a
        // rounding difference in a near-zero gradient into up to a few percent of a step (1.6e-4 seen
        // after 4 steps). A row of another tenant reaching this tenant's gradient would change its
        // update direction, moving weights by about the learning rate (5e-3) per step.
        assertThat(maxAbsDifference(fused.get(t), separate.get(t))).as("tenant %d", t).isLessThanOrEqualTo(1e-3f);
        if (steps[t] > 0) {
          assertThat(fused.get(t).toPeftSafetensors()).as("tenant %d was trained", t).isNotEqualTo(initial.get(t));
        }
      }
    } finally {
      closeAll(alone);
      closeAll(together);
      closeAll(separate);
      closeAll(fused);
    }
  }

  @Test
  void memoryStaysFlatOverFusedSteps() throws Exception {
    List<LoraAdapter> adapters = List.of(TENANTS.get(0).apply(1), TENANTS.get(2).apply(2));
    List<LoraTrainer> trainers = trainers(adapters);
    try {
      List<FusedLoraTrainer.TenantBatch> batches = List.of(
          new FusedLoraTrainer.TenantBatch(trainers.get(0), MIXED),
          new FusedLoraTrainer.TenantBatch(trainers.get(1), SHORT));
      FusedLoraTrainer.step(batches);
      int baseArrays = base.manager().getManagedArrays().size();
      int adapterArrays = adapters.get(0).manager().getManagedArrays().size();
      int trainerArrays = trainers.get(0).liveArrays();
      for (int s = 0; s < 5; s++) {
        FusedLoraTrainer.step(batches);
      }
      assertThat(base.manager().getManagedArrays()).hasSize(baseArrays);
      assertThat(adapters.get(0).manager().getManagedArrays()).hasSize(adapterArrays);
      assertThat(trainers.get(0).liveArrays()).isEqualTo(trainerArrays);
    } finally {
      closeAll(trainers);
      closeAll(adapters);
    }
  }

  @Test
  void rejectsATrainerTwiceAndEmptyBatches() throws Exception {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 1);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      assertThatThrownBy(() -> FusedLoraTrainer.step(List.of(
              new FusedLoraTrainer.TenantBatch(trainer, SHORT),
              new FusedLoraTrainer.TenantBatch(trainer, MIXED))))
          .hasMessageContaining("twice");
      assertThatThrownBy(() -> new FusedLoraTrainer.TenantBatch(trainer, List.of()))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> FusedLoraTrainer.step(List.of())).isInstanceOf(IllegalArgumentException.class);
      assertThat(trainer.step()).isZero();
    }
  }
}
