package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.lorastream.testing.TestAdapters;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CausalLmTest {
  @TempDir static Path tmp;
  static BaseModel base;
  static CausalLm lm;

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(tmp.resolve("tiny"), 42);
    base = BaseModel.load(tmp.resolve("tiny"));
    lm = new CausalLm(base);
  }

  @AfterAll
  static void closeModel() {
    base.close();
  }

  /** An adapter on every projection with random, non-zero B. */
  static LoraAdapter randomAdapter(BaseModel base, long seed) {
    return randomAdapter(base, seed, null);
  }

  /** An adapter on every projection of these layers (null: all) with random, non-zero B. */
  static LoraAdapter randomAdapter(BaseModel base, long seed, List<Integer> layers) {
    LoraConfig config =
        new LoraConfig(
            4, 8f,
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
            0f, false, layers);
    LoraAdapter adapter = LoraAdapter.initialise(base, config, seed);
    TestAdapters.randomiseB(base, adapter, seed + 1);
    return adapter;
  }

  static NDArray tokens(NDManager manager, int batch, int time, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    long[] ids = new long[batch * time];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = random.nextInt(base.config().vocabSize());
    }
    return manager.create(ids, new Shape(batch, time));
  }

  @Test
  void logitsHaveBatchTimeVocabShape() {
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray logits = lm.logits(tokens(manager, 2, 7, 1), null);
      assertThat(logits.getShape()).isEqualTo(new Shape(2, 7, base.config().vocabSize()));
      assertThat(logits.getManager()).isSameAs(manager);
      assertThat(logits.isNaN().any().getBoolean()).isFalse();
    }
  }

  @Test
  void adapterWithZeroBGivesExactlyTheBaseLogits() {
    try (NDManager manager = NDManager.newBaseManager();
        LoraAdapter adapter =
            LoraAdapter.initialise(
                base, new LoraConfig(8, 16f, List.of("q_proj", "v_proj", "down_proj"), 0f, false), 3)) {
      NDArray ids = tokens(manager, 2, 9, 2);
      float[] plain = lm.logits(ids, null).toFloatArray();
      float[] adapted = lm.logits(ids, adapter).toFloatArray();
      assertThat(adapted).containsExactly(plain);
    }
  }

  @Test
  void layersToTransformLimitsTheAdapterToThoseLayers() {
    Path merged = tmp.resolve("merged-layers");
    try (NDManager manager = NDManager.newBaseManager();
        LoraAdapter adapter = randomAdapter(base, 13, List.of(0, 2));
        LoraAdapter everywhere = randomAdapter(base, 13)) {
      assertThat(adapter.peftTensors().keySet()).allSatisfy(
          k -> assertThat(k).matches("base_model\\.model\\.model\\.layers\\.[02]\\..*"));
      assertThat(adapter.parameterCount() * base.config().numHiddenLayers())
          .isEqualTo(everywhere.parameterCount() * 2);
      assertThat(adapter.a(1, LoraModule.Q_PROJ)).isNull();

      LoraConfig config = LoraConfig.fromPeftAdapterConfigJson(adapter.config().toPeftAdapterConfigJson("tiny"));
      assertThat(config.layersToTransform()).containsExactly(0, 2);
      try (LoraAdapter reloaded = LoraAdapter.fromPeftSafetensors(adapter.toPeftSafetensors(), config, base)) {
        assertThat(reloaded.toPeftSafetensors()).isEqualTo(adapter.toPeftSafetensors());
      }
      org.assertj.core.api.Assertions.assertThatThrownBy(
          () -> LoraAdapter.fromPeftSafetensors(everywhere.toPeftSafetensors(), config, base))
          .hasMessageContaining("does not expect");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> randomAdapter(base, 1, List.of(0, 99)))
          .hasMessageContaining("layers_to_transform");

      adapter.mergeInto(base, merged);
      try (BaseModel mergedBase = BaseModel.load(merged)) {
        NDArray ids = tokens(manager, 2, 12, 5);
        float maxErr = lm.logits(ids, adapter).sub(new CausalLm(mergedBase).logits(ids, null)).abs().max().getFloat();
        assertThat(maxErr).isLessThanOrEqualTo(1e-4f);
      }
    }
  }

  @Test
  void adapterMatchesMergedWeightsReference() {
    Path merged = tmp.resolve("merged");
    try (NDManager manager = NDManager.newBaseManager();
        LoraAdapter adapter = randomAdapter(base, 11)) {
      adapter.mergeInto(base, merged);
      try (BaseModel mergedBase = BaseModel.load(merged)) {
        NDArray ids = tokens(manager, 2, 12, 5);
        NDArray withAdapter = lm.logits(ids, adapter);
        NDArray reference = new CausalLm(mergedBase).logits(ids, null);
        NDArray plain = lm.logits(ids, null);
        float maxErr = withAdapter.sub(reference).abs().max().getFloat();
        float effect = withAdapter.sub(plain).abs().max().getFloat();
        assertThat(maxErr).isLessThanOrEqualTo(1e-4f);
        assertThat(effect).as("the adapter must change the logits").isGreaterThan(1e-2f);
      }
    }
  }

  @Test
  void matchesNaiveDoublePrecisionReferenceWithAdapter() {
    try (NDManager manager = NDManager.newBaseManager();
        LoraAdapter adapter = randomAdapter(base, 14)) {
      int[] ids = {1, 75, 104, 108, 108, 111, 35, 200, 3, 258};
      long[] longs = java.util.Arrays.stream(ids).asLongStream().toArray();
      float[] fast = lm.logits(manager.create(longs, new Shape(1, ids.length)), adapter).toFloatArray();
      double[][] reference = new NaiveLlamaReference(base, adapter).logits(ids);
      int vocab = base.config().vocabSize();
      double maxErr = 0;
      for (int t = 0; t < ids.length; t++) {
        for (int v = 0; v < vocab; v++) {
          maxErr = Math.max(maxErr, Math.abs(fast[t * vocab + v] - reference[t][v]));
        }
      }
      assertThat(maxErr).isLessThanOrEqualTo(1e-4);
    }
  }

  @Test
  void laterTokensDoNotChangeEarlierLogits() {
    try (NDManager manager = NDManager.newBaseManager();
        LoraAdapter adapter = randomAdapter(base, 12)) {
      NDArray ids = tokens(manager, 1, 10, 9);
      NDArray full = lm.logits(ids, adapter);
      NDArray prefix = lm.logits(ids.get(":, :6"), adapter);
      float err = full.get(":, :6").sub(prefix).abs().max().getFloat();
      assertThat(err).isLessThanOrEqualTo(1e-5f);
    }
  }

  @Test
  void rejectsAdapterOfAnotherBaseModel() {
    Path other = tmp.resolve("other");
    TinyModelFactory.create(other, 43);
    try (BaseModel otherBase = BaseModel.load(other);
        LoraAdapter adapter = LoraAdapter.initialise(otherBase, LoraConfig.defaults(), 1);
        NDManager manager = NDManager.newBaseManager()) {
      assertThatThrownBy(() -> lm.logits(tokens(manager, 1, 3, 1), adapter))
          .hasMessageContaining("adapter was made for base model");
    }
  }

  @Test
  void kvCacheGenerationEqualsFullRecomputation() {
    Generator generator = new Generator(lm);
    try (LoraAdapter adapter = randomAdapter(base, 13)) {
      int[] prompt = base.tokenizer().encode("The cache must not change a thing.");
      Completion cached = generator.generate(prompt, adapter, 24, true);
      Completion recomputed = generator.generate(prompt, adapter, 24, false);
      assertThat(recomputed.tokenIds()).as("a long enough run to compare").hasSizeGreaterThan(4);
      assertThat(cached.tokenIds()).containsExactly(recomputed.tokenIds());
      assertThat(cached.finishReason()).isEqualTo(recomputed.finishReason());
      assertThat(cached.promptTokens()).isEqualTo(prompt.length);
    }
  }
}
