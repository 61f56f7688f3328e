package io.lorastream.model;

import ai.djl.ndarray.NDArray;

/**
 * The element-wise parts of one forward pass's decoder layers: RMSNorm, the residual sum, the
 * rotary embedding and SwiGLU's product. {@link TorchLayerOps} runs libtorch's operations (with
 * gradients, on any device); {@link NativeLayerOps} runs {@code liblorastream_kernels.so}'s
 * kernels, one call each, for passes without gradients on F32 CPU arrays. One instance serves one
 * pass: it holds the pass's positions.
 */
interface LayerOps {
  /** RMSNorm of each row of {@code x} (.., dim), times {@code weight} (dim). */
  NDArray norm(NDArray x, NDArray weight);

  /**
   * The residual sum and the next norm: {@code x + delta} and its RMSNorm times {@code weight}.
   * May add into {@code x} in place (then the sum returned is {@code x}).
   *
   * @return {sum, norm of the sum}
   */
  NDArray[] addNorm(NDArray x, NDArray delta, NDArray weight);

  /**
   * The rotary embedding of a projection's heads, as the attention takes them.
   *
   * @param projection (B, T, heads · head_dim)
   * @param query queries (their factors carry 1/sqrt(head_dim)) or keys
   * @return (B, heads, T, head_dim)
   */
  NDArray rotary(NDArray projection, int heads, boolean query);

  /** SwiGLU's {@code silu(gate) · up}; may write into {@code gate}. */
  NDArray swiglu(NDArray gate, NDArray up);
}
