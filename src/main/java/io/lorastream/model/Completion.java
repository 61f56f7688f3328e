package io.lorastream.model;

import java.util.List;
import java.util.Objects;

/**
 * The result of a generation.
 *
 * @param text decoded generated tokens (the eos that stopped generation excluded), cut before the
 *     stop sequence that ended it, if any
 * @param tokenIds generated token ids, eos excluded; when a stop sequence ended generation these
 *     include the tokens that spelled it, so {@code text} may be shorter than their decoding
 * @param promptTokens number of prompt tokens the model saw (bos included)
 * @param finishReason "stop" (eos generated or a stop sequence found) or "length" (token or
 *     position budget reached)
 * @param logprobs one entry per token id when log-probabilities were asked for, else null
 */
public record Completion(
    String text, int[] tokenIds, int promptTokens, String finishReason, List<TokenLogprob> logprobs) {
  public static final String STOP = "stop";
  public static final String LENGTH = "length";

  public Completion {
    Objects.requireNonNull(text, "text");
    Objects.requireNonNull(tokenIds, "tokenIds");
    if (!STOP.equals(finishReason) && !LENGTH.equals(finishReason)) {
      throw new IllegalArgumentException("finishReason must be stop or length, got " + finishReason);
    }
    if (logprobs != null) {
      logprobs = List.copyOf(logprobs);
      if (logprobs.size() != tokenIds.length) {
        throw new IllegalArgumentException(
            logprobs.size() + " logprobs for " + tokenIds.length + " tokens");
      }
    }
  }

  /** A completion without log-probabilities. */
  public Completion(String text, int[] tokenIds, int promptTokens, String finishReason) {
    this(text, tokenIds, promptTokens, finishReason, null);
  }
}
