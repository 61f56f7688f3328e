package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The LoRA factors of a decode batch's rows, kept in place across steps: one F32 stack (capacity,
 * width) in which slot i holds row i's adapter, all of its projections side by side, so that a
 * row's factors go in with one copy when it joins, and rows joining or leaving elsewhere copy
 * nothing else. A step reads slots {@code from .. to-1} through views of the stack, one
 * (rows, in, r) {@code Aᵀ} and one (rows, r, out) {@code (s·B)ᵀ} per projection; views share the
 * stack's memory, so they are made once per range and stay valid while slots are rewritten.
 * Before, the rows' factors were stacked anew from the adapters whenever the rows changed, which
 * with many tenants and short answers was nearly every step and cost about as much as the step.
 *
 * <p>Layout of a slot (width floats): for every layer and projection in order, {@code Aᵀ}
 * (in, r_max) then {@code (s·B)ᵀ} (r_max, out), where {@code s = alpha / r} of the row's adapter,
 * folded in as {@link RowLora}'s one-adapter layout does. A row of the base model, or whose
 * adapter leaves a projection alone, has zeros there; an adapter of rank below r_max fills the
 * first r columns of {@code Aᵀ} and rows of {@code Bᵀ}. Both add exact zeros, so a row computes
 * what its adapter alone gives. A slot's contents are laid out from the adapter's arrays (by
 * {@link NativeRowLora#writeSlot} where the kernel library is loaded, else by libtorch) and kept
 * for the last {@code capacity} adapters, so a tenant that comes back costs one copy.
 * Capacity doubles when a slot past it is needed; r_max grows to the largest rank seen (every
 * slot is then laid out again). Not thread-safe; call with grad mode off.
 *
 * <p>With the native kernel ({@link NativeRowLora}, F32 stacks on the CPU), a range's rows need no
 * views at all: the kernel reads their slots from the stack's memory at the layout's offsets.
 */
final class LoraSlots implements AutoCloseable {
  private static final int FIRST_CAPACITY = 8;
  private static final int MAX_VIEWS = 16;

  private final BaseModel base;
  private final NDManager manager; // owns the stack, the laid-out slots and the views
  private NDArray stack; // (capacity, width)
  private LoraAdapter[] held = new LoraAdapter[0]; // what each slot holds; null = zeros
  private final Map<LoraAdapter, NDArray> laidOut = new LinkedHashMap<>(16, 0.75f, true); // (width), LRU
  private final Map<String, View> views = new HashMap<>(); // by slot range and adapted projections
  private final boolean nativeKernel; // NativeRowLora computes the terms where the stack allows
  private int capacity;
  private int rank;

  /** The views of one slot range; {@code manager} owns them. */
  private record View(RowLora lora, NDManager manager) {}

  /**
   * @param nativeKernel let {@link NativeRowLora} compute the rows' terms (when it is loaded and
   *     the stack is F32 on the CPU); false keeps libtorch's batched products
   */
  LoraSlots(BaseModel base, NDManager parent, boolean nativeKernel) {
    this.base = base;
    this.manager = parent.newSubManager();
    this.nativeKernel = nativeKernel && NativeKernels.available();
  }

  /** True when {@link NativeRowLora} computes the terms of these slots (loaded, model on the CPU). */
  boolean kernelComputes() {
    return nativeKernel && NativeKernels.fits(base.manager());
  }

  /**
   * The factors of {@code adapters} (null for the base model) as rows of one {@link RowLora},
   * placed in slots {@code from ..}: slots that already hold a row's adapter are left alone, the
   * others are written. Projections that none of these rows adapts are left out. Views of the
   * running rows ({@code from == 0}) are kept and given again while the same rows ask, valid until
   * a call grows the stack (a slot past the capacity, a larger rank); views of other ranges (rows
   * joining, for their prefill) are made in the caller's NDScope and closed with it.
   */
  RowLora rows(List<LoraAdapter> adapters, int from) {
    int to = from + adapters.size();
    int neededRank = rank;
    for (LoraAdapter adapter : adapters) {
      if (adapter != null) {
        checkBase(adapter);
        neededRank = Math.max(neededRank, adapter.config().rank());
      }
    }
    grow(Math.max(capacity, capacityFor(to)), neededRank);
    for (int i = 0; i < adapters.size(); i++) {
      if (held[from + i] != adapters.get(i)) {
        write(from + i, adapters.get(i));
      }
    }
    boolean[][] adapted = adaptedProjections(adapters);
    if (from != 0) {
      return makeView(from, to, adapted, null).lora();
    }
    String key = from + ":" + to + ":" + Arrays.deepToString(adapted);
    View view = views.get(key);
    if (view == null) {
      if (views.size() >= MAX_VIEWS) {
        closeViews();
      }
      view = makeView(from, to, adapted, manager.newSubManager());
      views.put(key, view);
    }
    return view.lora();
  }

  private void checkBase(LoraAdapter adapter) {
    if (!adapter.baseModelSha256().equals(base.weightsSha256())) {
      throw new IllegalArgumentException(
          "adapter was made for base model " + adapter.baseModelSha256() + ", not " + base.weightsSha256());
    }
  }

  /** [layer][module]: whether any of {@code adapters} adapts the projection. */
  private boolean[][] adaptedProjections(List<LoraAdapter> adapters) {
    int layers = base.config().numHiddenLayers();
    boolean[][] adapted = new boolean[layers][LoraModule.values().length];
    for (LoraAdapter adapter : adapters) {
      if (adapter == null) {
        continue;
      }
      for (int l = 0; l < layers; l++) {
        for (LoraModule m : LoraModule.values()) {
          adapted[l][m.ordinal()] |= adapter.a(l, m) != null;
        }
      }
    }
    return adapted;
  }

  /**
   * Puts the adapter's factors (or zeros) into the slot: one copy when its laid-out factors are
   * kept; otherwise laid out by the kernel straight from the adapter's arrays where it can, else by
   * libtorch ({@link #layOut}), and kept for the next time.
   */
  private void write(int slot, LoraAdapter adapter) {
    held[slot] = adapter;
    if (rank == 0) { // only base-model rows so far: nothing to hold
      return;
    }
    try (NDScope scope = new NDScope()) {
      NDArray kept = adapter == null ? null : laidOut.get(adapter);
      if (adapter == null) {
        stack.set(new NDIndex(slot), manager.zeros(new Shape(width(rank)), DataType.FLOAT32));
      } else if (kept != null) {
        stack.set(new NDIndex(slot), kept);
      } else if (nativeKernel && NativeKernels.fits(stack) && writeNatively(slot, adapter)) {
        keep(adapter, stack.get(slot).duplicate());
      } else {
        NDArray values = layOut(adapter);
        keep(adapter, values);
        stack.set(new NDIndex(slot), values);
      }
    }
  }

  /**
   * Lays the slot out with {@link NativeRowLora#writeSlot}, one call per projection: 0.1 ms or so
   * for an all-linear r 8 adapter of lorastream-tiny, where libtorch's layout takes about 170
   * operations (0.5-1 ms). That is what a tenant costs whose laid-out factors were not kept, as
   * when a batch serves more tenants in turn than it has slots.
   *
   * @return false, having written nothing, when an array of the adapter is not F32 on the CPU
   */
  private boolean writeNatively(int slot, LoraAdapter adapter) {
    LlamaConfig c = base.config();
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      for (LoraModule m : LoraModule.values()) {
        NDArray a = adapter.a(l, m);
        if (a != null && !(NativeKernels.fits(a) && NativeKernels.fits(adapter.b(l, m)))) {
          return false;
        }
      }
    }
    ByteBuffer memory = NativeKernels.memory(stack);
    float scale = adapter.config().scale();
    long offset = (long) slot * width(rank);
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      for (LoraModule m : LoraModule.values()) {
        int in = m.inFeatures(c);
        int out = m.outFeatures(c);
        NDArray a = adapter.a(l, m);
        NativeRowLora.writeSlot(memory, offset, a, a == null ? null : adapter.b(l, m), in, out, rank, scale);
        offset += (long) (in + out) * rank;
      }
    }
    return true;
  }

  /** A copy of slot {@code slot} (width floats): what the kernel or the views read. For tests. */
  float[] slotValues(int slot) {
    return stack.get(slot).toFloatArray();
  }

  /** Keeps an adapter's laid-out factors (width) for the last capacity adapters. */
  private void keep(LoraAdapter adapter, NDArray values) {
    NDScope.unregister(values); // kept across calls
    values.attach(manager);
    laidOut.put(adapter, values);
    while (laidOut.size() > Math.max(capacity, FIRST_CAPACITY)) {
      var eldest = laidOut.entrySet().iterator().next();
      if (eldest.getKey() == adapter) {
        break;
      }
      eldest.getValue().close();
      laidOut.remove(eldest.getKey());
    }
  }

  /**
   * The slot layout of the class comment, made natively in one concatenation (reading the
   * factors into Java and back cost several times more). Call inside an NDScope.
   */
  private NDArray layOut(LoraAdapter adapter) {
    LlamaConfig c = base.config();
    int r = adapter.config().rank();
    NDArray scale = manager.full(new Shape(), adapter.config().scale());
    NDList pieces = new NDList();
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      for (LoraModule m : LoraModule.values()) {
        int in = m.inFeatures(c);
        int out = m.outFeatures(c);
        NDArray a = adapter.a(l, m); // (r, in)
        if (a == null) {
          pieces.add(manager.zeros(new Shape((long) (in + out) * rank), DataType.FLOAT32));
          continue;
        }
        NDArray aT = a.transpose(); // (in, r)
        NDArray scaledBT = adapter.b(l, m).mul(scale).transpose(); // (r, out)
        if (r < rank) {
          aT = aT.concat(manager.zeros(new Shape(in, rank - r), DataType.FLOAT32), 1); // (in, r_max)
          scaledBT = scaledBT.concat(manager.zeros(new Shape(rank - r, out), DataType.FLOAT32), 0); // (r_max, out)
        }
        pieces.add(aT.reshape(-1));
        pieces.add(scaledBT.reshape(-1));
      }
    }
    return NDArrays.concat(pieces); // (width)
  }

  /** Floats in one slot at rank {@code r}. */
  private int width(int r) {
    LlamaConfig c = base.config();
    int perLayer = 0;
    for (LoraModule m : LoraModule.values()) {
      perLayer += m.inFeatures(c) + m.outFeatures(c);
    }
    return c.numHiddenLayers() * perLayer * r;
  }

  /**
   * Views of slots {@code from .. to-1}, kept on {@code owner}, or left in the caller's NDScope
   * when it is null.
   */
  private View makeView(int from, int to, boolean[][] adapted, NDManager owner) {
    if (owner == null) {
      return new View(slice(from, to, adapted), null);
    }
    try (NDScope scope = new NDScope()) {
      return new View(slice(from, to, adapted).keepOn(owner), owner);
    }
  }

  /** Per adapted projection Aᵀ (rows, in, r) and (s·B)ᵀ (rows, r, out) of slots {@code from .. to-1}. */
  private RowLora slice(int from, int to, boolean[][] adapted) {
    LlamaConfig c = base.config();
    int rows = to - from;
    int layers = c.numHiddenLayers();
    long width = width(rank);
    if (nativeKernel && rank <= NativeRowLora.MAX_RANK && NativeKernels.fits(stack)
        && (long) rows * width * Float.BYTES <= Integer.MAX_VALUE) {
      return kernelSlice(from, to, adapted);
    }
    NDArray[][] aT = new NDArray[layers][LoraModule.values().length];
    NDArray[][] bT = new NDArray[layers][LoraModule.values().length];
    NDArray range = stack.get(new NDIndex().addSliceDim(from, to)); // (rows, width)
    int offset = 0;
    for (int l = 0; l < layers; l++) {
      for (LoraModule m : LoraModule.values()) {
        int in = m.inFeatures(c);
        int out = m.outFeatures(c);
        if (adapted[l][m.ordinal()]) {
          int bOffset = offset + in * rank;
          aT[l][m.ordinal()] = range.get(new NDIndex().addAllDim().addSliceDim(offset, bOffset))
              .reshape(rows, in, rank);
          bT[l][m.ordinal()] = range.get(new NDIndex().addAllDim().addSliceDim(bOffset, bOffset + rank * out))
              .reshape(rows, rank, out);
        }
        offset += (in + out) * rank;
      }
    }
    return RowLora.ofScaledSlots(rows, aT, bT);
  }

  /** As {@link #slice}, for {@link NativeRowLora}: the range's memory and each projection's offsets. */
  private RowLora kernelSlice(int from, int to, boolean[][] adapted) {
    LlamaConfig c = base.config();
    int layers = c.numHiddenLayers();
    long[][] aOffset = new long[layers][LoraModule.values().length];
    long[][] bOffset = new long[layers][LoraModule.values().length];
    long offset = 0;
    for (int l = 0; l < layers; l++) {
      for (LoraModule m : LoraModule.values()) {
        int in = m.inFeatures(c);
        int out = m.outFeatures(c);
        aOffset[l][m.ordinal()] = adapted[l][m.ordinal()] ? offset : -1;
        bOffset[l][m.ordinal()] = offset + (long) in * rank;
        offset += (long) (in + out) * rank;
      }
    }
    // A view of rows from .. to-1 shares the stack's memory, which outlives the view (closed
    // with the caller's scope).
    ByteBuffer memory = NativeKernels.memory(stack.get(new NDIndex().addSliceDim(from, to)));
    return RowLora.ofKernelSlots(to - from,
        new RowLora.KernelSlots(memory, width(rank), aOffset, bOffset, rank, c));
  }

  /** Reallocates the stack for more slots or a larger rank, keeping what every slot holds. */
  private void grow(int newCapacity, int newRank) {
    if (newCapacity == capacity && newRank == rank) {
      return;
    }
    closeViews();
    NDArray bigger = manager.zeros(new Shape(newCapacity, width(newRank)), DataType.FLOAT32);
    NDScope.unregister(bigger);
    if (newRank == rank) {
      if (stack != null) {
        bigger.set(new NDIndex().addSliceDim(0, capacity), stack);
      }
    } else { // every slot laid out again at the new rank
      laidOut.values().forEach(NDArray::close);
      laidOut.clear();
    }
    if (stack != null) {
      stack.close();
    }
    stack = bigger;
    LoraAdapter[] before = held;
    held = new LoraAdapter[newCapacity];
    int oldRank = rank;
    capacity = newCapacity;
    rank = newRank;
    if (newRank == oldRank) {
      System.arraycopy(before, 0, held, 0, before.length);
    } else {
      for (int slot = 0; slot < before.length; slot++) {
        if (before[slot] != null) {
          write(slot, before[slot]);
        }
      }
    }
  }

  private static int capacityFor(int slots) {
    int capacity = FIRST_CAPACITY;
    while (capacity < slots) {
      capacity *= 2;
    }
    return capacity;
  }

  private void closeViews() {
    views.values().forEach(view -> view.manager().close());
    views.clear();
  }

  @Override
  public void close() {
    closeViews();
    laidOut.clear();
    manager.close();
  }
}
