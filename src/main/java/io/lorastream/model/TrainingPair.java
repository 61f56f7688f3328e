package io.lorastream.model;

import java.util.Objects;

/**
 * One supervised example: the model learns to continue {@code prompt} with {@code completion}.
 *
 * @param weight relative weight of the example in its batch, finite and not negative
 */
public record TrainingPair(String prompt, String completion, float weight) {
  public TrainingPair {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(completion, "completion");
    if (!(weight >= 0) || !Float.isFinite(weight)) {
      throw new IllegalArgumentException("weight must be finite and not negative, got " + weight);
    }
  }

  public TrainingPair(String prompt, String completion) {
    this(prompt, completion, 1f);
  }
}
