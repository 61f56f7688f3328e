package io.lorastream.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from next-token logits (vocab). Samplers compose:
 * {@code categorical(random).withTopP(0.9f).withTemperature(0.7f)} divides by the temperature,
 * keeps the nucleus, then draws. A sampler never modifies the array it is given.
 */
@FunctionalInterface
public interface Sampler {

  /**
   * @param logits (vocab) raw scores of the next token
   * @return the chosen token id
   */
  int next(float[] logits);

  /** The index of the largest logit, the first one on ties. */
  static Sampler greedy() {
    return Sampler::argmax;
  }

  /** A draw from softmax(logits) with {@code random} (one {@code nextDouble()} per token). */
  static Sampler categorical(SplittableRandom random) {
    return logits -> {
      double max = Double.NEGATIVE_INFINITY;
      for (float l : logits) {
        max = Math.max(max, l);
      }
      double[] weights = new double[logits.length];
      double sum = 0;
      for (int i = 0; i < logits.length; i++) {
        weights[i] = Math.exp(logits[i] - max); // 0 for -infinity
        sum += weights[i];
      }
      double r = random.nextDouble() * sum;
      double cumulative = 0;
      int last = -1;
      for (int i = 0; i < weights.length; i++) {
        if (weights[i] > 0) {
          cumulative += weights[i];
          last = i;
          if (r < cumulative) {
            return i;
          }
        }
      }
      return last; // r at the very top of the rounding range
    };
  }

  /** This sampler applied to {@code logits / temperature}; temperature must be positive. */
  default Sampler withTemperature(float temperature) {
    if (!(temperature > 0) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException("temperature must be positive here, got " + temperature);
    }
    return logits -> {
      float[] scaled = new float[logits.length];
      for (int i = 0; i < logits.length; i++) {
        scaled[i] = logits[i] / temperature;
      }
      return next(scaled);
    };
  }

  /**
   * This sampler applied to the nucleus only: the fewest most-likely tokens whose softmax
   * probabilities add up to at least {@code p} keep their logits, all others get -infinity.
   */
  default Sampler withTopP(float p) {
    if (!(p > 0 && p <= 1)) {
      throw new IllegalArgumentException("top-p must lie in (0, 1], got " + p);
    }
    if (p == 1f) {
      return this;
    }
    return logits -> next(nucleus(logits, p));
  }

  /** Builds the sampler {@code params} describe; greedy when its temperature is 0. */
  static Sampler of(SamplingParams params, long seed) {
    if (params.isGreedy()) {
      return greedy();
    }
    return categorical(new SplittableRandom(seed))
        .withTopP(params.topP())
        .withTemperature(params.temperature());
  }

  private static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }

  /** Logits with every token outside the top-p nucleus set to -infinity. */
  private static float[] nucleus(float[] logits, float p) {
    int n = logits.length;
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] prob = new double[n];
    double sum = 0;
    for (int i = 0; i < n; i++) {
      prob[i] = Math.exp(logits[i] - max);
      sum += prob[i];
    }
    // A token below (1 - p) / (n - 1) cannot be in the nucleus: all others together would still
    // exceed p. Skipping them keeps the sort small for large vocabularies. The argmax always stays.
    int top = argmax(logits);
    double cutoff = n > 1 ? (1 - p) / (n - 1) : 0;
    Integer[] candidates = new Integer[n];
    int count = 0;
    for (int i = 0; i < n; i++) {
      prob[i] /= sum;
      if (prob[i] >= cutoff || i == top) {
        candidates[count++] = i;
      }
    }
    Integer[] sorted = Arrays.copyOf(candidates, count);
    // Descending probability, ascending id on ties: the first one is the greedy token.
    Arrays.sort(sorted, (x, y) -> prob[x] != prob[y] ? Double.compare(prob[y], prob[x]) : Integer.compare(x, y));
    float[] out = new float[n];
    Arrays.fill(out, Float.NEGATIVE_INFINITY);
    double cumulative = 0;
    for (Integer i : sorted) {
      out[i] = logits[i];
      cumulative += prob[i];
      if (cumulative >= p) {
        break;
      }
    }
    return out;
  }
}
