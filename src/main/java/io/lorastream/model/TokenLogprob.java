package io.lorastream.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The log-probability of a generated token under the model (log-softmax of the raw logits, before
 * temperature or top-p), with the most likely alternatives at that step when they were asked for.
 *
 * @param tokenId the generated token
 * @param token its text alone (a byte that is part of a longer character decodes to U+FFFD)
 * @param logprob natural log of its probability
 * @param top the most likely tokens at this step, most likely first; empty when none were asked
 */
public record TokenLogprob(int tokenId, String token, float logprob, List<Alternative> top) {

  /** One of the most likely tokens at a step. */
  public record Alternative(int tokenId, String token, float logprob) {
    public Alternative {
      Objects.requireNonNull(token, "token");
    }
  }

  public TokenLogprob {
    Objects.requireNonNull(token, "token");
    top = List.copyOf(top);
  }

  /**
   * The entry of {@code chosen} given the step's logits (vocab).
   *
   * @param topN number of alternatives, 0 for none
   */
  static TokenLogprob of(float[] logits, int chosen, int topN, TextTokenizer tokenizer) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double sum = 0;
    for (float l : logits) {
      sum += Math.exp(l - max);
    }
    double logSum = max + Math.log(sum);
    List<Alternative> top = new ArrayList<>(topN);
    boolean[] taken = new boolean[logits.length];
    for (int k = 0; k < topN && k < logits.length; k++) {
      int best = -1;
      for (int i = 0; i < logits.length; i++) {
        if (!taken[i] && (best < 0 || logits[i] > logits[best])) {
          best = i;
        }
      }
      taken[best] = true;
      top.add(new Alternative(best, text(tokenizer, best), (float) (logits[best] - logSum)));
    }
    return new TokenLogprob(chosen, text(tokenizer, chosen), (float) (logits[chosen] - logSum), top);
  }

  private static String text(TextTokenizer tokenizer, int id) {
    return tokenizer.decode(new int[] {id});
  }
}
