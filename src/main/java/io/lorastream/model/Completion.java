package io.lorastream.model;

import java.util.Objects;

/**
 * The result of a generation.
 *
 * @param text decoded generated tokens (the eos that stopped generation excluded)
 * @param tokenIds generated token ids, eos excluded
 * @param promptTokens number of prompt tokens the model saw (bos included)
 * @param finishReason "stop" (eos generated) or "length" (token or position budget reached)
 */
public record Completion(String text, int[] tokenIds, int promptTokens, String finishReason) {
  public static final String STOP = "stop";
  public static final String LENGTH = "length";

  public Completion {
    Objects.requireNonNull(text, "text");
    Objects.requireNonNull(tokenIds, "tokenIds");
    if (!STOP.equals(finishReason) && !LENGTH.equals(finishReason)) {
      throw new IllegalArgumentException("finishReason must be stop or length, got " + finishReason);
    }
  }
}
