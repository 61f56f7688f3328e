package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import java.nio.ByteBuffer;

/**
 * The per-row LoRA term of a decode batch computed by {@code liblorastream_kernels.so}
 * (src/main/native/row_lora.c) straight from {@link LoraSlots}' stack: one pass over each row's
 * factors, added into the base projection's output in place, where libtorch runs two batched
 * products (one small matrix-vector product per row each) and an add.
 *
 * <p>Without the library ({@link NativeKernels}), or for arrays not in F32 on the CPU, {@link
 * RowLora} keeps libtorch's products; results agree to float rounding.
 */
final class NativeRowLora {
  /** The largest rank the kernel takes (MAX_RANK in row_lora.c). */
  static final int MAX_RANK = 256;

  private NativeRowLora() {}

  /**
   * {@code y[b, t, :] += (x[b, t, :] Aᵀ_b) (s·B_b)ᵀ} for every row b, whose factors are in slot b
   * of {@code slots}.
   *
   * @param y (rows, tokens, out) F32, contiguous, written in place: a projection's fresh output
   * @param x (rows, tokens, in) F32 (copied first when not contiguous)
   * @param slots the rows' slots, {@code slotWidth} floats each, from {@link NativeKernels#memory}
   * @param aOffset float offset of Aᵀ (in, rank) in a slot
   * @param bOffset float offset of (s·B)ᵀ (rank, out) in a slot
   */
  static void addInto(NDArray y, NDArray x, ByteBuffer slots, long slotWidth, long aOffset, long bOffset,
      int rank) {
    long rows = y.getShape().get(0);
    if (rows == 0) {
      return;
    }
    long positions = y.getShape().size() / Math.max(1, y.getShape().tail());
    int in = Math.toIntExact(x.getShape().tail());
    int out = Math.toIntExact(y.getShape().tail());
    if (x.getShape().size() != positions * in || rank <= 0 || rank > MAX_RANK
        || slotWidth * rows * Float.BYTES > slots.capacity()) {
      throw new IllegalArgumentException("row LoRA shapes do not match: x " + x.getShape() + ", y " + y.getShape()
          + ", " + rows + " slots of " + slotWidth + " floats in " + slots.capacity() + " bytes");
    }
    addRowLora(NativeKernels.memory(x), slots, slotWidth, aOffset, bOffset, NativeKernels.memory(y),
        Math.toIntExact(rows), Math.toIntExact(positions / rows), in, rank, out);
  }

  /**
   * Lays out one projection of an adapter in a slot as {@link LoraSlots} describes it: {@code Aᵀ}
   * (in, rankMax) then {@code (s·B)ᵀ} (rankMax, out), zeros beyond the adapter's rank; all zeros
   * when {@code a} is null (a projection the adapter leaves alone). The values equal libtorch's
   * layout bit for bit: a transposed copy, and {@code s·B} as one float multiplication each.
   *
   * @param slots the slots' memory, from {@link NativeKernels#memory}
   * @param offset float offset of the projection in the slots
   * @param a (rank, in) F32, or null
   * @param b (out, rank) F32, or null with {@code a}
   */
  static void writeSlot(ByteBuffer slots, long offset, NDArray a, NDArray b, int in, int out, int rankMax,
      float scale) {
    int rank = a == null ? 0 : Math.toIntExact(a.getShape().get(0));
    if (offset < 0 || (offset + (long) (in + out) * rankMax) * Float.BYTES > slots.capacity() || rank > rankMax
        || (a != null && (a.getShape().size() != (long) rank * in || b.getShape().size() != (long) out * rank))) {
      throw new IllegalArgumentException("slot layout does not fit: offset " + offset + ", in " + in + ", out " + out
          + ", rank " + rank + " of " + rankMax + ", " + slots.capacity() + " bytes"
          + (a == null ? "" : ", A " + a.getShape() + ", B " + b.getShape()));
    }
    writeSlot(slots, offset, a == null ? null : NativeKernels.memory(a), b == null ? null : NativeKernels.memory(b),
        in, out, rank, rankMax, scale);
  }

  private static native void writeSlot(ByteBuffer slots, long offset, ByteBuffer a, ByteBuffer b, int in,
      int out, int rank, int rankMax, float scale);

  private static native void addRowLora(ByteBuffer x, ByteBuffer slots, long slotWidth, long aOffset,
      long bOffset, ByteBuffer y, int rows, int tokens, int in, int rank, int out);
}
