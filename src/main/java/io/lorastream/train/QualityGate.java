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
 * holdout loss must not be worse than the best of the recently published versions (those a
 * rollback can return to) on the same holdout set by more than the holdout margin, and its loss
 * on the shared {@link CanarySet} must not exceed the base model's by more than the canary margin.
 * Comparing with the best rather than the newest version keeps a run of small regressions, each
 * within the margin, from walking the published quality down. The base model is evaluated as an adapter with
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

  /**
   * Holdout and canary losses of the tenant's current weights, each null when the gate does not
   * check it (the holdout ones also while the tenant has too few holdout examples); gatedBy is
   * null when they pass.
   */
  record Evaluation(Float holdoutLoss, Float baseHoldoutLoss, Float referenceHoldoutLoss, Float canaryLoss,
      String gatedBy) {}

  Evaluation evaluate(TenantState state) {
    TrainerSettings.Gate gate = settings.gate();
    Float holdoutLoss = null;
    Float baseHoldout = null;
    Float referenceHoldout = null;
    Float canaryLoss = null;
    String gatedBy = null;
    // The holdout pass (up to 64 examples through the model, several times a training step's
    // cost) runs only when the gate checks it: with the check off, snapshots carry no holdout loss.
    List<TrainingPair> holdout = gate.checksHoldout() ? state.holdoutPairs() : List.of();
    if (gate.checksHoldout() && holdout.size() >= gate.minHoldoutExamples()) {
      holdoutLoss = meanLoss(state.trainer, holdout);
      baseHoldout = state.baseHoldoutLoss().orElse(null);
      if (baseHoldout == null) {
        baseHoldout = meanLoss(baseEvaluator(), holdout);
        state.baseHoldoutLoss(baseHoldout);
      }
      if (gate.checksHoldout() && state.newestVersion().isPresent()) {
        referenceHoldout = bestPublishedHoldoutLoss(state, holdout);
        if (!(holdoutLoss <= referenceHoldout * (1 + gate.holdoutMargin()))) {
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
    return new Evaluation(holdoutLoss, baseHoldout, referenceHoldout, canaryLoss, gatedBy);
  }

  /**
   * The lowest loss of the recently published versions on the current holdout set. Each
   * version's loss is computed once per holdout set (a version just published already has its
   * loss as a candidate).
   */
  private float bestPublishedHoldoutLoss(TenantState state, List<TrainingPair> holdout) {
    float best = Float.POSITIVE_INFINITY;
    for (PublishedVersion published : state.recentVersions()) {
      Optional<Float> cached = state.versionHoldoutLoss(published.getVersion());
      float loss;
      if (cached.isPresent()) {
        loss = cached.get();
      } else {
        try (LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(Bytes.of(published.getWeights()),
                state.adapter.config(), base);
            LoraTrainer evaluator = new LoraTrainer(base, adapter, settings.training())) {
          loss = meanLoss(evaluator, holdout);
        }
        state.versionHoldoutLoss(published.getVersion(), loss);
      }
      best = Math.min(best, loss);
    }
    return best;
  }

  /**
   * Rows evaluated in one forward pass. Up to 16 rows a pass costs about as much per row as 8; the
   * whole canary set (32 rows) in one pass took five times as long as two passes of 16 on
   * lorastream-tiny (CanaryGateCostTrial, BENCHMARKS.md), so larger sets go in passes of 16.
   */
  static final int ROWS_PER_PASS = 16;

  /** Weight-averaged mean loss over {@code pairs}, evaluated in chunks to bound memory. */
  private static float meanLoss(LoraTrainer trainer, List<TrainingPair> pairs) {
    return meanLoss(trainer, pairs, ROWS_PER_PASS);
  }

  /** Weight-averaged mean loss over {@code pairs}, {@code chunk} rows per forward pass. */
  static float meanLoss(LoraTrainer trainer, List<TrainingPair> pairs, int chunk) {
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
