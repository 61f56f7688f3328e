package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Hand-run probe of libtorch's fp32 matrix-product rate at the shapes lorastream-tiny trains and
 * serves with, to compare MKL's kernels with and without {@code liblorastream_mkl.so} preloaded
 * ({@link MklKernels}): run it twice, side by side, once with {@code LD_PRELOAD} set and once without.
 *
 * <pre>
 * java -Dai.djl.pytorch.num_threads=1 -cp "target/test-classes:target/classes:target/lib/*" \
 *   io.lorastream.model.MatmulKernelProbe
 * </pre>
 *
 * Prints, per shape, the best of 15 rounds of 20 products in GFLOP/s (2·m·k·n per product).
 */
public final class MatmulKernelProbe {
  private MatmulKernelProbe() {}

  /** (m, k, n): a 1024³ product; a training step's MLP (8 rows × 56 tokens, 192 → 512); one decode row's MLP. */
  private static final int[][] SHAPES = {{1024, 1024, 1024}, {448, 192, 512}, {8, 192, 512}};

  public static void main(String[] args) {
    System.out.printf("MKL vendor check answered: %s; CPU vendor %s%n", MklKernels.vendorCheckAnswered(),
        MklKernels.cpuVendor().orElse("unknown"));
    try (NDManager m = NDManager.newBaseManager()) {
      for (int[] s : SHAPES) {
        NDArray x = m.randomNormal(new Shape(s[0], s[1])); // (m, k)
        NDArray y = m.randomNormal(new Shape(s[1], s[2])); // (k, n)
        int reps = 20;
        double best = Double.MAX_VALUE;
        for (int round = 0; round < 15; round++) {
          long t = System.nanoTime();
          for (int i = 0; i < reps; i++) {
            try (NDArray z = x.matMul(y)) { // (m, n)
              z.getShape();
            }
          }
          best = Math.min(best, (System.nanoTime() - t) / 1e9 / reps);
        }
        double flops = 2.0 * s[0] * s[1] * s[2];
        System.out.printf("(%d x %d) x (%d x %d): %.3f ms, %.1f GFLOP/s%n", s[0], s[1], s[1], s[2], best * 1e3,
            flops / best / 1e9);
      }
    }
  }
}
