package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;
import java.util.Arrays;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The native element-wise kernels of passes without gradients against libtorch's operations: each
 * on its own ({@link TorchLayerOps} as the reference), and whole passes of the shipped model with
 * per-row positions, left padding and a KV cache.
 */
class NativeLayerOpsTest {
  private static final float EPS = 1e-5f;

  @Test
  void normsAndTheResidualSumAgreeWithLibtorch() {
    assumeTrue(NativeKernels.available());
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.randomNormal(new Shape(3, 5, 40)); // 40: partial sums of 16 and a tail
      NDArray delta = m.randomNormal(new Shape(3, 5, 40));
      NDArray weight = m.randomUniform(0.5f, 1.5f, new Shape(40));
      LayerOps want = torch(m, new long[0], 0, 0, 8);
      LayerOps got = nativeOps(m, new long[0], 0, 0, 8);
      assertClose(got.norm(x, weight), want.norm(x, weight), 1e-5f);

      NDArray[] expected = want.addNorm(x, delta, weight); // before x changes
      float[] sum = expected[0].toFloatArray();
      float[] norm = expected[1].toFloatArray();
      NDArray[] actual = got.addNorm(x, delta, weight);
      assertThat(actual[0]).as("the sum is written into x").isSameAs(x);
      assertClose(x.toFloatArray(), sum, 1e-6f);
      assertClose(actual[1].toFloatArray(), norm, 1e-5f);
    }
  }

  /** Rows with their own positions (and rows sharing one set), queries and grouped key heads. */
  @ParameterizedTest
  @CsvSource({"6, 32, true", "2, 32, false", "4, 8, true", "3, 12, false"})
  void rotaryEmbeddingAgreesWithLibtorch(int heads, int headDim, boolean ownPositions) {
    assumeTrue(NativeKernels.available());
    int batch = 3;
    int time = 4;
    int positionRows = ownPositions ? batch : 1;
    long[] positions = new long[positionRows * time];
    for (int i = 0; i < positions.length; i++) {
      positions[i] = (7L * i + 3) % 20; // any order: each token looks its own position up
    }
    try (NDManager m = NDManager.newBaseManager()) {
      LayerOps want = torch(m, positions, positionRows, time, headDim);
      LayerOps got = nativeOps(m, positions, positionRows, time, headDim);
      NDArray projection = m.randomNormal(new Shape(batch, time, (long) heads * headDim));
      for (boolean query : new boolean[] {true, false}) {
        NDArray expected = want.rotary(projection, heads, query);
        NDArray actual = got.rotary(projection, heads, query);
        assertThat(actual.getShape()).isEqualTo(new Shape(batch, heads, time, headDim));
        assertClose(actual, expected, 1e-5f);
      }
    }
  }

  @Test
  void swigluAgreesWithLibtorch() {
    assumeTrue(NativeKernels.available());
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray gate = m.randomNormal(0, 4, new Shape(2, 3, 37), ai.djl.ndarray.types.DataType.FLOAT32);
      NDArray up = m.randomNormal(new Shape(2, 3, 37));
      float[] want = torch(m, new long[0], 0, 0, 8).swiglu(gate, up).toFloatArray();
      NDArray got = nativeOps(m, new long[0], 0, 0, 8).swiglu(gate, up);
      assertClose(got.toFloatArray(), want, 1e-5f);
    }
  }

  @Test
  void refusesPositionsOutsideTheTableAndMismatchedShapes() {
    assumeTrue(NativeKernels.available());
    try (NDManager m = NDManager.newBaseManager()) {
      assertThatThrownBy(() -> nativeOps(m, new long[] {20}, 1, 1, 8))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside the rotary table");
      LayerOps ops = nativeOps(m, new long[] {1, 2}, 1, 2, 8);
      assertThatThrownBy(() -> ops.rotary(m.zeros(new Shape(1, 3, 16)), 2, true))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rotary embedding");
      assertThatThrownBy(() -> ops.norm(m.zeros(new Shape(2, 8)), m.ones(new Shape(7))))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("RMSNorm");
    }
  }

  /**
   * Whole passes of the shipped model without gradients, with and without the kernels: rows of
   * other tenants at their own positions with left padding, then decode steps over the cache.
   */
  @Test
  void passesOfTheModelAgreeWithAndWithoutTheKernels() {
    assumeTrue(NativeKernels.available());
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (BaseModel base = BaseModel.load(Path.of("models", "lorastream-tiny"));
        LoraAdapter first = CausalLmTest.randomAdapter(base, 11);
        LoraAdapter second = CausalLmTest.randomAdapter(base, 12);
        NDManager m = NDManager.newBaseManager()) {
      CausalLm kernels = new CausalLm(base, true, true);
      CausalLm torch = new CausalLm(base, true, false);
      java.util.List<LoraAdapter> adapters = Arrays.asList(first, null, second);
      float[][] got = steps(kernels, adapters, m);
      float[][] want = steps(torch, adapters, m);
      for (int s = 0; s < want.length; s++) {
        assertClose(got[s], want[s], 2e-4f);
      }
    } finally {
      JniUtils.setGradMode(gradMode);
    }
  }

  /** A prefill of three rows (left padded) and three decode steps: each pass's logits. */
  private static float[][] steps(CausalLm lm, java.util.List<LoraAdapter> adapters, NDManager m) {
    float[][] out = new float[4][];
    try (NDManager pass = m.newSubManager(); CausalLm.KvCache cache = new CausalLm.KvCache(lm.base());
        NDScope scope = new NDScope()) {
      RowLora lora = RowLora.gather(lm.base(), adapters, pass);
      long[] tokens = {0, 0, 5, 9, 13, 40, 41, 42, 43, 44, 0, 7, 8, 9, 10}; // (3, 5), rows 0 and 2 padded
      int[] positions = {-2, 0, -1};
      int[] firstSlots = {2, 0, 1};
      out[0] = lm.forwardRows(pass.create(tokens).reshape(3, 5), lora, positions, firstSlots, cache).toFloatArray();
      for (int s = 1; s < 4; s++) {
        int[] at = {2 + s, 4 + s, 3 + s};
        out[s] = lm.forwardRows(pass.create(new long[] {60 + s, 70 + s, 80 + s}).reshape(3, 1), lora, at,
            firstSlots, cache).toFloatArray();
      }
    }
    return out;
  }

  private static LayerOps torch(NDManager m, long[] positions, int rows, int time, int headDim) {
    return new TorchLayerOps(m, EPS, positions, rows, time, table(m, headDim, 0.5f), table(m, headDim, 1f),
        rotateHalf(m, headDim));
  }

  private static LayerOps nativeOps(NDManager m, long[] positions, int rows, int time, int headDim) {
    return new NativeLayerOps(EPS, positions, rows, time, table(m, headDim, 0.5f), table(m, headDim, 1f));
  }

  /** A (20, 2 · headDim) table of distinct values, so a wrong position or column shows. */
  private static NDArray table(NDManager m, int headDim, float scale) {
    float[] values = new float[20 * 2 * headDim];
    for (int i = 0; i < values.length; i++) {
      values[i] = scale * (float) Math.sin(0.37 * i + 1);
    }
    return m.create(values, new Shape(20, 2L * headDim));
  }

  private static NDArray rotateHalf(NDManager m, int headDim) {
    int half = headDim / 2;
    float[] r = new float[headDim * headDim];
    for (int j = 0; j < half; j++) {
      r[(j + half) * headDim + j] = -1f;
      r[j * headDim + j + half] = 1f;
    }
    return m.create(r, new Shape(headDim, headDim));
  }

  private static void assertClose(NDArray got, NDArray want, float tolerance) {
    assertThat(got.getShape()).isEqualTo(want.getShape());
    assertClose(got.toFloatArray(), want.toFloatArray(), tolerance);
  }

  private static void assertClose(float[] got, float[] want, float tolerance) {
    assertThat(got).hasSameSizeAs(want);
    for (int i = 0; i < want.length; i++) {
      assertThat(got[i]).as("element %d", i).isCloseTo(want[i], Offset.offset(tolerance * Math.max(1, Math.abs(want[i]))));
    }
  }
}
