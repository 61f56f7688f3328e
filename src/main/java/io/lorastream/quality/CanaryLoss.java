package io.lorastream.quality;

import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingPair;
import io.lorastream.model.TrainingSettings;
import java.util.List;

/**
 * Forgetting measured as the change of the canary loss: the mean token loss of the canary
 * completions (cross-entropy in nats per completion token, eos included, averaged per pair, then
 * over pairs) with a tenant's adapter, relative to the same loss of the base model alone.
 *
 * @param baseLoss the base model's mean loss (nats per token)
 * @param adapterLoss the loss with the adapter
 */
public record CanaryLoss(double baseLoss, double adapterLoss) {

  /** (adapter - base) / base: 0.05 = the adapter's canary loss is 5% higher than the base's. */
  public double relativeChange() {
    return (adapterLoss - baseLoss) / baseLoss;
  }

  /** The canary loss of {@code base} with {@code adapterOrNull} (null: the base model alone). */
  public static double meanLoss(BaseModel base, LoraAdapter adapterOrNull, List<TrainingPair> canary) {
    if (canary.isEmpty()) {
      throw new IllegalArgumentException("empty canary set");
    }
    // A B = 0 adapter is the base model exactly; the evaluator only reads it.
    try (LoraAdapter adapter = adapterOrNull != null ? adapterOrNull.copy()
            : LoraAdapter.initialise(base, io.lorastream.model.LoraConfig.defaults(), 0L);
        LoraTrainer evaluator = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      double sum = 0;
      for (int from = 0; from < canary.size(); from += 16) {
        List<TrainingPair> chunk = canary.subList(from, Math.min(canary.size(), from + 16));
        sum += evaluator.loss(chunk) * chunk.size(); // loss() is the mean over the chunk's pairs
      }
      return sum / canary.size();
    }
  }

  /** Base and adapter canary losses on the same pairs. */
  public static CanaryLoss of(BaseModel base, LoraAdapter adapter, List<TrainingPair> canary) {
    return new CanaryLoss(meanLoss(base, null, canary), meanLoss(base, adapter, canary));
  }
}
