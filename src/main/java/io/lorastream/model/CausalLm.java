package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The forward pass of Hugging Face's {@code LlamaForCausalLM} in NDArray operations, with an
 * optional LoRA adapter on the projections. Stateless: the frozen weights live in the
 * {@link BaseModel}, per-request state (the KV cache) in {@link KvCache}, so any number of threads
 * may run it at once.
 *
 * <p>Constants are made as native arrays ({@code manager.full(new Shape(), s)}), never through the
 * {@code Number} overloads, which corrupt gradients under autograd.
 *
 * <p>On small models a forward pass costs what its native calls cost, not their arithmetic, so
 * the pass keeps their number low: projections are one {@code linear} call (no transpose), the
 * rotary cosines and sines of every position are looked up in tables made once per base model
 * (the queries' already scaled by 1/sqrt(head_dim)), grouped-query attention folds the query
 * heads of a key/value head into rows instead of repeating keys and values, and inference passes
 * project only the last position to the vocabulary. The element-wise parts of a layer (norms,
 * residual sums, rotary embedding, SwiGLU) go through {@link LayerOps}: one native call each in
 * passes without gradients on the CPU ({@link NativeLayerOps}), libtorch's operations otherwise
 * ({@link TorchLayerOps}).
 *
 * <p>In a half {@link Precision} the pass runs in the base model's half weights; the LoRA terms
 * are computed in F32 from the F32 factors (their input widened, their output narrowed before it
 * is added), and the logits are widened to F32. The native kernels are F32 only, so libtorch's
 * operations run.
 */
public final class CausalLm {
  /** Added to attention scores of future positions; exp() of it underflows to exactly 0. */
  private static final float MASKED = -1e9f;
  /** As {@link #MASKED} in F16, whose largest finite value is 65504: finite, so a row masked whole stays finite. */
  private static final float MASKED_F16 = -3e4f;

  /** Rotary tables per base model; they depend on its configuration only. */
  private static final Map<BaseModel, Rotary> ROTARY = new WeakHashMap<>();

  private final BaseModel base;
  private final DataType compute; // the number type of weights and activations
  private final boolean nativeAttention; // decode steps' attention through NativeAttention
  private final boolean nativeLayers; // element-wise parts of passes without gradients through NativeLayerOps
  private final AttentionMasks masks;

  public CausalLm(BaseModel base) {
    this(base, true);
  }

  /**
   * @param nativeKernels let {@link NativeAttention} compute decode steps' attention and {@link
   *     NativeLayerOps} the element-wise parts of passes without gradients where they can (the
   *     library loaded, F32 on the CPU); false keeps libtorch's operations (to compare the two)
   */
  CausalLm(BaseModel base, boolean nativeKernels) {
    this(base, nativeKernels, nativeKernels);
  }

  /** As {@link #CausalLm(BaseModel, boolean)}, the two kinds of kernels chosen apart. */
  CausalLm(BaseModel base, boolean nativeAttention, boolean nativeLayers) {
    this(base, nativeAttention, nativeLayers, base.manager().getDevice().isGpu());
  }

  /**
   * As {@link #CausalLm(BaseModel, boolean, boolean)}, and where the attention masks are made:
   * computed on the model's device (a GPU's way, to compare on the CPU) or filled on the host.
   */
  CausalLm(BaseModel base, boolean nativeAttention, boolean nativeLayers, boolean masksOnDevice) {
    this.base = base;
    this.compute = base.precision().dataType();
    boolean f32 = !base.precision().isHalf();
    this.nativeAttention = nativeAttention && f32 && NativeKernels.available();
    this.nativeLayers = nativeLayers && f32 && NativeKernels.available();
    this.masks = new AttentionMasks(base.config().numAttentionHeads() / base.config().numKeyValueHeads(), compute,
        f32 ? MASKED : MASKED_F16, masksOnDevice);
  }

  public BaseModel base() {
    return base;
  }

  /**
   * Next-token logits of every position.
   *
   * @param tokenIds (B, T) integer token ids; the result belongs to this array's manager
   * @param adapterOrNull the tenant's adapter, or null for the base model
   * @return (B, T, vocab_size) F32 logits
   */
  public NDArray logits(NDArray tokenIds, LoraAdapter adapterOrNull) {
    NDArray out;
    try (NDScope scope = new NDScope()) {
      out = forward(tokenIds, adapterOrNull, 0, null, null);
      NDScope.unregister(out);
      out.attach(tokenIds.getManager());
    }
    NDScope.register(out); // belongs to the caller's scope, if any
    return out;
  }

  /**
   * The forward pass proper; every array it creates is registered in the caller's NDScope.
   *
   * @param tokenIds (B, T) token ids at positions start .. start+T-1
   * @param start position of the first token (the length of what {@code cache} already holds)
   * @param cache keys and values of earlier positions, extended in place; null to attend only
   *     within {@code tokenIds}. Only with grad mode off.
   * @param dropout masks for the LoRA inputs in training, or null
   * @return (B, T, vocab_size) logits
   */
  NDArray forward(
      NDArray tokenIds, LoraAdapter adapter, int start, KvCache cache, LoraDropout dropout) {
    return forward(tokenIds, adapter, start, cache, dropout, false);
  }

  /**
   * As {@link #forward(NDArray, LoraAdapter, int, KvCache, LoraDropout)}; with {@code lastOnly}
   * only the last position goes through the final norm and head: (B, 1, vocab_size).
   */
  NDArray forward(
      NDArray tokenIds, LoraAdapter adapter, int start, KvCache cache, LoraDropout dropout,
      boolean lastOnly) {
    checkAdapter(adapter);
    int time = checkedTime(tokenIds);
    checkPositions(start + time); // keys visible to the last query
    NDManager m = tokenIds.getManager();
    return layers(tokenIds, loraTerm(m, adapter, dropout), sequenceInputs(m, start, time), cache, lastOnly);
  }

  /**
   * Rotary factors and mask shared by every row at positions start .. start+T-1: the query at
   * position p sees the keys at positions <= p.
   */
  private Inputs sequenceInputs(NDManager m, int start, int time) {
    long[] positions = new long[time];
    for (int t = 0; t < time; t++) {
      positions[t] = start + t;
    }
    return new Inputs(positions, 1, time, masks.causal(m, 1, time, start + time, new int[] {0}, start), null);
  }

  /**
   * The decoder's output for rows from position 0 without a cache, before the final norm and
   * head: (B, T, dim). With {@link #logitsAt} a training loss projects only the positions it counts.
   */
  NDArray hidden(NDArray tokenIds, LoraAdapter adapter, LoraDropout dropout) {
    checkAdapter(adapter);
    int time = checkedTime(tokenIds);
    checkPositions(time);
    NDManager m = tokenIds.getManager();
    return decoder(tokenIds, loraTerm(m, adapter, dropout), sequenceInputs(m, 0, time), null);
  }

  /**
   * As {@link #hidden}, for packed rows: a row holds several sequences one after another (and
   * right padding). Token t of row b sits at position {@code positions[b·T + t]} (0 where its
   * sequence starts) and attends to slots {@code attendFrom[b·T + t]} .. t of its row, i.e. to its
   * own sequence only, so each sequence's outputs are those of a pass over that sequence alone (up
   * to float rounding).
   *
   * @param tokenIds (B, T) token ids
   * @param positions (B·T) each token's position within its sequence
   * @param attendFrom (B·T) the first slot of each token's sequence in its row
   * @return (B, T, dim)
   */
  NDArray hiddenPacked(
      NDArray tokenIds, LoraAdapter adapter, int[] positions, int[] attendFrom, LoraDropout dropout) {
    checkAdapter(adapter);
    Inputs inputs = packedInputs(tokenIds, positions, attendFrom);
    return decoder(tokenIds, loraTerm(tokenIds.getManager(), adapter, dropout), inputs, null);
  }

  /**
   * As {@link #hiddenPacked}, each row with its own LoRA factors: the packed rows of several
   * tenants in one pass (a row holds sequences of one tenant only).
   */
  NDArray hiddenRowsPacked(NDArray tokenIds, RowLora lora, int[] positions, int[] attendFrom) {
    if (lora.rows() != tokenIds.getShape().get(0)) {
      throw new IllegalArgumentException("row counts of tokens and LoRA differ");
    }
    return decoder(tokenIds, lora, packedInputs(tokenIds, positions, attendFrom), null);
  }

  /** The rotary factors and mask of packed rows ({@link #hiddenPacked}). */
  private Inputs packedInputs(NDArray tokenIds, int[] positions, int[] attendFrom) {
    int time = checkedTime(tokenIds);
    int batch = Math.toIntExact(tokenIds.getShape().get(0));
    if (positions.length != batch * time || attendFrom.length != batch * time) {
      throw new IllegalArgumentException("positions and attendFrom need one entry per token");
    }
    long[] rowPositions = new long[positions.length];
    for (int i = 0; i < positions.length; i++) {
      if (attendFrom[i] < 0 || attendFrom[i] > i % time || positions[i] < 0) {
        throw new IllegalArgumentException("token " + i + " attends from slot " + attendFrom[i]
            + " at position " + positions[i]);
      }
      checkPositions(positions[i] + 1);
      rowPositions[i] = positions[i];
    }
    return new Inputs(rowPositions, batch, time, masks.packed(tokenIds.getManager(), batch, time, attendFrom), null);
  }

  /**
   * The final norm and head at some positions of the decoder's output: rows {@code flatPositions}
   * (indices into B·T) of {@code hidden} (B, T, dim) give (N, vocab_size) logits.
   */
  NDArray logitsAt(NDArray hidden, long[] flatPositions) {
    long dim = hidden.getShape().get(2);
    NDArray all = hidden.reshape(-1, dim); // (B·T, dim)
    NDArray x = isEveryRow(flatPositions, all.getShape().get(0))
        ? all
        : lookup(hidden.getManager().create(flatPositions), all); // (N, dim)
    return head(x);
  }

  /** True when {@code positions} is 0, 1, .., n-1: every row, in order (no selection needed). */
  private static boolean isEveryRow(long[] positions, long n) {
    if (positions.length != n) {
      return false;
    }
    for (int i = 0; i < positions.length; i++) {
      if (positions[i] != i) {
        return false;
      }
    }
    return true;
  }

  /** The LoRA term of one adapter for every row (F32, whatever the precision), or null for the base model. */
  private static LoraTerm loraTerm(NDManager m, LoraAdapter adapter, LoraDropout dropout) {
    if (adapter == null) {
      return null;
    }
    NDArray loraScale = m.full(new Shape(), adapter.config().scale());
    return (x, l, module) -> {
      NDArray a = adapter.a(l, module);
      if (a == null) {
        return null;
      }
      NDArray input = dropout == null ? x : dropout.apply(x);
      return linear(linear(input, a), adapter.b(l, module)) // (.., r) then (.., out)
          .mul(loraScale);
    };
  }

  private void checkAdapter(LoraAdapter adapter) {
    if (adapter != null && !adapter.baseModelSha256().equals(base.weightsSha256())) {
      throw new IllegalArgumentException(
          "adapter was made for base model " + adapter.baseModelSha256() + ", not "
              + base.weightsSha256());
    }
  }

  /**
   * The forward pass of rows that each carry their own LoRA factors, positions and cache
   * padding: several tenants (and the base model) in one batch. Row b's token t sits at position
   * {@code positions[b] + t}; its queries see cache slots {@code firstSlot[b]} onwards (earlier
   * slots are another row's longer history, i.e. left padding) up to their own slot.
   *
   * @param tokenIds (B, T) token ids
   * @param lora the rows' LoRA factors (B rows)
   * @param positions (B) position of each row's first token; null for all 0
   * @param firstSlot (B) first cache slot each row attends to; null for all 0
   * @param cache keys and values of the rows' earlier slots (B rows), extended in place; null to
   *     attend only within {@code tokenIds}. Only with grad mode off
   * @return (B, T, vocab_size) logits
   */
  NDArray forwardRows(
      NDArray tokenIds, RowLora lora, int[] positions, int[] firstSlot, KvCache cache) {
    return forwardRows(tokenIds, lora, positions, firstSlot, cache, false);
  }

  /**
   * As {@link #forwardRows(NDArray, RowLora, int[], int[], KvCache)}; with {@code lastOnly} only
   * each row's last position goes through the final norm and head: (B, 1, vocab_size).
   */
  NDArray forwardRows(
      NDArray tokenIds, RowLora lora, int[] positions, int[] firstSlot, KvCache cache,
      boolean lastOnly) {
    return layers(tokenIds, lora, rowInputs(tokenIds, lora, positions, firstSlot, cache), cache, lastOnly);
  }

  /**
   * The decoder's output for rows that each carry their own LoRA factors, from position 0 without
   * a cache, before the final norm and head: (B, T, dim), for {@link #logitsAt}.
   */
  NDArray hiddenRows(NDArray tokenIds, RowLora lora) {
    return decoder(tokenIds, lora, rowInputs(tokenIds, lora, null, null, null), null);
  }

  /** The rotary factors and mask of {@link #forwardRows}. */
  private Inputs rowInputs(NDArray tokenIds, RowLora lora, int[] positions, int[] firstSlot, KvCache cache) {
    int time = checkedTime(tokenIds);
    int batch = Math.toIntExact(tokenIds.getShape().get(0));
    if (lora.rows() != batch
        || (positions != null && positions.length != batch)
        || (firstSlot != null && firstSlot.length != batch)
        || (cache != null && cache.length() > 0 && cache.rows() != batch)) {
      throw new IllegalArgumentException("row counts of tokens, LoRA, positions and cache differ");
    }
    int held = cache == null ? 0 : cache.length(); // slots already in the cache
    int slots = held + time;
    // Rows that all start at 0 and see every slot share one set of rotary factors and one mask.
    int distinct = positions == null && firstSlot == null ? 1 : batch;
    long[] rowPositions = new long[distinct * time];
    int[] first = new int[distinct];
    for (int b = 0; b < distinct; b++) {
      int p0 = positions == null ? 0 : positions[b];
      first[b] = firstSlot == null ? 0 : firstSlot[b];
      checkPositions(p0 + time);
      for (int t = 0; t < time; t++) {
        // Left padding sits at negative positions; it is masked, so any table row will do.
        rowPositions[b * time + t] = Math.max(0, p0 + t);
      }
    }
    // A step of one token per row over a cache goes through the native attention where it can:
    // each row's first slot replaces the mask.
    if (cache != null && time == 1 && nativeAttention && NativeKernels.fits(tokenIds.getManager())) {
      int[] firstSlots = firstSlot == null ? new int[batch] : firstSlot.clone();
      return new Inputs(rowPositions, distinct, time, null, firstSlots);
    }
    NDArray mask = masks.causal(tokenIds.getManager(), distinct, time, slots, first, held);
    return new Inputs(rowPositions, distinct, time, mask, null);
  }

  /**
   * What every layer of one pass shares: the tokens' positions and the mask.
   *
   * @param positions (R · T) each token's position (left padding at 0: it is masked), R =
   *     positionRows: 1 when every row shares its positions, else B
   * @param mask the attention mask ({@link AttentionMasks}), broadcastable to (B, KV, n·T, S); null when the native decode
   *     attention runs instead
   * @param firstSlots (B) each row's first attended cache slot, for the native decode attention;
   *     null where the mask says it
   */
  private record Inputs(long[] positions, int positionRows, int time, NDArray mask, int[] firstSlots) {}


  /**
   * The element-wise operations of a pass over {@code x} (the embedded tokens): the native
   * kernels for a pass without gradients on F32 CPU arrays when the library is loaded, else
   * libtorch's.
   *
   * @param inputs the pass's positions; null for the norms only (no rotary embedding)
   */
  private LayerOps layerOps(NDArray x, Inputs inputs) {
    Rotary rotary = rotary();
    float eps = (float) base.config().rmsNormEps();
    long[] positions = inputs == null ? new long[0] : inputs.positions();
    int positionRows = inputs == null ? 0 : inputs.positionRows();
    int time = inputs == null ? 0 : inputs.time();
    if (nativeLayers && NativeKernels.fits(x) && !JniUtils.isGradMode()) {
      return new NativeLayerOps(eps, positions, positionRows, time, rotary.queryTable(), rotary.keyTable());
    }
    return new TorchLayerOps(x.getManager(), eps, positions, positionRows, time, rotary.queryTable(),
        rotary.keyTable(), rotary.rotateHalf());
  }

  /** Rows {@code ids} (any shape) of {@code table} (N, D): (ids..., D). */
  private static NDArray lookup(NDArray ids, NDArray table) {
    return TorchLayerOps.lookup(ids, table);
  }

  /**
   * Rotary tables of every position, HF layout cat(freqs, freqs): keys [cos | sin], queries
   * [cos | sin] / sqrt(head_dim) (the attention scale, applied once here instead of to every
   * score), each (max_position_embeddings, 2·head_dim); and the (head_dim, head_dim) matrix R
   * with {@code x R = rotate_half(x) = cat(-x2, x1)}, exact since each column has one ±1.
   */
  private record Rotary(NDArray queryTable, NDArray keyTable, NDArray rotateHalf) {}

  private Rotary rotary() {
    synchronized (ROTARY) {
      Rotary rotary = ROTARY.get(base);
      if (rotary == null) {
        rotary = makeRotary();
        ROTARY.put(base, rotary);
      }
      return rotary;
    }
  }

  private Rotary makeRotary() {
    LlamaConfig c = base.config();
    int headDim = c.headDim();
    int half = headDim / 2;
    NDManager m = base.manager();
    NDArray queryTable;
    NDArray keyTable;
    NDArray rotate;
    try (NDScope scope = new NDScope()) {
      NDArray positions = m.arange(0, c.maxPositionEmbeddings(), 1, DataType.FLOAT32)
          .reshape(c.maxPositionEmbeddings(), 1); // (P, 1)
      NDArray freqs = positions.matMul(base.weights().ropeInverseFrequencies().reshape(1, half)); // (P, hd/2)
      NDArray angles = freqs.concat(freqs, -1); // (P, hd)
      keyTable = angles.cos().concat(angles.sin(), -1); // (P, 2 hd)
      queryTable = keyTable.mul(m.full(new Shape(), (float) (1.0 / Math.sqrt(headDim))));
      float[] r = new float[headDim * headDim];
      for (int j = 0; j < half; j++) {
        r[(j + half) * headDim + j] = -1f; // out[j] = -x[j + half]
        r[j * headDim + j + half] = 1f; // out[j + half] = x[j]
      }
      rotate = m.create(r, new Shape(headDim, headDim));
      if (compute != DataType.FLOAT32) {
        queryTable = queryTable.toType(compute, false);
        keyTable = keyTable.toType(compute, false);
        rotate = rotate.toType(compute, false);
      }
      for (NDArray kept : new NDArray[] {queryTable, keyTable, rotate}) {
        NDScope.unregister(kept); // lives as long as the base model
      }
    }
    return new Rotary(queryTable, keyTable, rotate);
  }

  private int checkedTime(NDArray tokenIds) {
    Shape inShape = tokenIds.getShape();
    if (inShape.dimension() != 2) {
      throw new IllegalArgumentException("token ids must be (batch, time), got " + inShape);
    }
    return Math.toIntExact(inShape.get(1));
  }

  private void checkPositions(int total) {
    if (total > base.config().maxPositionEmbeddings()) {
      throw new IllegalArgumentException(
          "sequence of " + total + " positions exceeds max_position_embeddings "
              + base.config().maxPositionEmbeddings());
    }
  }

  /**
   * The decoder layers, final norm and head.
   *
   * @param tokenIds (B, T)
   * @param lora the LoRA term of each projection, or null for the base model
   * @param inputs rotary factors broadcastable to (B, H, T, hd) and the mask, broadcastable to
   *     (B, KV, n·T, S)
   * @param lastOnly project only the last position to the vocabulary
   */
  private NDArray layers(
      NDArray tokenIds, LoraTerm lora, Inputs inputs, KvCache cache, boolean lastOnly) {
    NDArray x = decoder(tokenIds, lora, inputs, cache); // (B, T, dim)
    int time = Math.toIntExact(tokenIds.getShape().get(1));
    if (lastOnly && time > 1) {
      x = x.get(new NDIndex().addAllDim().addSliceDim(time - 1, time)); // (B, 1, dim)
    }
    return head(x); // (B, T, vocab_size)
  }

  /** Step 8: the final RMSNorm and the language-model head, (.., dim) to (.., vocab_size) F32 logits. */
  private NDArray head(NDArray x) {
    return Precision.toF32(linear(layerOps(x, null).norm(x, base.weights().finalNorm()), base.weights().lmHead()));
  }

  /** Steps 1-7 of {@link #layers}: the embedding and the decoder layers, (B, T, dim). */
  private NDArray decoder(NDArray tokenIds, LoraTerm lora, Inputs inputs, KvCache cache) {
    LlamaConfig c = base.config();
    BaseModel.Weights w = base.weights();
    int batch = Math.toIntExact(tokenIds.getShape().get(0));
    int time = Math.toIntExact(tokenIds.getShape().get(1));
    int heads = c.numAttentionHeads();
    int kvHeads = c.numKeyValueHeads();
    int group = heads / kvHeads;
    int headDim = c.headDim();
    NDArray ids = tokenIds.getDataType() == DataType.INT64 ? tokenIds : tokenIds.toType(DataType.INT64, false);

    // Step 1: token embedding.
    NDArray x = lookup(ids, w.tokenEmbedding()); // (B, T, dim)
    LayerOps ops = layerOps(x, inputs);
    NDArray h = ops.norm(x, w.layers().get(0).attentionNorm()); // the first layer's step 2 norm

    for (int l = 0; l < c.numHiddenLayers(); l++) {
      BaseModel.LayerWeights layer = w.layers().get(l);

      // Step 2: q/k/v projections (+ LoRA) of the attention RMSNorm h.
      NDArray q = project(h, layer, l, LoraModule.Q_PROJ, lora); // (B, T, H·hd)
      NDArray k = project(h, layer, l, LoraModule.K_PROJ, lora); // (B, T, KV·hd)
      NDArray v = project(h, layer, l, LoraModule.V_PROJ, lora)
          .reshape(batch, time, kvHeads, headDim).transpose(0, 2, 1, 3); // (B, KV, T, hd)

      // Step 3: rotary position embedding; the queries' factors carry 1/sqrt(head_dim).
      q = ops.rotary(q, heads, true); // (B, H, T, hd)
      k = ops.rotary(k, kvHeads, false); // (B, KV, T, hd)

      // Step 4: append to the cache; attend over all positions so far.
      if (cache != null) {
        NDArray[] kv = cache.append(l, k, v);
        k = kv[0]; // (B, KV, S, hd)
        v = kv[1];
      }

      // Step 5: grouped-query masked attention. Query head i uses key/value head i / n, so the
      // n query heads of a key/value head become n·T rows against that head's keys. A decode
      // step's (one token per row over the cache) goes through the native kernel where it can.
      NDArray attention;
      if (inputs.firstSlots() != null) {
        attention = NativeAttention.decode(q, k, v, inputs.firstSlots()); // (B, 1, H·hd)
      } else {
        NDArray scores = q.reshape(batch, kvHeads, (long) group * time, headDim)
            .matMul(k.transpose(0, 1, 3, 2)).add(inputs.mask()); // (B, KV, n·T, S)
        attention = scores.softmax(-1).matMul(v) // (B, KV, n·T, hd)
            .reshape(batch, heads, time, headDim)
            .transpose(0, 2, 1, 3).reshape(batch, time, heads * headDim);
      }

      // Step 6: output projection and residual, then the MLP RMSNorm.
      NDArray[] sumAndNorm = ops.addNorm(x, project(attention, layer, l, LoraModule.O_PROJ, lora), layer.ffnNorm());
      x = sumAndNorm[0];
      h = sumAndNorm[1];

      // Step 7: SwiGLU (silu(gate) * up, then down) and residual, then the next layer's
      // attention RMSNorm.
      NDArray gate = project(h, layer, l, LoraModule.GATE_PROJ, lora);
      NDArray up = project(h, layer, l, LoraModule.UP_PROJ, lora);
      NDArray act = ops.swiglu(gate, up); // (B, T, hidden_dim)
      NDArray down = project(act, layer, l, LoraModule.DOWN_PROJ, lora);
      if (l + 1 < c.numHiddenLayers()) {
        sumAndNorm = ops.addNorm(x, down, w.layers().get(l + 1).attentionNorm());
        x = sumAndNorm[0];
        h = sumAndNorm[1];
      } else {
        x = x.add(down);
      }
    }
    if (cache != null) {
      cache.advance(time);
    }
    return x;
  }

  /**
   * x W^T, plus the LoRA term when the projection is adapted. In a half precision the term is
   * computed in F32 (widened input, F32 factors) and narrowed before it is added.
   */
  private static NDArray project(
      NDArray x, BaseModel.LayerWeights layer, int l, LoraModule module, LoraTerm lora) {
    NDArray y = linear(x, layer.projection(module)); // (.., out), a fresh contiguous array
    if (lora == null) {
      return y;
    }
    if (y.getDataType() == DataType.FLOAT32) {
      return lora.addTo(y, x, l, module);
    }
    NDArray delta = lora.apply(Precision.toF32(x), l, module); // (.., out) F32
    return delta == null ? y : y.add(Precision.to(delta, y.getDataType()));
  }

  /** x (.., in) W^T for W (out, in): one native call, no transposed copy. */
  static NDArray linear(NDArray x, NDArray weight) {
    return x.getNDArrayInternal().linear(x, weight, null).singletonOrThrow();
  }

  /** The LoRA term s (drop(x) A^T) B^T of one projection. */
  interface LoraTerm {
    /**
     * @param x (.., in_features) the projection's input
     * @return (.., out_features), or null when {@code module} of layer {@code layer} is not adapted
     */
    NDArray apply(NDArray x, int layer, LoraModule module);

    /**
     * {@code y} plus the term; an implementation may add into {@code y} in place (grad mode off
     * only), which is why callers pass the projection's fresh output.
     *
     * @param y (.., out_features) the base projection of {@code x}
     */
    default NDArray addTo(NDArray y, NDArray x, int layer, LoraModule module) {
      NDArray delta = apply(x, layer, module);
      return delta == null ? y : y.add(delta);
    }
  }

  /**
   * Keys and values of the positions seen so far, per layer (B, n_kv_heads, S, head_dim), on the
   * cache's own manager. One per generation; not for training (no gradients flow through it).
   */
  public static final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int length;

    public KvCache(BaseModel base) {
      this.manager = NDManager.newBaseManager(base.manager().getDevice());
      this.keys = new NDArray[base.config().numHiddenLayers()];
      this.values = new NDArray[base.config().numHiddenLayers()];
    }

    /** Number of positions held. */
    public int length() {
      return length;
    }

    NDArray[] append(int layer, NDArray k, NDArray v) {
      keys[layer] = keep(keys[layer], k);
      values[layer] = keep(values[layer], v);
      return new NDArray[] {keys[layer], values[layer]};
    }

    private NDArray keep(NDArray old, NDArray fresh) {
      NDArray all = old == null ? fresh.duplicate() : old.concat(fresh, 2);
      NDScope.unregister(all); // outlives the step's scope
      all.attach(manager);
      if (old != null) {
        old.close();
      }
      return all;
    }

    void advance(int positions) {
      length += positions;
    }

    /** Number of rows (B), 0 while empty. */
    int rows() {
      return keys[0] == null ? 0 : Math.toIntExact(keys[0].getShape().get(0));
    }

    /**
     * Appends the rows of {@code other} after this cache's, both aligned to the right: the side
     * with fewer slots gets zero slots on its left, which the caller must mask. {@code other}
     * is left as it was. Call inside an NDScope.
     *
     * @return slots of left padding added to {this cache's rows, other's rows}
     */
    int[] appendRows(KvCache other) {
      if (other.rows() == 0) {
        throw new IllegalArgumentException("no rows to append");
      }
      int slots = Math.max(length, other.length);
      int padThis = slots - length;
      int padOther = slots - other.length;
      boolean empty = rows() == 0;
      for (int l = 0; l < keys.length; l++) {
        keys[l] = replace(keys[l], joinRows(empty ? null : keys[l], padThis, other.keys[l], padOther));
        values[l] = replace(values[l], joinRows(empty ? null : values[l], padThis, other.values[l], padOther));
      }
      length = slots;
      return new int[] {empty ? 0 : padThis, padOther};
    }

    private static NDArray joinRows(NDArray mine, int padMine, NDArray theirs, int padTheirs) {
      NDArray right = leftPad(theirs, padTheirs);
      if (mine == null) {
        return right == theirs ? theirs.duplicate() : right;
      }
      return leftPad(mine, padMine).concat(right, 0);
    }

    /** (B, KV, S, hd) -> (B, KV, pad + S, hd) with zeros in front. */
    private static NDArray leftPad(NDArray x, int pad) {
      if (pad == 0) {
        return x;
      }
      Shape s = x.getShape();
      return x.getManager().zeros(new Shape(s.get(0), s.get(1), pad, s.get(3)), x.getDataType())
          .concat(x, 2);
    }

    /**
     * Keeps only {@code rows} (row indices, in the order the rows are to have) and drops the
     * first {@code dropSlots} slots, which none of the kept rows attends to. Call inside an
     * NDScope.
     */
    void keepRows(long[] rows, int dropSlots) {
      if (rows.length == 0) {
        for (int l = 0; l < keys.length; l++) {
          keys[l].close();
          values[l].close();
          keys[l] = null;
          values[l] = null;
        }
        length = 0;
        return;
      }
      NDArray index = manager.create(rows);
      NDIndex select = new NDIndex("{}, :, " + dropSlots + ":", index);
      for (int l = 0; l < keys.length; l++) {
        keys[l] = replace(keys[l], keys[l].get(select));
        values[l] = replace(values[l], values[l].get(select));
      }
      index.close();
      length -= dropSlots;
    }

    private NDArray replace(NDArray old, NDArray fresh) {
      NDScope.unregister(fresh); // outlives the step's scope
      fresh.attach(manager);
      if (old != null && old != fresh) {
        old.close();
      }
      return fresh;
    }

    @Override
    public void close() {
      manager.close();
    }
  }

  /** Inverted dropout on LoRA inputs: masks drawn from a Java random source, for determinism. */
  static final class LoraDropout {
    private final float p;
    private final java.util.SplittableRandom random;

    LoraDropout(float p, long seed) {
      this.p = p;
      this.random = new java.util.SplittableRandom(seed);
    }

    NDArray apply(NDArray x) {
      float[] mask = draw(Math.toIntExact(x.getShape().size()));
      // Created from a Java buffer: it stays open (in the step's scope) until after backward.
      return x.mul(x.getManager().create(mask, x.getShape()));
    }

    /** The next {@code n} mask values of the stream: 0 or 1 / (1 - p). */
    float[] draw(int n) {
      float keep = 1f - p;
      float[] mask = new float[n];
      for (int i = 0; i < n; i++) {
        mask[i] = random.nextDouble() < p ? 0f : 1f / keep;
      }
      return mask;
    }
  }

}
