package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Arrays;
import java.util.List;

/**
 * Greedy decoding with a KV cache. Thread-safe: weights and adapters are only read, and each call
 * switches autograd off on its own thread (new threads start with it on).
 */
public final class Generator {
  private final CausalLm lm;

  public Generator(BaseModel base) {
    this(new CausalLm(base));
  }

  public Generator(CausalLm lm) {
    this.lm = lm;
  }

  /** Generates after {@code [bos] + encode(prompt)}, the layout training uses. */
  public Completion generate(String prompt, LoraAdapter adapterOrNull, int maxTokens) {
    TextTokenizer tokenizer = lm.base().tokenizer();
    int[] encoded = tokenizer.encode(prompt);
    int[] ids = new int[encoded.length + 1];
    ids[0] = tokenizer.bosId();
    System.arraycopy(encoded, 0, ids, 1, encoded.length);
    return generate(ids, adapterOrNull, maxTokens);
  }

  /** Generates after {@code promptIds} exactly as given (no bos added). */
  public Completion generate(List<Integer> promptIds, LoraAdapter adapterOrNull, int maxTokens) {
    return generate(promptIds.stream().mapToInt(Integer::intValue).toArray(), adapterOrNull, maxTokens);
  }

  /** Generates after {@code promptIds} exactly as given (no bos added). */
  public Completion generate(int[] promptIds, LoraAdapter adapterOrNull, int maxTokens) {
    return generate(promptIds, adapterOrNull, maxTokens, true);
  }

  /**
   * Greedy decoding; stops at eos, after {@code maxTokens}, or at max_position_embeddings.
   *
   * @param useCache false recomputes the whole prefix for every token (the reference the cache
   *     is tested against)
   */
  Completion generate(int[] promptIds, LoraAdapter adapter, int maxTokens, boolean useCache) {
    LlamaConfig c = lm.base().config();
    if (promptIds.length == 0) {
      throw new IllegalArgumentException("prompt must hold at least one token");
    }
    if (maxTokens < 0) {
      throw new IllegalArgumentException("maxTokens must not be negative, got " + maxTokens);
    }
    if (promptIds.length >= c.maxPositionEmbeddings()) {
      throw new IllegalArgumentException(
          "prompt of " + promptIds.length + " tokens leaves no room in max_position_embeddings "
              + c.maxPositionEmbeddings());
    }
    for (int id : promptIds) {
      if (id < 0 || id >= c.vocabSize()) {
        throw new IllegalArgumentException("token id " + id + " outside the vocabulary");
      }
    }
    int eos = c.eosTokenId();
    int[] generated = new int[maxTokens];
    int count = 0;
    String finish = Completion.LENGTH;
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (NDManager manager = NDManager.newBaseManager(lm.base().manager().getDevice());
        CausalLm.KvCache cache = useCache ? new CausalLm.KvCache(lm.base()) : null) {
      int[] context = promptIds;
      while (count < maxTokens && context.length < c.maxPositionEmbeddings()) {
        int next;
        try (NDScope scope = new NDScope()) {
          // With a cache only the tokens it has not seen go in; without, the whole context.
          int start = cache == null ? 0 : cache.length();
          long[] fresh = new long[context.length - start];
          for (int i = 0; i < fresh.length; i++) {
            fresh[i] = context[start + i];
          }
          NDArray input = manager.create(fresh).reshape(1, fresh.length);
          NDArray logits = lm.forward(input, adapter, start, cache, null); // (1, T, vocab)
          next = (int) logits.get(0, fresh.length - 1).argMax().getLong();
        }
        if (next == eos) {
          finish = Completion.STOP;
          break;
        }
        generated[count++] = next;
        context = Arrays.copyOf(context, context.length + 1);
        context[context.length - 1] = next;
      }
    } finally {
      JniUtils.setGradMode(gradMode);
    }
    int[] ids = Arrays.copyOf(generated, count);
    return new Completion(lm.base().tokenizer().decode(ids), ids, promptIds.length, finish);
  }
}
