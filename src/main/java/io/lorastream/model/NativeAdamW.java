package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import java.nio.ByteBuffer;
import java.util.Collection;

/**
 * One tenant's AdamW update over all of its LoRA parameters in one call to {@code
 * liblorastream_kernels.so} (src/main/native/adamw.c), where libtorch runs about six operations
 * per parameter: the same float32 arithmetic as {@link LoraTrainer#applyAdamW}'s libtorch path
 * except the gradient norm, which it sums in double. Used when the library is loaded ({@link
 * NativeKernels}) and every array is F32 on the CPU; {@code -Dlorastream.kernels=off} keeps
 * libtorch's operations.
 */
final class NativeAdamW {
  private NativeAdamW() {}

  /** Whether the kernel can update these parameters and moments. */
  static boolean fits(Collection<NDArray> parameters, NDArray expAvg) {
    if (!NativeKernels.available() || !NativeKernels.fits(expAvg)) {
      return false;
    }
    for (NDArray p : parameters) {
      if (!NativeKernels.fits(p)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Clips the parameters' gradients to {@code maxGradNorm} (none when 0), updates the moments and
   * the parameters in place, and zeroes the gradients.
   *
   * @param parameters contiguous F32 arrays with gradients, in the moments' order
   * @param expAvg (P) first moments, P the parameters' values in all
   * @param expAvgSq (P) second moments
   * @param decay {@code 1 - lr × weight decay}
   */
  static void update(Collection<NDArray> parameters, NDArray expAvg, NDArray expAvgSq, float maxGradNorm,
      float beta1, float beta2, float stepSize, float bias2Root, float epsilon, float decay) {
    ByteBuffer[] values = new ByteBuffer[parameters.size()];
    ByteBuffer[] gradients = new ByteBuffer[parameters.size()];
    long total = 0;
    int i = 0;
    for (NDArray p : parameters) {
      values[i] = NativeKernels.memory(p);
      gradients[i] = NativeKernels.memory(p.getGradient());
      if (values[i].capacity() != gradients[i].capacity()) {
        throw new IllegalArgumentException("parameter " + i + " and its gradient differ in size");
      }
      total += values[i].capacity() / Float.BYTES;
      i++;
    }
    if (total != expAvg.size() || total != expAvgSq.size()) {
      throw new IllegalArgumentException("moments of " + expAvg.size() + " values for " + total + " parameter values");
    }
    update(values, gradients, NativeKernels.memory(expAvg), NativeKernels.memory(expAvgSq), maxGradNorm,
        beta1, beta2, stepSize, bias2Root, epsilon, decay);
  }

  private static native void update(ByteBuffer[] parameters, ByteBuffer[] gradients, ByteBuffer expAvg,
      ByteBuffer expAvgSq, float maxGradNorm, float beta1, float beta2, float stepSize, float bias2Root,
      float epsilon, float decay);
}
