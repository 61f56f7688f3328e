package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Decoding with a KV cache: greedy or sampled ({@link SamplingParams}), one sequence per call or
 * several tenants' sequences in one batch ({@link #generateBatch}). Thread-safe: weights and
 * adapters are only read, and each call switches autograd off on its own thread (new threads
 * start with it on).
 */
public final class Generator {
  private final CausalLm lm;

  public Generator(BaseModel base) {
    this(new CausalLm(base));
  }

  public Generator(CausalLm lm) {
    this.lm = lm;
  }

  /** {@code [bos] + encode(prompt)}: the layout training uses. */
  public int[] encodePrompt(String prompt) {
    TextTokenizer tokenizer = lm.base().tokenizer();
    int[] encoded = tokenizer.encode(prompt);
    int[] ids = new int[encoded.length + 1];
    ids[0] = tokenizer.bosId();
    System.arraycopy(encoded, 0, ids, 1, encoded.length);
    return ids;
  }

  /** Greedy generation after {@code [bos] + encode(prompt)}, the layout training uses. */
  public Completion generate(String prompt, LoraAdapter adapterOrNull, int maxTokens) {
    return generate(encodePrompt(prompt), adapterOrNull, SamplingParams.greedy(maxTokens));
  }

  /** Generation after {@code [bos] + encode(prompt)}. */
  public Completion generate(String prompt, LoraAdapter adapterOrNull, SamplingParams params) {
    return generate(encodePrompt(prompt), adapterOrNull, params);
  }

  /** Greedy generation after {@code promptIds} exactly as given (no bos added). */
  public Completion generate(List<Integer> promptIds, LoraAdapter adapterOrNull, int maxTokens) {
    return generate(promptIds.stream().mapToInt(Integer::intValue).toArray(), adapterOrNull, maxTokens);
  }

  /** Greedy generation after {@code promptIds} exactly as given (no bos added). */
  public Completion generate(int[] promptIds, LoraAdapter adapterOrNull, int maxTokens) {
    return generate(promptIds, adapterOrNull, SamplingParams.greedy(maxTokens));
  }

  /**
   * Generation after {@code promptIds} exactly as given (no bos added); stops at eos, a stop
   * sequence, after {@code params.maxTokens()} tokens, or at max_position_embeddings.
   */
  public Completion generate(int[] promptIds, LoraAdapter adapterOrNull, SamplingParams params) {
    return generate(promptIds, adapterOrNull, params, true);
  }

  /** Greedy generation; see {@link #generate(int[], LoraAdapter, SamplingParams, boolean)}. */
  Completion generate(int[] promptIds, LoraAdapter adapter, int maxTokens, boolean useCache) {
    return generate(promptIds, adapter, SamplingParams.greedy(maxTokens), useCache);
  }

  /**
   * @param useCache false recomputes the whole prefix for every token (the reference the cache
   *     is tested against)
   */
  Completion generate(int[] promptIds, LoraAdapter adapter, SamplingParams params, boolean useCache) {
    SequenceState sequence = new SequenceState(promptIds, params, lm.base());
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (NDManager manager = NDManager.newBaseManager(lm.base().manager().getDevice());
        CausalLm.KvCache cache = useCache ? new CausalLm.KvCache(lm.base()) : null) {
      RowLora lora; // the adapter's factors, transposed and scaled once for every token
      try (NDScope scope = new NDScope()) {
        lora = RowLora.gather(lm.base(), java.util.Collections.singletonList(adapter), manager).keepOn(manager);
      }
      while (!sequence.done()) {
        float[] logits;
        try (NDScope scope = new NDScope()) {
          // With a cache only the tokens it has not seen go in; without, the whole context.
          int start = cache == null ? 0 : cache.length();
          long[] fresh = new long[sequence.length() - start];
          for (int i = 0; i < fresh.length; i++) {
            fresh[i] = sequence.token(start + i);
          }
          NDArray input = manager.create(fresh).reshape(1, fresh.length);
          logits = lm.forwardRows(input, lora, new int[] {start}, null, cache, true).toFloatArray(); // (vocab)
        }
        sequence.accept(logits);
      }
    } finally {
      JniUtils.setGradMode(gradMode);
    }
    return sequence.completion();
  }

  /**
   * Generates all {@code requests} together in a {@link DecodeBatch}: one forward pass per step
   * for every unfinished row, whatever its tenant. Each result equals (up to float rounding of
   * batched products) what {@link #generate(int[], LoraAdapter, SamplingParams)} gives for the
   * request alone.
   *
   * @return completions in the order of {@code requests}
   */
  public List<Completion> generateBatch(List<GenerationRequest> requests) {
    Map<Long, Integer> order = new HashMap<>();
    Completion[] out = new Completion[requests.size()];
    try (DecodeBatch batch = new DecodeBatch(lm)) {
      List<Long> ids = batch.addAll(requests);
      for (int i = 0; i < ids.size(); i++) {
        order.put(ids.get(i), i);
      }
      while (!batch.isEmpty()) {
        for (DecodeBatch.Update update : batch.step()) {
          if (update.finished()) {
            out[order.get(update.id())] = update.completion();
          }
        }
      }
    }
    return new ArrayList<>(List.of(out));
  }
}
