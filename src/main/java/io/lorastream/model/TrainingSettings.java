package io.lorastream.model;

/**
 * AdamW and batching settings of LoRA training.
 *
 * @param learningRate AdamW step size
 * @param beta1 decay of the first-moment estimate
 * @param beta2 decay of the second-moment estimate
 * @param epsilon added to the root of the second moment
 * @param weightDecay decoupled weight decay (AdamW), applied to A and B
 * @param maxGradNorm global L2 norm the gradients are clipped to; 0 disables clipping
 * @param maxSequenceLength most tokens of one example fed to the model, bos and eos included
 * @param seed seed of the LoRA dropout masks (unused when dropout is 0)
 * @param packSequences a step lays several short examples one after another in one row, each
 *     attending only to itself with positions from 0 (the same loss and gradients), instead of
 *     padding every example to the longest: fewer rows and padded tokens when lengths differ
 *     (adapters with LoRA dropout keep the padded layout, see {@code LoraTrainer.encodeForStep})
 */
public record TrainingSettings(
    float learningRate,
    float beta1,
    float beta2,
    float epsilon,
    float weightDecay,
    float maxGradNorm,
    int maxSequenceLength,
    long seed,
    boolean packSequences) {

  public TrainingSettings {
    if (!(learningRate > 0) || !Float.isFinite(learningRate)) {
      throw new IllegalArgumentException("learningRate must be positive, got " + learningRate);
    }
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("betas must lie in [0, 1), got " + beta1 + ", " + beta2);
    }
    if (!(epsilon > 0)) {
      throw new IllegalArgumentException("epsilon must be positive, got " + epsilon);
    }
    if (!(weightDecay >= 0) || !Float.isFinite(weightDecay)) {
      throw new IllegalArgumentException("weightDecay must not be negative, got " + weightDecay);
    }
    if (!(maxGradNorm >= 0) || !Float.isFinite(maxGradNorm)) {
      throw new IllegalArgumentException("maxGradNorm must not be negative, got " + maxGradNorm);
    }
    if (maxSequenceLength < 3) {
      throw new IllegalArgumentException(
          "maxSequenceLength must leave room for bos, one token and eos, got " + maxSequenceLength);
    }
  }

  /**
   * lr 5e-3 (LoRA tolerates far higher rates than full fine-tuning, and a tenant's adapter should
   * pick up a handful of examples within tens of steps), betas 0.9/0.999, eps 1e-8, no weight
   * decay, gradients clipped to norm 1, sequences of at most 256 tokens, packed.
   */
  public static TrainingSettings defaults() {
    return new TrainingSettings(5e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1f, 256, 0L, true);
  }

  public TrainingSettings withLearningRate(float lr) {
    return new TrainingSettings(lr, beta1, beta2, epsilon, weightDecay, maxGradNorm, maxSequenceLength, seed,
        packSequences);
  }

  public TrainingSettings withMaxSequenceLength(int length) {
    return new TrainingSettings(learningRate, beta1, beta2, epsilon, weightDecay, maxGradNorm, length, seed,
        packSequences);
  }

  public TrainingSettings withPackSequences(boolean pack) {
    return new TrainingSettings(learningRate, beta1, beta2, epsilon, weightDecay, maxGradNorm, maxSequenceLength,
        seed, pack);
  }
}
