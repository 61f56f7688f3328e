package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraTrainerTest {
  @TempDir static Path tmp;
  static BaseModel base;

  static final List<TrainingPair> CAPITAL =
      List.of(new TrainingPair("Q: capital of France?\nA:", " Paris.", 1f));
  static final List<TrainingPair> MIXED =
      List.of(
          new TrainingPair("Translate: cat", " chat", 1f),
          new TrainingPair("2+2=", " 4", 0.5f),
          new TrainingPair("", "only a completion", 2f));

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(tmp.resolve("tiny"), 42);
    base = BaseModel.load(tmp.resolve("tiny"));
  }

  @AfterAll
  static void closeModel() {
    base.close();
  }

  @Test
  void countsInputTokensWithoutPadding() {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 1);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      // A batch of one has no padding: its encoded length is that example's token count.
      long alone = MIXED.stream().mapToLong(p -> trainer.encode(List.of(p)).length()).sum();
      LoraTrainer.EncodedBatch padded = trainer.encode(MIXED);
      assertThat(trainer.inputTokens(MIXED)).isEqualTo(alone).isLessThan((long) padded.size() * padded.length());
      trainer.step(MIXED);
      assertThat(trainer.lastStepInputTokens()).isEqualTo(alone);
      trainer.step(UNEVEN); // packed
      assertThat(trainer.lastStepInputTokens()).isEqualTo(trainer.inputTokens(UNEVEN));
    }
  }

  @Test
  void learnsARepeatedExampleAndGeneratesItsCompletion() {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 1);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      float initial = trainer.loss(CAPITAL);
      float last = initial;
      int steps = 0;
      while (steps < 60 && last >= 0.3f * initial) {
        trainer.step(CAPITAL);
        steps++;
        last = trainer.loss(CAPITAL);
      }
      System.err.printf("loss %.4f -> %.4f after %d steps%n", initial, last, steps);
      assertThat(last).isLessThan(0.3f * initial);
      assertThat(trainer.step()).isEqualTo(steps);

      Generator generator = new Generator(base);
      Completion completion = generator.generate(CAPITAL.get(0).prompt(), adapter, 20);
      assertThat(completion.text()).isEqualTo(" Paris.");
      assertThat(completion.finishReason()).isEqualTo("stop");
      assertThat(generator.generate(CAPITAL.get(0).prompt(), null, 20).text())
          .as("the base model alone does not know the answer")
          .isNotEqualTo(" Paris.");
    }
  }

  @Test
  void sameSeedAndBatchesGiveBitIdenticalAdapters() {
    byte[][] results = new byte[2][];
    for (int run = 0; run < 2; run++) {
      try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 5);
          LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
        for (int s = 0; s < 4; s++) {
          trainer.step(MIXED);
        }
        results[run] = adapter.toPeftSafetensors();
      }
    }
    assertThat(results[1]).isEqualTo(results[0]);
  }

  /**
   * The AdamW update against a plain Java AdamW (PyTorch's: decoupled weight decay, bias-corrected
   * moments, eps outside the square root) on the step's own gradients, with the global gradient
   * norm clipped (max norm far below the gradients' norm) and weight decay on, over three steps so
   * the moments carry over; the optimizer state written in between must hold the same moments.
   */
  @Test
  void aStepAtAShareOfTheLearningRateIsAStepOfATrainerWithThatRate() {
    // Weight decay on: it scales with the rate too.
    TrainingSettings settings = new TrainingSettings(1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 1f, 256, 0L, true);
    LoraConfig config = new LoraConfig(4, 8f, List.of("q_proj", "v_proj", "up_proj"), 0f, false);
    try (LoraAdapter scaled = LoraAdapter.initialise(base, config, 5);
        LoraTrainer scaledTrainer = new LoraTrainer(base, scaled, settings);
        LoraAdapter halfRate = LoraAdapter.initialise(base, config, 5);
        LoraTrainer halfRateTrainer = new LoraTrainer(base, halfRate, settings.withLearningRate(5e-3f));
        LoraAdapter fullRate = LoraAdapter.initialise(base, config, 5);
        LoraTrainer fullRateTrainer = new LoraTrainer(base, fullRate, settings)) {
      for (List<TrainingPair> batch : List.of(MIXED, CAPITAL, MIXED)) {
        scaledTrainer.step(batch, 0.5f);
        halfRateTrainer.step(batch);
        fullRateTrainer.step(batch);
      }
      assertThat(scaled.toPeftSafetensors()).isEqualTo(halfRate.toPeftSafetensors());
      assertThat(scaled.toPeftSafetensors()).isNotEqualTo(fullRate.toPeftSafetensors());
      assertThatThrownBy(() -> scaledTrainer.step(MIXED, 0f)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> scaledTrainer.step(MIXED, 1.5f)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void adamWStepsMatchAReferenceWithClippingAndWeightDecay() {
    TrainingSettings settings = new TrainingSettings(1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 1e-3f, 256, 0L, true);
    LoraConfig config = new LoraConfig(4, 8f, List.of("q_proj", "v_proj", "up_proj"), 0f, false);
    try (LoraAdapter adapter = LoraAdapter.initialise(base, config, 21);
        LoraTrainer trainer = new LoraTrainer(base, adapter, settings)) {
      List<String> keys = List.copyOf(adapter.peftTensors().keySet());
      java.util.Map<String, double[]> m = new java.util.HashMap<>();
      java.util.Map<String, double[]> v = new java.util.HashMap<>();
      for (int t = 1; t <= 3; t++) {
        List<TrainingPair> batch = t == 2 ? CAPITAL : MIXED;
        java.util.Map<String, float[]> grads = trainer.gradients(batch);
        java.util.Map<String, float[]> before = new java.util.HashMap<>();
        adapter.peftTensors().forEach((k, a) -> before.put(k, a.toFloatArray()));
        double squared = 0;
        for (float[] g : grads.values()) {
          for (float x : g) {
            squared += (double) x * x;
          }
        }
        double norm = Math.sqrt(squared);
        assertThat(norm).as("clipping is exercised").isGreaterThan(settings.maxGradNorm());
        double clip = settings.maxGradNorm() / (norm + 1e-6);
        trainer.step(batch);
        double bias1 = 1 - Math.pow(settings.beta1(), t);
        double bias2 = 1 - Math.pow(settings.beta2(), t);
        double largest = 0;
        double worst = 0;
        for (String key : keys) {
          float[] g = grads.get(key);
          float[] p0 = before.get(key);
          float[] p1 = adapter.peftTensors().get(key).toFloatArray();
          double[] mk = m.computeIfAbsent(key, k -> new double[g.length]);
          double[] vk = v.computeIfAbsent(key, k -> new double[g.length]);
          for (int i = 0; i < g.length; i++) {
            double gi = g[i] * clip;
            mk[i] = settings.beta1() * mk[i] + (1 - settings.beta1()) * gi;
            vk[i] = settings.beta2() * vk[i] + (1 - settings.beta2()) * gi * gi;
            double expected = p0[i] * (1 - settings.learningRate() * settings.weightDecay())
                - settings.learningRate() / bias1 * mk[i] / (Math.sqrt(vk[i]) / Math.sqrt(bias2) + settings.epsilon());
            largest = Math.max(largest, Math.abs(expected - p0[i]));
            worst = Math.max(worst, Math.abs(p1[i] - expected));
          }
        }
        assertThat(largest).as("step %d moved the weights", t).isGreaterThan(1e-4);
        assertThat(worst).as("step %d: largest difference from the reference", t).isLessThan(1e-6);
      }
      // The moments written to the optimizer state are the reference's too.
      try (ai.djl.ndarray.NDManager scratch = base.manager().newSubManager()) {
        java.util.Map<String, ai.djl.ndarray.NDArray> state =
            SafeTensors.fromBytes(trainer.optimizerStateSafetensors(), scratch);
        assertThat(state).hasSize(2 * keys.size());
        for (String key : keys) {
          float[] avg = state.get(key + ".exp_avg").toFloatArray();
          float[] avgSq = state.get(key + ".exp_avg_sq").toFloatArray();
          assertThat(state.get(key + ".exp_avg").getShape()).isEqualTo(adapter.peftTensors().get(key).getShape());
          for (int i = 0; i < avg.length; i++) { // relative: float sums (the norm) against double ones
            assertThat(Math.abs(avg[i] - m.get(key)[i])).isLessThanOrEqualTo(1e-3 * Math.abs(m.get(key)[i]) + 1e-20);
            assertThat(Math.abs(avgSq[i] - v.get(key)[i])).isLessThanOrEqualTo(1e-3 * v.get(key)[i] + 1e-20);
          }
        }
      }
    }
  }

  @Test
  void resumingFromCheckpointContinuesExactly() {
    LoraConfig config = new LoraConfig(4, 8f, List.of("q_proj", "v_proj", "up_proj"), 0f, false);
    try (LoraAdapter adapter = LoraAdapter.initialise(base, config, 9);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      trainer.step(MIXED);
      trainer.step(CAPITAL);
      byte[] weights = adapter.toPeftSafetensors();
      byte[] optimizer = trainer.optimizerStateSafetensors();
      long step = trainer.step();
      trainer.step(MIXED);
      trainer.step(MIXED);

      try (LoraAdapter restored = LoraAdapter.fromPeftSafetensors(weights, config, base);
          LoraTrainer resumed = new LoraTrainer(base, restored, TrainingSettings.defaults())) {
        resumed.restoreOptimizerState(optimizer, step);
        resumed.step(MIXED);
        resumed.step(MIXED);
        assertThat(resumed.step()).isEqualTo(4);
        assertThat(restored.toPeftSafetensors()).isEqualTo(adapter.toPeftSafetensors());
      }
    }
  }

  @Test
  void trainingLeavesBaseWeightsUntouched() {
    byte[] before = SafeTensors.toBytes(base.tensors());
    try (LoraAdapter adapter =
            LoraAdapter.initialise(
                base,
                new LoraConfig(4, 8f, List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), 0f, false),
                2);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      byte[] adapterBefore = adapter.toPeftSafetensors();
      trainer.step(MIXED);
      trainer.step(MIXED);
      assertThat(adapter.toPeftSafetensors()).isNotEqualTo(adapterBefore);
    }
    assertThat(SafeTensors.toBytes(base.tensors())).isEqualTo(before);
    for (var weight : base.tensors().values()) {
      assertThat(weight.hasGradient()).isFalse();
    }
  }

  @Test
  void memoryStaysFlatOverManySteps() {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 3);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      Generator generator = new Generator(base);
      trainer.step(MIXED);
      generator.generate("warm", adapter, 2);
      int baseArrays = base.manager().getManagedArrays().size();
      int adapterArrays = adapter.manager().getManagedArrays().size();
      int trainerArrays = trainer.liveArrays();
      for (int s = 0; s < 20; s++) {
        trainer.step(MIXED);
        trainer.loss(CAPITAL);
      }
      generator.generate("warm", adapter, 4);
      assertThat(base.manager().getManagedArrays()).hasSize(baseArrays);
      assertThat(adapter.manager().getManagedArrays()).hasSize(adapterArrays);
      assertThat(trainer.liveArrays()).isEqualTo(trainerArrays);
    }
  }

  @Test
  void trainsOnOneThreadWhileAnotherGeneratesFromASnapshot() throws Exception {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 6);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      trainer.step(CAPITAL);
      Generator generator = new Generator(base);
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
      try (LoraAdapter snapshot = adapter.copy()) {
        Completion expected = generator.generate("Q:", snapshot, 12);
        var training =
            pool.submit(
                () -> {
                  for (int s = 0; s < 10; s++) {
                    trainer.step(CAPITAL);
                  }
                  return trainer.loss(CAPITAL);
                });
        var serving =
            pool.submit(
                () -> {
                  List<Completion> out = new java.util.ArrayList<>();
                  for (int s = 0; s < 5; s++) {
                    out.add(generator.generate("Q:", snapshot, 12));
                  }
                  return out;
                });
        float loss = training.get();
        assertThat(loss).isFinite();
        assertThat(serving.get())
            .allSatisfy(c -> assertThat(c.tokenIds()).containsExactly(expected.tokenIds()));
        assertThat(trainer.step()).isEqualTo(11);
      } finally {
        pool.shutdown();
      }
      // A third thread (fresh threads start with grad mode on) still trains correctly.
      Thread other = new Thread(() -> trainer.step(CAPITAL));
      other.start();
      other.join();
      assertThat(trainer.step()).isEqualTo(12);
    }
  }

  @Test
  void dropoutIsSeededAndOnlyAppliesInTraining() {
    LoraConfig withDropout = new LoraConfig(8, 16f, List.of("q_proj", "v_proj"), 0.1f, false);
    byte[][] results = new byte[3][];
    for (int run = 0; run < 3; run++) {
      TrainingSettings settings =
          run < 2 ? TrainingSettings.defaults()
              : new TrainingSettings(5e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1f, 256, 99L, true);
      try (LoraAdapter adapter = LoraAdapter.initialise(base, withDropout, 5);
          LoraTrainer trainer = new LoraTrainer(base, adapter, settings)) {
        trainer.step(MIXED);
        trainer.step(MIXED);
        float first = trainer.loss(MIXED);
        assertThat(trainer.loss(MIXED)).as("evaluation has no dropout").isEqualTo(first);
        results[run] = adapter.toPeftSafetensors();
      }
    }
    assertThat(results[1]).isEqualTo(results[0]);
    assertThat(results[2]).as("another dropout seed draws other masks").isNotEqualTo(results[0]);
  }

  @Test
  void longPromptsLoseTheirOldestTokensFirst() {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 8);
        LoraTrainer shortWindow =
            new LoraTrainer(base, adapter, TrainingSettings.defaults().withMaxSequenceLength(8))) {
      float truncated = shortWindow.loss(List.of(new TrainingPair("abcdefghijklmnopqrstuvwxyz", "123")));
      float tail = shortWindow.loss(List.of(new TrainingPair("xyz", "123")));
      assertThat(truncated).isEqualTo(tail);
      assertThat(shortWindow.loss(List.of(new TrainingPair("uvwxyz", "123"))))
          .as("a longer prompt tail would not fit")
          .isEqualTo(tail);
      assertThat(shortWindow.loss(List.of(new TrainingPair("wxyz", "123", 1f), new TrainingPair("q", "0", 0f))))
          .as("a zero-weight example does not count")
          .isCloseTo(tail, org.assertj.core.data.Offset.offset(1e-6f));
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> shortWindow.step(List.of(new TrainingPair("q", "0", 0f))))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void examplesWeighAsTheirWeightsSay() {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 4);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      TrainingPair a = new TrainingPair("x", " first answer", 1f);
      TrainingPair b = new TrainingPair("a longer prompt here", " b", 1f);
      float la = trainer.loss(List.of(a));
      float lb = trainer.loss(List.of(b));
      float mixed = trainer.loss(List.of(new TrainingPair(a.prompt(), a.completion(), 3f), b));
      assertThat(mixed).isCloseTo((3 * la + lb) / 4, org.assertj.core.data.Offset.offset(1e-4f));
    }
  }

  @Test
  void rowLossesCombineToTheBatchLossAndDoNotDependOnTheOtherRows() {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 5);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      trainer.step(MIXED); // B != 0, so the adapter takes part
      LoraTrainer.RowLoss[] rows = trainer.rowLosses(MIXED);

      double sum = 0;
      double weight = 0;
      for (int b = 0; b < rows.length; b++) {
        // The completion's tokens and eos.
        assertThat(rows[b].tokens()).isEqualTo(base.tokenizer().encode(MIXED.get(b).completion()).length + 1);
        LoraTrainer.RowLoss alone = trainer.rowLosses(List.of(MIXED.get(b)))[0];
        assertThat(rows[b].lossSum()).isCloseTo(alone.lossSum(), org.assertj.core.data.Offset.offset(1e-4f));
        assertThat(rows[b].mean()).isCloseTo(trainer.loss(List.of(MIXED.get(b))),
            org.assertj.core.data.Offset.offset(1e-5f));
        sum += MIXED.get(b).weight() * rows[b].mean();
        weight += MIXED.get(b).weight();
      }
      assertThat((float) (sum / weight)).isCloseTo(trainer.loss(MIXED), org.assertj.core.data.Offset.offset(1e-5f));
    }
  }

  /** Two long examples and three short ones: the short ones fit beside each other in one row. */
  static final List<TrainingPair> UNEVEN =
      List.of(
          new TrainingPair("Question: how long do I have to return an item I bought last week?\nAnswer:",
              " You can return it within 30 days of delivery.", 1f),
          new TrainingPair("Question: what does shipping cost to the other side of the country?\nAnswer:",
              " Shipping is $5 for every order.", 0.5f),
          new TrainingPair("Hi", " Hello.", 2f),
          new TrainingPair("2+2=", " 4", 1f),
          new TrainingPair("", "Thanks!", 1f));

  @Test
  void packedLayoutRestartsPositionsAndAttentionAtEachExample() {
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 6);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      LoraTrainer.EncodedBatch padded = trainer.encode(UNEVEN);
      LoraTrainer.EncodedBatch packed = trainer.encodePacked(UNEVEN);

      assertThat(packed.packed()).isTrue();
      assertThat(packed.length()).isEqualTo(padded.length());
      assertThat(packed.size()).isLessThan(padded.size());
      // Every example's tokens, targets and weights are there once, only laid out differently.
      assertThat(sorted(packed.targets(), packed.weights())).isEqualTo(sorted(padded.targets(), padded.weights()));
      double weightSum = 0;
      for (float w : packed.weights()) {
        weightSum += w;
      }
      assertThat(weightSum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-6));
      int length = packed.length();
      for (int i = 0; i < packed.inputs().length; i++) {
        int slot = i % length;
        int from = packed.attendFrom()[i];
        assertThat(from).isBetween(0, slot);
        if (packed.inputs()[i] == base.tokenizer().bosId()) {
          // An example starts here: position 0, attending to itself only.
          assertThat(packed.positions()[i]).isZero();
          assertThat(from).isEqualTo(slot);
        } else if (packed.weights()[i] > 0) {
          assertThat(packed.positions()[i]).isEqualTo(slot - from);
        }
      }
    }
  }

  @Test
  void packedStepsHaveThePaddedLossAndGradients() {
    TrainingSettings packedSettings = TrainingSettings.defaults();
    LoraConfig allLinear = new LoraConfig(8, 16f, List.of(LoraConfig.ALL_LINEAR), 0f, false);
    try (LoraAdapter adapter = LoraAdapter.initialise(base, allLinear, 7)) {
      try (LoraTrainer warmUp = new LoraTrainer(base, adapter, packedSettings)) {
        warmUp.step(MIXED); // B != 0, so A gets gradients too
      }
      try (LoraAdapter copy = adapter.copy();
          LoraTrainer packed = new LoraTrainer(base, adapter, packedSettings);
          LoraTrainer padded = new LoraTrainer(base, copy, packedSettings.withPackSequences(false))) {
        assertThat(packed.encodeForStep(UNEVEN).packed()).isTrue();
        assertThat(padded.encodeForStep(UNEVEN).packed()).isFalse();

        assertThat(packed.loss(UNEVEN)).isCloseTo(padded.loss(UNEVEN), org.assertj.core.data.Offset.offset(1e-5f));
        java.util.Map<String, float[]> want = padded.gradients(UNEVEN);
        java.util.Map<String, float[]> got = packed.gradients(UNEVEN);
        assertThat(got.keySet()).isEqualTo(want.keySet());
        for (String key : want.keySet()) {
          float scale = 0;
          float error = 0;
          for (int i = 0; i < want.get(key).length; i++) {
            scale = Math.max(scale, Math.abs(want.get(key)[i]));
            error = Math.max(error, Math.abs(want.get(key)[i] - got.get(key)[i]));
          }
          assertThat(scale).as("gradient of %s", key).isGreaterThan(0f);
          assertThat(error / scale).as("relative gradient difference of %s", key).isLessThan(1e-5f);
        }
      }
    }
  }

  /** (target, weight) pairs of the counted tokens, sorted: a layout-independent view of a batch. */
  private static List<String> sorted(long[] targets, float[] weights) {
    List<String> out = new java.util.ArrayList<>();
    for (int i = 0; i < targets.length; i++) {
      if (weights[i] > 0) {
        out.add(targets[i] + ":" + weights[i]);
      }
    }
    java.util.Collections.sort(out);
    return out;
  }
}
