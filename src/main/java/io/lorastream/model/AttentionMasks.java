package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * Attention masks in the grouped-query layout of {@link CausalLm}'s layers: (R, 1, n·T, S), row
 * {@code j·T + t} being query head j of a key/value head at time t (so it depends on t only), 0
 * where a query sees a slot and a large negative value where it does not; added to the scores.
 *
 * <p>On the CPU a mask is filled on the host and wrapped (a few Java loops cost less than
 * libtorch's per-operation overhead). On another device (a GPU) it is computed there from the few
 * indices it depends on, so a step uploads R (or B·T) integers instead of R·n·T·S numbers. Both
 * give the same values bit for bit ({@code AttentionMasksTest}).
 */
final class AttentionMasks {
  private final int group; // n: query heads per key/value head
  private final DataType type; // the pass's number type
  private final float masked; // the value where a query does not see a slot
  private final boolean onDevice;

  /**
   * @param group query heads per key/value head
   * @param type the number type of the scores the mask is added to
   * @param masked the value of a slot a query does not see; finite, so a row masked whole stays finite
   * @param onDevice compute the mask on the manager's device rather than fill it on the host
   */
  AttentionMasks(int group, DataType type, float masked, boolean onDevice) {
    this.group = group;
    this.type = type;
    this.masked = masked;
    this.onDevice = onDevice;
  }

  /**
   * (R, 1, n·T, S): query t of row r sees slots {@code firstSlot[r] .. held + t} (clipped to
   * 0 .. S-1).
   */
  NDArray causal(NDManager m, int rows, int time, int slots, int[] firstSlot, int held) {
    if (onDevice) {
      NDArray from = m.create(firstSlot, new Shape(rows, 1, 1, 1)); // (R, 1, 1, 1)
      NDArray to = m.arange(held, held + time, 1, DataType.INT32).tile(group)
          .reshape(1, 1, (long) group * time, 1); // (1, 1, n·T, 1): held + t
      return fromBounds(m, from, to, slots);
    }
    float[] mask = new float[rows * group * time * slots];
    Arrays.fill(mask, masked);
    for (int r = 0; r < rows; r++) {
      for (int t = 0; t < time; t++) {
        int from = Math.max(0, firstSlot[r]);
        int to = Math.min(slots, held + t + 1);
        for (int j = 0; j < group; j++) {
          int row = ((r * group + j) * time + t) * slots;
          if (to > from) {
            Arrays.fill(mask, row + from, row + to, 0f);
          }
        }
      }
    }
    return wrap(m, mask, rows, time, slots);
  }

  /**
   * (B, 1, n·T, T) of packed rows: query t of row b sees slots {@code attendFrom[b·T + t] .. t}.
   */
  NDArray packed(NDManager m, int rows, int time, int[] attendFrom) {
    if (onDevice) {
      NDArray from = m.create(attendFrom, new Shape(rows, 1, time)).tile(new long[] {1, group, 1})
          .reshape(rows, 1, (long) group * time, 1); // (B, 1, n·T, 1): attendFrom[b·T + t]
      NDArray to = m.arange(0, time, 1, DataType.INT32).tile(group)
          .reshape(1, 1, (long) group * time, 1); // (1, 1, n·T, 1): t
      return fromBounds(m, from, to, time);
    }
    float[] mask = new float[rows * group * time * time];
    Arrays.fill(mask, masked);
    for (int r = 0; r < rows; r++) {
      for (int t = 0; t < time; t++) {
        for (int j = 0; j < group; j++) {
          int row = ((r * group + j) * time + t) * time;
          Arrays.fill(mask, row + attendFrom[r * time + t], row + t + 1, 0f);
        }
      }
    }
    return wrap(m, mask, rows, time, time);
  }

  /** 0 where {@code from <= slot <= to}, else the masked value: 1·(-masked) + masked is exactly 0. */
  private NDArray fromBounds(NDManager m, NDArray from, NDArray to, int slots) {
    NDArray slot = m.arange(0, slots, 1, DataType.INT32).reshape(1, 1, 1, slots); // (1, 1, 1, S)
    NDArray seen = slot.gte(from).logicalAnd(slot.lte(to)); // broadcast to (R, 1, n·T, S)
    return seen.toType(type, false).mul(-masked).add(masked);
  }

  private NDArray wrap(NDManager m, float[] mask, int rows, int time, int slots) {
    NDArray array = m.create(mask, new Shape(rows, 1, (long) group * time, slots));
    return type == DataType.FLOAT32 ? array : array.toType(type, false); // no gradient flows into a mask
  }
}
