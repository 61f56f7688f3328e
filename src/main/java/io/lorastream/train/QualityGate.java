package io.lorastream.train;

import io.lorastream.avro.PublishedVersion;
import io.lorastream.contract.Bytes;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingPair;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides whether a candidate may be published (the policy is {@link TrainerSettings.Gate}'s): its
 * holdout loss must not be worse than the newest published version's on the same holdout set by
 * more than the holdout margin, and its loss on the shared {@link CanarySet} must not exceed the
 * base model's by more than the canary margin. The base model is evaluated as an adapter with
 * B = 0, which computes exactly what the base computes.
 */
final class QualityGate implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(QualityGate.class);

  private final BaseModel base;
  private final TrainerSettings settings;
  private LoraTrainer baseEvaluator;
  private Float baseCanaryLoss;

  QualityGate(BaseModel base, TrainerSettings settings) {
    this.base = base;
    this.settings = settings;
  }

  /** Holdout and canary losses of the tenant's current weights; gatedBy is null when they pass. */
  record Evaluation(Float holdoutLoss, Float baseHoldoutLoss, Float publishedHoldoutLoss, Float canaryLoss,
      String gatedBy) {}

  Evaluation evaluate(TenantState state) {
    TrainerSettings.Gate gate = settings.gate();
    Float holdoutLoss = null;
    Float baseHoldout = null;
    Float publishedHoldout = null;
    Float canaryLoss = null;
    String gatedBy = null;
    List<TrainingPair> holdout = state.holdoutPairs();
    if (holdout.size() >= gate.minHoldoutExamples()) {
      holdoutLoss = meanLoss(state.trainer, holdout);
      baseHoldout = state.baseHoldoutLoss().orElse(null);
      if (baseHoldout == null) {
        baseHoldout = meanLoss(baseEvaluator(), holdout);
        state.baseHoldoutLoss(baseHoldout);
      }
      if (gate.checksHoldout() && state.newestVersion().isPresent()) {
        publishedHoldout = publishedHoldoutLoss(state, holdout);
        if (!(holdoutLoss <= publishedHoldout * (1 + gate.holdoutMargin()))) {
          gatedBy = "holdout";
        }
      }
    }
    if (gatedBy == null && gate.checksCanary()) {
      canaryLoss = meanLoss(state.trainer, CanarySet.PAIRS);
      if (!(canaryLoss <= baseCanaryLoss() * (1 + gate.canaryMargin()))) {
        gatedBy = "canary";
      }
    }
    return new Evaluation(holdoutLoss, baseHoldout, publishedHoldout, canaryLoss, gatedBy);
  }

  /** The newest published version's loss on the current holdout set (cached until the set changes). */
  private float publishedHoldoutLoss(TenantState state, List<TrainingPair> holdout) {
    Optional<Float> cached = state.publishedHoldoutLoss();
    if (cached.isPresent()) {
      return cached.get();
    }
    PublishedVersion published = state.newestVersion().orElseThrow();
    float loss;
    try (LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(Bytes.of(published.getWeights()),
            state.adapter.config(), base);
        LoraTrainer evaluator = new LoraTrainer(base, adapter, settings.training())) {
      loss = meanLoss(evaluator, holdout);
    }
    state.publishedHoldoutLoss(loss);
    return loss;
  }

  /** Weight-averaged mean loss over {@code pairs}, evaluated in chunks to bound memory. */
  private static float meanLoss(LoraTrainer trainer, List<TrainingPair> pairs) {
    final int chunk = 16;
    double sum = 0;
    double weight = 0;
    for (int i = 0; i < pairs.size(); i += chunk) {
      List<TrainingPair> part = pairs.subList(i, Math.min(pairs.size(), i + chunk));
      double w = part.stream().mapToDouble(TrainingPair::weight).sum();
      sum += trainer.loss(part) * w;
      weight += w;
    }
    return weight == 0 ? Float.NaN : (float) (sum / weight);
  }

  private LoraTrainer baseEvaluator() {
    if (baseEvaluator == null) {
      // PEFT initialises B = 0: the adapted model computes exactly what the base computes.
      LoraAdapter zero = LoraAdapter.initialise(base, settings.lora(), settings.seed());
      baseEvaluator = new LoraTrainer(base, zero, settings.training());
    }
    return baseEvaluator;
  }

  private float baseCanaryLoss() {
    if (baseCanaryLoss == null) {
      baseCanaryLoss = meanLoss(baseEvaluator(), CanarySet.PAIRS);
      log.info("base model canary loss {}", String.format("%.4f", baseCanaryLoss));
    }
    return baseCanaryLoss;
  }

  @Override
  public void close() {
    if (baseEvaluator != null) {
      baseEvaluator.close();
      baseEvaluator.adapter().close();
      baseEvaluator = null;
    }
  }
}
