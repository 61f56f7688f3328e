package io.lorastream.testing;

import ai.djl.ndarray.NDArray;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraModule;
import java.util.SplittableRandom;

/** Adapters for tests that must change what the model computes. */
public final class TestAdapters {
  private TestAdapters() {}

  /**
   * Fills every B factor of {@code adapter} (a fresh one's are zero, so it adds nothing) with
   * values uniform in [-0.1, 0.1) drawn with {@code seed}, layer by layer and module by module.
   */
  public static void randomiseB(BaseModel base, LoraAdapter adapter, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    for (int l = 0; l < base.config().numHiddenLayers(); l++) {
      if (!adapter.config().transforms(l)) {
        continue;
      }
      for (LoraModule m : adapter.targets()) {
        NDArray b = adapter.b(l, m);
        float[] values = new float[Math.toIntExact(b.size())];
        for (int i = 0; i < values.length; i++) {
          values[i] = (float) (random.nextDouble() - 0.5) * 0.2f;
        }
        b.set(values);
      }
    }
  }
}
