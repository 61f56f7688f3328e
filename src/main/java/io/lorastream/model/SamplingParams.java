package io.lorastream.model;

import java.util.List;
import java.util.Objects;

/**
 * How one request picks its tokens.
 *
 * @param maxTokens most tokens to generate (eos not counted), not negative
 * @param temperature divides the logits before sampling; 0 picks the most likely token (greedy)
 * @param topP nucleus sampling: draw only among the most likely tokens whose probabilities (after
 *     temperature) add up to at least topP; 1 keeps every token. Ignored when greedy
 * @param seed seed of the request's random source; the same seed, prompt and adapter give the
 *     same tokens. Null draws a fresh seed
 * @param stop generation ends as soon as the decoded text contains one of these (non-empty)
 *     strings; the text is cut before it
 * @param logprobs null for none; otherwise each generated token's log-probability plus this many
 *     (0 to 5) most likely alternatives
 */
public record SamplingParams(
    int maxTokens, float temperature, float topP, Long seed, List<String> stop, Integer logprobs) {
  public static final int MAX_LOGPROBS = 5;

  public SamplingParams {
    if (maxTokens < 0) {
      throw new IllegalArgumentException("maxTokens must not be negative, got " + maxTokens);
    }
    if (!(temperature >= 0) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException(
          "temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("topP must lie in (0, 1], got " + topP);
    }
    stop = stop == null ? List.of() : List.copyOf(stop);
    for (String s : stop) {
      if (s.isEmpty()) {
        throw new IllegalArgumentException("stop sequences must not be empty");
      }
    }
    if (logprobs != null && (logprobs < 0 || logprobs > MAX_LOGPROBS)) {
      throw new IllegalArgumentException(
          "logprobs must lie in 0.." + MAX_LOGPROBS + " or be absent, got " + logprobs);
    }
  }

  /** The most likely token at every step, no stop sequences, no logprobs. */
  public static SamplingParams greedy(int maxTokens) {
    return new SamplingParams(maxTokens, 0f, 1f, null, List.of(), null);
  }

  public boolean isGreedy() {
    return temperature == 0f;
  }

  public SamplingParams withStop(List<String> sequences) {
    return new SamplingParams(maxTokens, temperature, topP, seed, Objects.requireNonNull(sequences), logprobs);
  }

  public SamplingParams withLogprobs(Integer top) {
    return new SamplingParams(maxTokens, temperature, topP, seed, stop, top);
  }
}
