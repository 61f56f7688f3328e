package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * LoRA factors gathered per row, so rows of different tenants (and of the base model) share one
 * forward pass: for an adapted projection, {@code x (B, T, in) -> (x A_rowᵀ) (B, T, r) ->
 * (.. B_rowᵀ) (B, T, out) * s_row} with batched matrix products on transposed views of the
 * stacks (no copy beyond the stacking itself, which runs whenever a batch's rows change). In
 * inference (grad mode off), when every row has the same adapter nothing is stacked: its own
 * factors, transposed and B scaled once, serve all rows in two products per projection. Training
 * always stacks, so a tenant's gradients do not depend on whether it shares a step.
 *
 * <p>A row without an adapter, or whose adapter leaves a projection alone, gets zero factors: its
 * LoRA term is exactly 0 and its output exactly the base projection's. Adapters of lower rank
 * are padded with zero rows of A and columns of B to the largest rank in the batch, which adds
 * exact zeros. Stacking keeps autograd's graph: the gradient of a tenant's A and B is the sum over
 * its rows, as in a forward pass of that tenant alone.
 *
 * <p>A decode batch's rows on the CPU ({@link #ofKernelSlots}) skip the products: {@link
 * NativeRowLora} reads each row's factors from {@link LoraSlots}' stack and adds the term into the
 * base projection's output.
 */
final class RowLora implements CausalLm.LoraTerm {
  private final int rows;
  // [layer][module]: Aᵀ (B, in, r_max), or (in, r) when all rows share one adapter; null when no
  // row adapts the projection
  private final NDArray[][] aT;
  // [layer][module]: Bᵀ (B, r_max, out), or (s B)ᵀ (r, out) when shared
  private final NDArray[][] bT;
  private final NDArray scale; // (B, 1, 1) each row's alpha / r (0 for the base model); null when shared
  private final RowDropout dropout; // null without LoRA dropout
  private final KernelSlots kernel; // non-null: the native kernel computes the term (aT, bT unused)

  /**
   * Rows' factors where {@link NativeRowLora} reads them: row b's slot starts {@code b · width}
   * floats into {@code memory}.
   *
   * @param aOffset [layer][module]: float offset of Aᵀ (in, rank) in a slot, -1 where no row
   *     adapts the projection
   * @param bOffset [layer][module]: float offset of (s·B)ᵀ (rank, out)
   */
  record KernelSlots(
      java.nio.ByteBuffer memory, long width, long[][] aOffset, long[][] bOffset, int rank, LlamaConfig config) {}

  private RowLora(int rows, NDArray[][] aT, NDArray[][] bT, NDArray scale, RowDropout dropout) {
    this(rows, aT, bT, scale, dropout, null);
  }

  private RowLora(int rows, NDArray[][] aT, NDArray[][] bT, NDArray scale, RowDropout dropout,
      KernelSlots kernel) {
    this.rows = rows;
    this.aT = aT;
    this.bT = bT;
    this.scale = scale;
    this.dropout = dropout;
    this.kernel = kernel;
  }

  /**
   * Stacks the factors of each row's adapter.
   *
   * @param adapters one per row; null for a row of the base model
   * @param manager where the zero factors and scales are created (a scope registers everything
   *     this creates)
   */
  static RowLora gather(BaseModel base, List<LoraAdapter> adapters, NDManager manager) {
    return gather(base, adapters, manager, null);
  }

  static RowLora gather(
      BaseModel base, List<LoraAdapter> adapters, NDManager manager, RowDropout dropout) {
    LlamaConfig c = base.config();
    int rank = 0;
    float[] scales = new float[adapters.size()];
    for (int row = 0; row < adapters.size(); row++) {
      LoraAdapter adapter = adapters.get(row);
      if (adapter != null) {
        if (!adapter.baseModelSha256().equals(base.weightsSha256())) {
          throw new IllegalArgumentException(
              "adapter was made for base model " + adapter.baseModelSha256() + ", not "
                  + base.weightsSha256());
        }
        rank = Math.max(rank, adapter.config().rank());
        scales[row] = adapter.config().scale();
      }
    }
    int modules = LoraModule.values().length;
    NDArray[][] aT = new NDArray[c.numHiddenLayers()][modules];
    NDArray[][] bT = new NDArray[c.numHiddenLayers()][modules];
    RowDropout rowDropout = dropout == null || dropout.isEmpty() ? null : dropout;
    LoraAdapter shared = ai.djl.pytorch.jni.JniUtils.isGradMode() ? null : sharedAdapter(adapters);
    if (shared != null) {
      NDArray s = manager.full(new Shape(), shared.config().scale());
      for (int l = 0; l < c.numHiddenLayers(); l++) {
        for (LoraModule m : LoraModule.values()) {
          if (shared.a(l, m) != null) {
            aT[l][m.ordinal()] = shared.a(l, m).transpose(); // (in, r)
            bT[l][m.ordinal()] = shared.b(l, m).mul(s).transpose(); // (r, out)
          }
        }
      }
      return new RowLora(adapters.size(), aT, bT, null, rowDropout);
    }
    NDArray scale = manager.create(scales, new Shape(adapters.size(), 1, 1));
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      for (LoraModule m : LoraModule.values()) {
        boolean adapted = false;
        for (LoraAdapter adapter : adapters) {
          adapted |= adapter != null && adapter.a(l, m) != null;
        }
        if (!adapted) {
          continue;
        }
        int in = m.inFeatures(c);
        int out = m.outFeatures(c);
        NDArray zeroA = null;
        NDArray zeroB = null;
        Map<LoraAdapter, NDArray[]> padded = new IdentityHashMap<>();
        List<NDArray> as = new ArrayList<>(adapters.size());
        List<NDArray> bs = new ArrayList<>(adapters.size());
        for (LoraAdapter adapter : adapters) {
          if (adapter == null || adapter.a(l, m) == null) {
            if (zeroA == null) {
              zeroA = manager.zeros(new Shape(rank, in), DataType.FLOAT32);
              zeroB = manager.zeros(new Shape(out, rank), DataType.FLOAT32);
            }
            as.add(zeroA);
            bs.add(zeroB);
            continue;
          }
          final int layer = l;
          final int maxRank = rank;
          NDArray[] ab =
              padded.computeIfAbsent(adapter, ad -> padToRank(ad, layer, m, maxRank, manager));
          as.add(ab[0]);
          bs.add(ab[1]);
        }
        aT[l][m.ordinal()] = NDArrays.stack(new NDList(as)).transpose(0, 2, 1); // (B, in, r_max)
        bT[l][m.ordinal()] = NDArrays.stack(new NDList(bs)).transpose(0, 2, 1); // (B, r_max, out)
      }
    }
    return new RowLora(adapters.size(), aT, bT, scale, rowDropout);
  }

  /**
   * Rows whose factors are already stacked with their scale folded into B (as {@link LoraSlots}
   * keeps them).
   *
   * @param aT [layer][module]: Aᵀ (rows, in, r), null where no row adapts the projection
   * @param scaledBT [layer][module]: (s·B)ᵀ (rows, r, out)
   */
  static RowLora ofScaledSlots(int rows, NDArray[][] aT, NDArray[][] scaledBT) {
    return new RowLora(rows, aT, scaledBT, null, null);
  }

  /** Rows whose term {@link NativeRowLora} computes from their slots; inference only. */
  static RowLora ofKernelSlots(int rows, KernelSlots slots) {
    int layers = slots.config().numHiddenLayers();
    int modules = LoraModule.values().length;
    return new RowLora(rows, new NDArray[layers][modules], new NDArray[layers][modules], null, null, slots);
  }

  /**
   * The same factors for {@code count} rows; only for one adapter's shared factors, which fit any
   * number of rows.
   */
  RowLora withRows(int count) {
    if (kernel != null) {
      throw new IllegalStateException("slot factors are for " + rows + " rows");
    }
    for (NDArray[] layer : aT) {
      for (NDArray a : layer) {
        if (a != null && a.getShape().dimension() != 2) {
          throw new IllegalStateException("stacked factors are for " + rows + " rows");
        }
      }
    }
    return count == rows ? this : new RowLora(count, aT, bT, scale, dropout);
  }

  /** The adapter of every row when all rows have the same one, else null. */
  private static LoraAdapter sharedAdapter(List<LoraAdapter> adapters) {
    LoraAdapter first = adapters.isEmpty() ? null : adapters.get(0);
    for (LoraAdapter adapter : adapters) {
      if (adapter != first) {
        return null;
      }
    }
    return first;
  }

  /** A (r_max, in) and B (out, r_max) of one adapter, zero-padded from its own rank. */
  private static NDArray[] padToRank(
      LoraAdapter adapter, int l, LoraModule m, int maxRank, NDManager manager) {
    NDArray a = adapter.a(l, m); // (r, in)
    NDArray b = adapter.b(l, m); // (out, r)
    int missing = maxRank - adapter.config().rank();
    if (missing == 0) {
      return new NDArray[] {a, b};
    }
    Shape as = a.getShape();
    Shape bs = b.getShape();
    return new NDArray[] {
      a.concat(manager.zeros(new Shape(missing, as.get(1)), DataType.FLOAT32), 0),
      b.concat(manager.zeros(new Shape(bs.get(0), missing), DataType.FLOAT32), 1)
    };
  }

  int rows() {
    return rows;
  }

  @Override
  public NDArray apply(NDArray x, int layer, LoraModule module) {
    if (kernel != null) {
      if (kernel.aOffset()[layer][module.ordinal()] < 0) {
        return null;
      }
      Shape in = x.getShape();
      long out = module.outFeatures(kernel.config());
      NDArray delta = x.getManager().zeros(in.slice(0, in.dimension() - 1).add(out), DataType.FLOAT32);
      return addTo(delta, x, layer, module);
    }
    NDArray rowA = aT[layer][module.ordinal()];
    if (rowA == null) {
      return null;
    }
    NDArray input = dropout == null ? x : dropout.apply(x, layer, module);
    NDArray delta = input.matMul(rowA) // (B, T, r)
        .matMul(bT[layer][module.ordinal()]); // (B, T, out)
    return scale == null ? delta : delta.mul(scale);
  }

  /** As the default, but adds the native kernel's term into {@code y} in place where it computes it. */
  @Override
  public NDArray addTo(NDArray y, NDArray x, int layer, LoraModule module) {
    if (kernel == null) {
      return CausalLm.LoraTerm.super.addTo(y, x, layer, module);
    }
    long aOffset = kernel.aOffset()[layer][module.ordinal()];
    if (aOffset >= 0) {
      NativeRowLora.addInto(y, x, kernel.memory(), kernel.width(), aOffset,
          kernel.bOffset()[layer][module.ordinal()], kernel.rank());
    }
    return y;
  }

  /** Moves the stacked factors out of the current NDScope onto {@code manager}. */
  RowLora keepOn(NDManager manager) {
    for (NDArray[][] factors : new NDArray[][][] {aT, bT}) {
      for (NDArray[] layer : factors) {
        for (NDArray array : layer) {
          keep(array, manager);
        }
      }
    }
    keep(scale, manager);
    return this;
  }

  private static void keep(NDArray array, NDManager manager) {
    if (array != null) {
      NDScope.unregister(array);
      array.attach(manager);
    }
  }

  /**
   * LoRA dropout of rows grouped by tenant (contiguous blocks), each tenant drawing from its own
   * mask stream exactly as its separate training step would: the masks of its (rows, own length,
   * in) block in the same order, padding positions kept.
   */
  static final class RowDropout {
    record Block(int firstRow, int rowCount, int length, LoraAdapter adapter, CausalLm.LoraDropout dropout) {}

    private final List<Block> blocks;

    RowDropout(List<Block> blocks) {
      this.blocks = List.copyOf(blocks);
    }

    boolean isEmpty() {
      return blocks.stream().allMatch(block -> block.dropout() == null);
    }

    NDArray apply(NDArray x, int layer, LoraModule module) {
      Shape shape = x.getShape(); // (B, T, in)
      int time = Math.toIntExact(shape.get(1));
      int in = Math.toIntExact(shape.get(2));
      float[] mask = new float[Math.toIntExact(shape.size())];
      java.util.Arrays.fill(mask, 1f);
      for (Block block : blocks) {
        if (block.dropout() == null || block.adapter().a(layer, module) == null) {
          continue;
        }
        float[] drawn = block.dropout().draw(block.rowCount() * block.length() * in);
        for (int r = 0; r < block.rowCount(); r++) {
          System.arraycopy(
              drawn, r * block.length() * in,
              mask, (block.firstRow() + r) * time * in,
              block.length() * in);
        }
      }
      // Created from a Java buffer: it stays open (in the step's scope) until after backward.
      return x.mul(x.getManager().create(mask, shape));
    }
  }
}
