package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The native AdamW update against libtorch's operations, on the same gradients. */
class NativeAdamWTest {
  @TempDir
  static Path tmp;

  static BaseModel base;

  @BeforeAll
  static void load() {
    TinyModelFactory.create(tmp.resolve("tiny"), 42);
    base = BaseModel.load(tmp.resolve("tiny"));
  }

  @AfterAll
  static void close() {
    base.close();
  }

  /**
   * Three steps with the global norm clipped (max norm far below the gradients') and weight decay,
   * at a share of the rate in the last: weights and moments agree to float rounding, and the
   * gradients are zero after each step either way.
   */
  @Test
  void updatesWeightsAndMomentsAsLibtorchsOperationsDo() {
    assumeTrue(NativeKernels.available(), "liblorastream_kernels.so not built here");
    TrainingSettings settings = new TrainingSettings(1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 1e-3f, 256, 0L, true);
    LoraConfig config = new LoraConfig(4, 8f, List.of(LoraConfig.ALL_LINEAR), 0f, false);
    try (LoraAdapter nativeAdapter = LoraAdapter.initialise(base, config, 9);
        LoraTrainer nativeTrainer = new LoraTrainer(base, nativeAdapter, settings, true);
        LoraAdapter torchAdapter = LoraAdapter.initialise(base, config, 9);
        LoraTrainer torchTrainer = new LoraTrainer(base, torchAdapter, settings, false)) {
      assertThat(nativeTrainer.updatesNatively()).isTrue();
      assertThat(torchTrainer.updatesNatively()).isFalse();
      float[] scales = {1f, 1f, 0.5f};
      for (int s = 0; s < scales.length; s++) {
        List<TrainingPair> batch = s == 1 ? LoraTrainerTest.CAPITAL : LoraTrainerTest.MIXED;
        nativeTrainer.step(batch, scales[s]);
        torchTrainer.step(batch, scales[s]);
        // Adam divides by sqrt(v): for a gradient near eps in size, a rounding difference in the
        // step before moves the update by up to about 1e-4 of the learning rate (1.8e-6 seen here).
        assertThat(maxAbsDifference(weights(nativeAdapter), weights(torchAdapter)))
            .as("weights after step %d", s + 1).isLessThanOrEqualTo(1e-5);
        assertClose(floats(nativeTrainer.optimizerStateSafetensors()), floats(torchTrainer.optimizerStateSafetensors()),
            "moments after step " + (s + 1));
        for (float[] g : nativeTrainer.gradientValues().values()) {
          assertThat(g).as("gradients zeroed for the next step").containsOnly(0f);
        }
      }
      try (LoraAdapter untrained = LoraAdapter.initialise(base, config, 9)) {
        assertThat(weights(nativeAdapter)).as("training moved the weights").isNotEqualTo(weights(untrained));
      }
    }
  }

  private static float[] weights(LoraAdapter adapter) {
    return floats(adapter.toPeftSafetensors());
  }

  /** The bytes after the safetensors header, as floats (both files have the same header). */
  private static float[] floats(byte[] safetensors) {
    ByteBuffer buffer = ByteBuffer.wrap(safetensors).order(ByteOrder.LITTLE_ENDIAN);
    long header = buffer.getLong(0);
    buffer.position((int) (8 + header));
    float[] out = new float[buffer.remaining() / Float.BYTES];
    buffer.asFloatBuffer().get(out);
    return out;
  }

  private static double maxAbsDifference(float[] actual, float[] expected) {
    assertThat(actual.length).isEqualTo(expected.length);
    double worst = 0;
    for (int i = 0; i < actual.length; i++) {
      worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    }
    return worst;
  }

  /** Relative to the largest magnitude: float rounding, and a gradient norm summed in double. */
  private static void assertClose(float[] actual, float[] expected, String what) {
    assertThat(actual.length).as(what).isEqualTo(expected.length);
    double largest = 0;
    double worst = 0;
    for (int i = 0; i < actual.length; i++) {
      largest = Math.max(largest, Math.abs(expected[i]));
      worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    }
    assertThat(worst).as("%s: largest difference against largest value %s", what, largest)
        .isLessThanOrEqualTo(1e-5 * largest);
  }
}
