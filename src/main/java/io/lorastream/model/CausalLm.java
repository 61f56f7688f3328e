package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;

/**
 * The forward pass of Hugging Face's {@code LlamaForCausalLM} in NDArray operations, with an
 * optional LoRA adapter on the projections. Stateless: the frozen weights live in the
 * {@link BaseModel}, per-request state (the KV cache) in {@link KvCache}, so any number of threads
 * may run it at once.
 *
 * <p>Constants are made as native arrays ({@code manager.full(new Shape(), s)}), never through the
 * {@code Number} overloads, which corrupt gradients under autograd.
 */
public final class CausalLm {
  /** Added to attention scores of future positions; exp() of it underflows to exactly 0. */
  private static final float MASKED = -1e9f;

  private final BaseModel base;

  public CausalLm(BaseModel base) {
    this.base = base;
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
    LlamaConfig c = base.config();
    if (adapter != null && !adapter.baseModelSha256().equals(base.weightsSha256())) {
      throw new IllegalArgumentException(
          "adapter was made for base model " + adapter.baseModelSha256() + ", not "
              + base.weightsSha256());
    }
    int time = checkedTime(tokenIds);
    int total = start + time; // keys visible to the last query
    checkPositions(total);
    int headDim = c.headDim();
    NDManager m = tokenIds.getManager();
    NDArray loraScale = adapter == null ? null : m.full(new Shape(), adapter.config().scale());
    LoraTerm lora = adapter == null ? null : (x, l, module) -> {
      NDArray a = adapter.a(l, module);
      if (a == null) {
        return null;
      }
      NDArray input = dropout == null ? x : dropout.apply(x);
      return input.matMul(a.transpose()) // (.., r)
          .matMul(adapter.b(l, module).transpose()) // (.., out)
          .mul(loraScale);
    };

    // Rotary angles of positions start .. start+T-1, HF layout cat(freqs, freqs).
    NDArray positions = m.arange(start, total, 1, DataType.FLOAT32).reshape(time, 1); // (T, 1)
    NDArray freqs = positions.matMul(base.weights().ropeInverseFrequencies().reshape(1, headDim / 2)); // (T, hd/2)
    NDArray angles = freqs.concat(freqs, -1); // (T, head_dim)

    // Causal mask: query at position p sees keys at positions <= p.
    NDArray queryPos = m.arange(start, total, 1, DataType.INT64).reshape(time, 1);
    NDArray keyPos = m.arange(0, total, 1, DataType.INT64).reshape(1, total);
    NDArray mask = keyPos.gt(queryPos).toType(DataType.FLOAT32, false)
        .mul(m.full(new Shape(), MASKED)); // (T, S)
    return layers(tokenIds, lora, angles.cos(), angles.sin(), mask, cache);
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
    LlamaConfig c = base.config();
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
    int headDim = c.headDim();
    int half = headDim / 2;
    float[] rowPositions = new float[batch * time];
    float[] mask = new float[batch * time * slots];
    for (int b = 0; b < batch; b++) {
      int p0 = positions == null ? 0 : positions[b];
      int first = firstSlot == null ? 0 : firstSlot[b];
      checkPositions(p0 + time);
      for (int t = 0; t < time; t++) {
        rowPositions[b * time + t] = p0 + t;
        for (int s = 0; s < slots; s++) {
          boolean visible = s >= first && s <= held + t;
          mask[(b * time + t) * slots + s] = visible ? 0f : MASKED;
        }
      }
    }
    NDManager m = tokenIds.getManager();
    NDArray freqs = m.create(rowPositions, new Shape(batch, time, 1))
        .matMul(base.weights().ropeInverseFrequencies().reshape(1, half)); // (B, T, hd/2)
    NDArray angles = freqs.concat(freqs, -1).reshape(batch, 1, time, headDim); // (B, 1, T, hd)
    NDArray maskArray = m.create(mask, new Shape(batch, 1, time, slots)); // (B, 1, T, S)
    return layers(tokenIds, lora, angles.cos(), angles.sin(), maskArray, cache);
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
   * @param cos cosines of the rotary angles, broadcastable to (B, H, T, hd)
   * @param sin sines, same shape
   * @param mask added to the attention scores, broadcastable to (B, H, T, S)
   */
  private NDArray layers(
      NDArray tokenIds, LoraTerm lora, NDArray cos, NDArray sin, NDArray mask, KvCache cache) {
    LlamaConfig c = base.config();
    BaseModel.Weights w = base.weights();
    int batch = Math.toIntExact(tokenIds.getShape().get(0));
    int time = Math.toIntExact(tokenIds.getShape().get(1));
    int heads = c.numAttentionHeads();
    int kvHeads = c.numKeyValueHeads();
    int headDim = c.headDim();
    NDManager m = tokenIds.getManager();
    NDArray ids = tokenIds.getDataType() == DataType.INT64 ? tokenIds : tokenIds.toType(DataType.INT64, false);
    NDArray eps = m.full(new Shape(), (float) c.rmsNormEps());
    NDArray attentionScale = m.full(new Shape(), (float) (1.0 / Math.sqrt(headDim)));

    // Step 1: token embedding.
    NDArray x = ids.getNDArrayInternal()
        .embedding(ids, w.tokenEmbedding(), SparseFormat.DENSE)
        .singletonOrThrow(); // (B, T, dim)

    for (int l = 0; l < c.numHiddenLayers(); l++) {
      BaseModel.LayerWeights layer = w.layers().get(l);

      // Step 2: attention RMSNorm and q/k/v projections (+ LoRA).
      NDArray h = rmsNorm(x, layer.attentionNorm(), eps);
      NDArray q = project(h, layer, l, LoraModule.Q_PROJ, lora)
          .reshape(batch, time, heads, headDim).transpose(0, 2, 1, 3); // (B, H, T, hd)
      NDArray k = project(h, layer, l, LoraModule.K_PROJ, lora)
          .reshape(batch, time, kvHeads, headDim).transpose(0, 2, 1, 3); // (B, KV, T, hd)
      NDArray v = project(h, layer, l, LoraModule.V_PROJ, lora)
          .reshape(batch, time, kvHeads, headDim).transpose(0, 2, 1, 3); // (B, KV, T, hd)

      // Step 3: rotary position embedding of queries and keys.
      q = rope(q, cos, sin, headDim);
      k = rope(k, cos, sin, headDim);

      // Step 4: append to the cache; attend over all positions so far.
      if (cache != null) {
        NDArray[] kv = cache.append(l, k, v);
        k = kv[0]; // (B, KV, S, hd)
        v = kv[1];
      }

      // Step 5: grouped-query masked attention; query head i uses key/value head i / (H/KV).
      NDArray keys = repeatKv(k, heads / kvHeads); // (B, H, S, hd)
      NDArray values = repeatKv(v, heads / kvHeads); // (B, H, S, hd)
      NDArray scores = q.matMul(keys.transpose(0, 1, 3, 2)).mul(attentionScale).add(mask); // (B, H, T, S)
      NDArray attention = scores.softmax(-1).matMul(values) // (B, H, T, hd)
          .transpose(0, 2, 1, 3).reshape(batch, time, heads * headDim);

      // Step 6: output projection and residual.
      x = x.add(project(attention, layer, l, LoraModule.O_PROJ, lora));

      // Step 7: MLP RMSNorm, SwiGLU (silu(gate) * up, then down) and residual.
      h = rmsNorm(x, layer.ffnNorm(), eps);
      NDArray gate = project(h, layer, l, LoraModule.GATE_PROJ, lora);
      NDArray up = project(h, layer, l, LoraModule.UP_PROJ, lora);
      NDArray act = gate.mul(Activation.sigmoid(gate)).mul(up); // (B, T, hidden_dim)
      x = x.add(project(act, layer, l, LoraModule.DOWN_PROJ, lora));
    }
    if (cache != null) {
      cache.advance(time);
    }

    // Step 8: final RMSNorm and the language-model head.
    x = rmsNorm(x, w.finalNorm(), eps);
    return x.matMul(w.lmHead().transpose()); // (B, T, vocab_size)
  }

  /** x / sqrt(mean(x^2) + eps) * weight over the last axis, as HF's LlamaRMSNorm. */
  private static NDArray rmsNorm(NDArray x, NDArray weight, NDArray eps) {
    NDArray rms = x.square().mean(new int[] {-1}, true).add(eps).sqrt();
    return x.div(rms).mul(weight);
  }

  /** x W^T, plus the LoRA term when the projection is adapted. */
  private static NDArray project(
      NDArray x, BaseModel.LayerWeights layer, int l, LoraModule module, LoraTerm lora) {
    NDArray y = x.matMul(layer.projection(module).transpose()); // (.., out)
    NDArray delta = lora == null ? null : lora.apply(x, l, module);
    return delta == null ? y : y.add(delta);
  }

  /** The LoRA term s (drop(x) A^T) B^T of one projection. */
  interface LoraTerm {
    /**
     * @param x (.., in_features) the projection's input
     * @return (.., out_features), or null when {@code module} of layer {@code layer} is not adapted
     */
    NDArray apply(NDArray x, int layer, LoraModule module);
  }

  /** HF "rotate_half" rotation: x cos + cat(-x2, x1) sin with x1, x2 the two halves. */
  private static NDArray rope(NDArray x, NDArray cos, NDArray sin, int headDim) {
    int half = headDim / 2;
    NDArray x1 = x.get("..., :" + half);
    NDArray x2 = x.get("..., " + half + ":");
    NDArray rotated = x2.neg().concat(x1, -1);
    return x.mul(cos).add(rotated.mul(sin));
  }

  /** (B, KV, S, hd) -> (B, KV*n, S, hd), each key/value head repeated n times in place. */
  private static NDArray repeatKv(NDArray x, int n) {
    if (n == 1) {
      return x;
    }
    Shape s = x.getShape();
    return x.expandDims(2)
        .broadcast(new Shape(s.get(0), s.get(1), n, s.get(2), s.get(3)))
        .reshape(s.get(0), s.get(1) * n, s.get(2), s.get(3));
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
     * Keeps only {@code rows} (ascending row indices) and drops the first {@code dropSlots} slots,
     * which none of the kept rows attends to. Call inside an NDScope.
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
