package io.lorastream.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The token-level state of one sequence being generated: its context, sampler, stop rules and
 * what it produced. The model calls live elsewhere ({@link Generator} for one sequence,
 * {@link DecodeBatch} for many), so both decide tokens, stops and logprobs the same way.
 */
final class SequenceState {
  private final int[] prompt;
  private final SamplingParams params;
  private final Sampler sampler;
  private final TextTokenizer tokenizer;
  private final int eos;
  private final int maxPositions;
  private int[] generated = new int[16];
  private int count;
  private final List<TokenLogprob> logprobs;
  private String finishReason; // null while running
  private String cutText; // text before the stop sequence that ended generation

  SequenceState(int[] promptIds, SamplingParams params, BaseModel base) {
    LlamaConfig c = base.config();
    if (promptIds.length == 0) {
      throw new IllegalArgumentException("prompt must hold at least one token");
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
    this.prompt = promptIds.clone();
    this.params = params;
    long seed = params.seed() != null ? params.seed() : ThreadLocalRandom.current().nextLong();
    this.sampler = Sampler.of(params, seed);
    this.tokenizer = base.tokenizer();
    this.eos = c.eosTokenId();
    this.maxPositions = c.maxPositionEmbeddings();
    this.logprobs = params.logprobs() == null ? null : new ArrayList<>();
    if (params.maxTokens() == 0) {
      finishReason = Completion.LENGTH;
    }
  }

  boolean done() {
    return finishReason != null;
  }

  /** Prompt plus generated tokens. */
  int length() {
    return prompt.length + count;
  }

  /** The token at {@code position} of the context. */
  int token(int position) {
    return position < prompt.length ? prompt[position] : generated[position - prompt.length];
  }

  int lastToken() {
    return token(length() - 1);
  }

  int generatedCount() {
    return count;
  }

  /**
   * Chooses the next token from {@code logits} (vocab), the model's output after the whole
   * context.
   *
   * @return true when the chosen token was appended and generation goes on (the caller feeds it
   *     to the model); false when the sequence is done
   */
  boolean accept(float[] logits) {
    if (done()) {
      throw new IllegalStateException("sequence already finished: " + finishReason);
    }
    return append(sampler.next(logits), logits);
  }

  /**
   * Whether choosing the next token needs the logits themselves (sampling, logprobs); a greedy
   * sequence without logprobs needs only their argmax ({@link #acceptArgmax}).
   */
  boolean needsLogits() {
    return !params.isGreedy() || logprobs != null;
  }

  /**
   * As {@link #accept(float[])} for a sequence that does not {@link #needsLogits()}: {@code
   * argmax} is the index of the largest logit (the first one on ties), the token greedy decoding
   * chooses.
   */
  boolean acceptArgmax(int argmax) {
    if (needsLogits()) {
      throw new IllegalStateException("this sequence samples or reports logprobs: it needs the logits");
    }
    if (done()) {
      throw new IllegalStateException("sequence already finished: " + finishReason);
    }
    return append(argmax, null);
  }

  /** Appends the chosen token and applies the stop rules; {@code logits} only for logprobs. */
  private boolean append(int next, float[] logits) {
    if (next == eos) {
      finishReason = Completion.STOP;
      return false;
    }
    if (count == generated.length) {
      generated = Arrays.copyOf(generated, 2 * count);
    }
    generated[count++] = next;
    if (logprobs != null) {
      logprobs.add(TokenLogprob.of(logits, next, params.logprobs(), tokenizer));
    }
    if (!params.stop().isEmpty()) {
      String text = tokenizer.decode(Arrays.copyOf(generated, count));
      int cut = -1;
      for (String s : params.stop()) {
        int at = text.indexOf(s);
        if (at >= 0 && (cut < 0 || at < cut)) {
          cut = at;
        }
      }
      if (cut >= 0) {
        cutText = text.substring(0, cut);
        finishReason = Completion.STOP;
        return false;
      }
    }
    if (count >= params.maxTokens() || length() >= maxPositions) {
      finishReason = Completion.LENGTH;
      return false;
    }
    return true;
  }

  Completion completion() {
    if (!done()) {
      throw new IllegalStateException("sequence still running");
    }
    int[] ids = Arrays.copyOf(generated, count);
    String text = cutText != null ? cutText : tokenizer.decode(ids);
    return new Completion(text, ids, prompt.length, finishReason, logprobs);
  }
}
