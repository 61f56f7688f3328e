package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;

/**
 * The attention of a decode step, one new token per row, computed by {@code
 * liblorastream_kernels.so} (src/main/native/decode_attention.c) in one call, where libtorch runs
 * about nine operations per layer; results agree to float rounding. {@link CausalLm} uses it for
 * steps over a KV cache when the library is loaded ({@link NativeKernels}) and the arrays are F32
 * on the CPU.
 */
final class NativeAttention {
  private NativeAttention() {}

  /**
   * Grouped-query attention of each row's one query position over its cached slots {@code
   * firstSlots[b] ..}.
   *
   * @param q (B, H, 1, hd) queries, already scaled by 1/sqrt(hd)
   * @param keys (B, KV, S, hd) the cache's keys, this step's included
   * @param values (B, KV, S, hd)
   * @param firstSlots (B) each row's first slot (earlier ones are left padding)
   * @return (B, 1, H·hd), the heads side by side as the output projection takes them
   */
  static NDArray decode(NDArray q, NDArray keys, NDArray values, int[] firstSlots) {
    Shape qs = q.getShape();
    Shape ks = keys.getShape();
    int rows = Math.toIntExact(qs.get(0));
    int heads = Math.toIntExact(qs.get(1));
    int headDim = Math.toIntExact(qs.get(3));
    int kvHeads = Math.toIntExact(ks.get(1));
    int slots = Math.toIntExact(ks.get(2));
    if (!NativeKernels.fits(q) || !NativeKernels.fits(keys) || qs.get(2) != 1 || ks.get(0) != rows
        || ks.get(3) != headDim || !ks.equals(values.getShape()) || heads % kvHeads != 0
        || firstSlots.length != rows) {
      throw new IllegalArgumentException("decode attention needs F32 CPU arrays of matching shapes: q " + qs
          + ", keys " + ks + ", values " + values.getShape() + ", " + firstSlots.length + " rows' first slots");
    }
    for (int first : firstSlots) {
      if (first >= slots) {
        throw new IllegalArgumentException("a row's first slot " + first + " is past the cache's " + slots);
      }
    }
    NDArray out = q.getManager().create(new Shape(rows, 1, (long) heads * headDim), DataType.FLOAT32); // all written
    decode(NativeKernels.memory(q), NativeKernels.memory(keys), NativeKernels.memory(values), firstSlots,
        NativeKernels.memory(out), rows, heads, kvHeads, slots, headDim);
    return out;
  }

  private static native void decode(ByteBuffer q, ByteBuffer keys, ByteBuffer values, int[] firstSlots,
      ByteBuffer out, int rows, int heads, int kvHeads, int slots, int headDim);
}
