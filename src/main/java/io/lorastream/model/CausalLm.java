package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
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
    BaseModel.Weights w = base.weights();
    if (adapter != null && !adapter.baseModelSha256().equals(base.weightsSha256())) {
      throw new IllegalArgumentException(
          "adapter was made for base model " + adapter.baseModelSha256() + ", not "
              + base.weightsSha256());
    }
    Shape inShape = tokenIds.getShape();
    if (inShape.dimension() != 2) {
      throw new IllegalArgumentException("token ids must be (batch, time), got " + inShape);
    }
    int batch = Math.toIntExact(inShape.get(0));
    int time = Math.toIntExact(inShape.get(1));
    int total = start + time; // keys visible to the last query
    if (total > c.maxPositionEmbeddings()) {
      throw new IllegalArgumentException(
          "sequence of " + total + " positions exceeds max_position_embeddings "
              + c.maxPositionEmbeddings());
    }
    int heads = c.numAttentionHeads();
    int kvHeads = c.numKeyValueHeads();
    int headDim = c.headDim();
    NDManager m = tokenIds.getManager();
    NDArray ids = tokenIds.getDataType() == DataType.INT64 ? tokenIds : tokenIds.toType(DataType.INT64, false);
    NDArray eps = m.full(new Shape(), (float) c.rmsNormEps());
    NDArray attentionScale = m.full(new Shape(), (float) (1.0 / Math.sqrt(headDim)));
    NDArray loraScale = adapter == null ? null : m.full(new Shape(), adapter.config().scale());

    // Step 1: token embedding.
    NDArray x = ids.getNDArrayInternal()
        .embedding(ids, w.tokenEmbedding(), SparseFormat.DENSE)
        .singletonOrThrow(); // (B, T, dim)

    // Step 2: rotary angles of positions start .. start+T-1, HF layout cat(freqs, freqs).
    NDArray positions = m.arange(start, total, 1, DataType.FLOAT32).reshape(time, 1); // (T, 1)
    NDArray freqs = positions.matMul(w.ropeInverseFrequencies().reshape(1, headDim / 2)); // (T, hd/2)
    NDArray angles = freqs.concat(freqs, -1); // (T, head_dim)
    NDArray cos = angles.cos();
    NDArray sin = angles.sin();

    // Step 3: causal mask: query at position p sees keys at positions <= p.
    NDArray queryPos = m.arange(start, total, 1, DataType.INT64).reshape(time, 1);
    NDArray keyPos = m.arange(0, total, 1, DataType.INT64).reshape(1, total);
    NDArray mask = keyPos.gt(queryPos).toType(DataType.FLOAT32, false)
        .mul(m.full(new Shape(), MASKED)); // (T, S)

    for (int l = 0; l < c.numHiddenLayers(); l++) {
      BaseModel.LayerWeights layer = w.layers().get(l);

      // Step 4: attention RMSNorm and q/k/v projections (+ LoRA).
      NDArray h = rmsNorm(x, layer.attentionNorm(), eps);
      NDArray q = project(h, layer, l, LoraModule.Q_PROJ, adapter, loraScale, dropout)
          .reshape(batch, time, heads, headDim).transpose(0, 2, 1, 3); // (B, H, T, hd)
      NDArray k = project(h, layer, l, LoraModule.K_PROJ, adapter, loraScale, dropout)
          .reshape(batch, time, kvHeads, headDim).transpose(0, 2, 1, 3); // (B, KV, T, hd)
      NDArray v = project(h, layer, l, LoraModule.V_PROJ, adapter, loraScale, dropout)
          .reshape(batch, time, kvHeads, headDim).transpose(0, 2, 1, 3); // (B, KV, T, hd)

      // Step 5: rotary position embedding of queries and keys.
      q = rope(q, cos, sin, headDim);
      k = rope(k, cos, sin, headDim);

      // Step 6: append to the cache; attend over all positions so far.
      if (cache != null) {
        NDArray[] kv = cache.append(l, k, v);
        k = kv[0]; // (B, KV, S, hd)
        v = kv[1];
      }

      // Step 7: grouped-query causal attention; query head i uses key/value head i / (H/KV).
      NDArray keys = repeatKv(k, heads / kvHeads); // (B, H, S, hd)
      NDArray values = repeatKv(v, heads / kvHeads); // (B, H, S, hd)
      NDArray scores = q.matMul(keys.transpose(0, 1, 3, 2)).mul(attentionScale).add(mask); // (B, H, T, S)
      NDArray attention = scores.softmax(-1).matMul(values) // (B, H, T, hd)
          .transpose(0, 2, 1, 3).reshape(batch, time, heads * headDim);

      // Step 8: output projection and residual.
      x = x.add(project(attention, layer, l, LoraModule.O_PROJ, adapter, loraScale, dropout));

      // Step 9: MLP RMSNorm, SwiGLU (silu(gate) * up, then down) and residual.
      h = rmsNorm(x, layer.ffnNorm(), eps);
      NDArray gate = project(h, layer, l, LoraModule.GATE_PROJ, adapter, loraScale, dropout);
      NDArray up = project(h, layer, l, LoraModule.UP_PROJ, adapter, loraScale, dropout);
      NDArray act = gate.mul(Activation.sigmoid(gate)).mul(up); // (B, T, hidden_dim)
      x = x.add(project(act, layer, l, LoraModule.DOWN_PROJ, adapter, loraScale, dropout));
    }
    if (cache != null) {
      cache.advance(time);
    }

    // Step 10: final RMSNorm and the language-model head.
    x = rmsNorm(x, w.finalNorm(), eps);
    return x.matMul(w.lmHead().transpose()); // (B, T, vocab_size)
  }

  /** x / sqrt(mean(x^2) + eps) * weight over the last axis, as HF's LlamaRMSNorm. */
  private static NDArray rmsNorm(NDArray x, NDArray weight, NDArray eps) {
    NDArray rms = x.square().mean(new int[] {-1}, true).add(eps).sqrt();
    return x.div(rms).mul(weight);
  }

  /** x W^T, plus s (drop(x) A^T) B^T when the projection is adapted. */
  private static NDArray project(
      NDArray x,
      BaseModel.LayerWeights layer,
      int l,
      LoraModule module,
      LoraAdapter adapter,
      NDArray loraScale,
      LoraDropout dropout) {
    NDArray y = x.matMul(layer.projection(module).transpose()); // (.., out)
    NDArray a = adapter == null ? null : adapter.a(l, module);
    if (a == null) {
      return y;
    }
    NDArray input = dropout == null ? x : dropout.apply(x);
    NDArray lora = input.matMul(a.transpose()) // (.., r)
        .matMul(adapter.b(l, module).transpose()); // (.., out)
    return y.add(lora.mul(loraScale));
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
      float keep = 1f - p;
      float[] mask = new float[Math.toIntExact(x.getShape().size())];
      for (int i = 0; i < mask.length; i++) {
        mask[i] = random.nextDouble() < p ? 0f : 1f / keep;
      }
      // Created from a Java buffer: it stays open (in the step's scope) until after backward.
      return x.mul(x.getManager().create(mask, x.getShape()));
    }
  }

}
