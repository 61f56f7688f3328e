package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.ByteBuffer;

/**
 * Hand-run probe of the per-row LoRA kernel ({@link NativeRowLora#addInto}, rank 8) at the shapes
 * of lorastream-tiny's decode steps and prefills, rows in slots as wide as an all-linear r 8
 * adapter's. Run it twice, alternated, to compare the AVX-512 path with the 8-float one:
 *
 * <pre>
 * java -Dai.djl.pytorch.num_threads=1 -cp "target/test-classes:target/classes:target/lib/*" \
 *   io.lorastream.model.RowLoraKernelProbe
 * LORASTREAM_ROW_LORA_AVX2=1 java ... io.lorastream.model.RowLoraKernelProbe
 * </pre>
 *
 * Prints three rounds of µs per call (20,000 calls after 2,000 unmeasured) per shape.
 */
public final class RowLoraKernelProbe {
  private RowLoraKernelProbe() {}

  /** (rows, tokens per row, in, out): decode projections of 32 and 64 rows, and a 4-prompt prefill. */
  private static final int[][] CASES = {{32, 1, 192, 512}, {32, 1, 512, 192}, {64, 1, 192, 192}, {4, 16, 192, 512}};
  private static final int RANK = 8;
  private static final long SLOT_WIDTH = 108_544; // floats in an all-linear r 8 slot of lorastream-tiny

  public static void main(String[] args) {
    if (!NativeKernels.available()) {
      System.out.println("liblorastream_kernels.so is not loaded: nothing to measure");
      return;
    }
    try (NDManager m = NDManager.newBaseManager()) {
      JniUtils.setGradMode(false); // once the engine is loaded
      for (int round = 0; round < 3; round++) {
        StringBuilder line = new StringBuilder("round " + round + ":");
        for (int[] c : CASES) {
          int rows = c[0];
          int in = c[2];
          int out = c[3];
          try (NDManager scope = m.newSubManager()) {
            NDArray stack = scope.randomNormal(new Shape(rows, SLOT_WIDTH));
            NDArray x = scope.randomNormal(new Shape(rows, c[1], in));
            NDArray y = scope.zeros(new Shape(rows, c[1], out));
            ByteBuffer slots = NativeKernels.memory(stack);
            long aOffset = 1_000;
            long bOffset = aOffset + (long) in * RANK;
            for (int i = 0; i < 2_000; i++) {
              NativeRowLora.addInto(y, x, slots, SLOT_WIDTH, aOffset, bOffset, RANK);
            }
            int calls = 20_000;
            long start = System.nanoTime();
            for (int i = 0; i < calls; i++) {
              NativeRowLora.addInto(y, x, slots, SLOT_WIDTH, aOffset, bOffset, RANK);
            }
            line.append(String.format("  %d×%d %d→%d: %.1f µs", rows, c[1], in, out,
                (System.nanoTime() - start) / 1e3 / calls));
          }
        }
        System.out.println(line);
      }
    }
  }
}
