package io.lorastream.train;

import io.lorastream.avro.HoldoutExample;
import io.lorastream.avro.PublishedVersion;
import io.lorastream.contract.Bytes;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.LoraTrainer.RowLoss;
import io.lorastream.model.TrainingPair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides whether a candidate may be published (the policy is {@link TrainerSettings.Gate}'s): its
 * holdout loss must not be worse than the best of the recently published versions (those a
 * rollback can return to) on the same holdout set by more than the holdout allowance (the relative
 * margin, but at least the least margin in nats: {@link TrainerSettings.Gate#holdoutAllowance}), and its loss
 * on the shared {@link CanarySet} must not exceed the base model's by more than the canary margin.
 * Comparing with the best rather than the newest version keeps a run of small regressions, each
 * within the margin, from walking the published quality down. The base model is evaluated as an adapter with
 * B = 0, which computes exactly what the base computes.
 *
 * <p>Thread-safe for distinct tenants: the train threads evaluate their groups' candidates at once.
 * What they share, the base model's evaluator and its canary loss, is made once under a lock.
 */
final class QualityGate implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(QualityGate.class);

  private final BaseModel base;
  private final TrainerSettings settings;
  private LoraTrainer baseEvaluator;
  private Float baseCanaryLoss;
  private final AtomicLong holdoutRowsEvaluated = new AtomicLong();

  QualityGate(BaseModel base, TrainerSettings settings) {
    this.base = base;
    this.settings = settings;
  }

  /**
   * Holdout and canary losses of the tenant's current weights, each null when the gate does not
   * check it (the holdout ones also while the tenant has too few holdout examples); gatedBy is
   * null when they pass. {@code holdoutRows} are the candidate's losses per holdout example (empty
   * when the holdout was not checked): once published, they are that version's.
   */
  record Evaluation(Float holdoutLoss, Float baseHoldoutLoss, Float referenceHoldoutLoss, Float canaryLoss,
      String gatedBy, List<HoldoutExample> holdoutExamples, RowLoss[] holdoutRows) {

    /** The losses and the decision, for log lines: the holdout examples and their rows are left out. */
    @Override
    public String toString() {
      return "holdoutLoss=" + holdoutLoss + ", baseHoldoutLoss=" + baseHoldoutLoss + ", referenceHoldoutLoss="
          + referenceHoldoutLoss + ", canaryLoss=" + canaryLoss + ", gatedBy=" + gatedBy + ", holdoutExamples="
          + holdoutExamples.size();
    }
  }

  /** Holdout rows evaluated so far (candidates, base model, kept versions): what the caching saves shows here. */
  long holdoutRowsEvaluated() {
    return holdoutRowsEvaluated.get();
  }

  Evaluation evaluate(TenantState state) {
    TrainerSettings.Gate gate = settings.gate();
    Float holdoutLoss = null;
    Float baseHoldout = null;
    Float referenceHoldout = null;
    Float canaryLoss = null;
    String gatedBy = null;
    RowLoss[] candidateRows = new RowLoss[0];
    // The holdout pass (up to 64 examples through the model, several times a training step's
    // cost) runs only when the gate checks it: with the check off, snapshots carry no holdout loss.
    List<HoldoutExample> holdout = gate.checksHoldout() ? state.holdout() : List.of();
    if (gate.checksHoldout() && holdout.size() >= gate.minHoldoutExamples()) {
      candidateRows = rowLosses(state.trainer, holdout);
      holdoutLoss = HoldoutLosses.mean(holdout, candidateRows);
      baseHoldout = knownLoss(state, HoldoutLosses.BASE, holdout, this::baseEvaluator);
      if (gate.checksHoldout() && state.newestVersion().isPresent()) {
        referenceHoldout = bestPublishedHoldoutLoss(state, holdout);
        if (!(holdoutLoss <= referenceHoldout + gate.holdoutAllowance(referenceHoldout))) {
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
    return new Evaluation(holdoutLoss, baseHoldout, referenceHoldout, canaryLoss, gatedBy,
        candidateRows.length == 0 ? List.of() : holdout, candidateRows);
  }

  /**
   * The lowest loss of the recently published versions on the current holdout set. Each version's
   * loss per holdout example is computed once (a version just published already has them from its
   * candidacy), so a new holdout example costs one row per version.
   */
  private float bestPublishedHoldoutLoss(TenantState state, List<HoldoutExample> holdout) {
    float best = Float.POSITIVE_INFINITY;
    for (PublishedVersion published : state.recentVersions()) {
      float loss = knownLoss(state, published.getVersion(), holdout, () -> versionEvaluator(state, published));
      best = Math.min(best, loss);
    }
    return best;
  }

  /**
   * The holdout loss of {@code model} (base or a kept version), evaluating only the examples whose
   * loss under it is not known yet; the evaluator is made, and closed, only when there are some.
   */
  private float knownLoss(TenantState state, long model, List<HoldoutExample> holdout,
      Supplier<Evaluator> evaluator) {
    List<HoldoutExample> missing = state.holdoutLosses.missing(model, holdout);
    if (!missing.isEmpty()) {
      try (Evaluator e = evaluator.get()) {
        state.holdoutLosses.put(model, missing, rowLosses(e.trainer(), missing));
      }
    }
    return state.holdoutLosses.mean(model, holdout).orElseThrow();
  }

  /** A trainer to evaluate with, and whether closing it should free its adapter. */
  private record Evaluator(LoraTrainer trainer, boolean owned) implements AutoCloseable {
    @Override
    public void close() {
      if (owned) {
        trainer.close();
        trainer.adapter().close();
      }
    }
  }

  private Evaluator baseEvaluator() {
    return new Evaluator(baseTrainer(), false);
  }

  private Evaluator versionEvaluator(TenantState state, PublishedVersion published) {
    LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(Bytes.of(published.getWeights()), state.adapter.config(), base);
    return new Evaluator(new LoraTrainer(base, adapter, settings.training()), true);
  }

  /**
   * Each example's loss, in the order of {@code examples}, {@link #ROWS_PER_PASS} rows per forward
   * pass. A pass pads its rows to its longest example, so the passes take the examples shortest
   * first: on the demo's holdout examples (19-38 tokens) that pads 8% of the positions computed
   * instead of 26% in arrival order.
   */
  private RowLoss[] rowLosses(LoraTrainer trainer, List<HoldoutExample> examples) {
    List<TrainingPair> pairs = examples.stream()
        .map(h -> new TrainingPair(h.getPrompt(), h.getCompletion(), h.getWeight())).toList();
    long[] tokens = pairs.stream().mapToLong(p -> trainer.inputTokens(List.of(p))).toArray();
    Integer[] shortestFirst = new Integer[pairs.size()];
    for (int i = 0; i < shortestFirst.length; i++) {
      shortestFirst[i] = i;
    }
    Arrays.sort(shortestFirst, Comparator.comparingLong(i -> tokens[i]));
    RowLoss[] out = new RowLoss[pairs.size()];
    for (int from = 0; from < shortestFirst.length; from += ROWS_PER_PASS) {
      int to = Math.min(shortestFirst.length, from + ROWS_PER_PASS);
      List<TrainingPair> pass = new ArrayList<>(to - from);
      for (int k = from; k < to; k++) {
        pass.add(pairs.get(shortestFirst[k]));
      }
      RowLoss[] losses = trainer.rowLosses(pass);
      for (int k = from; k < to; k++) {
        out[shortestFirst[k]] = losses[k - from];
      }
    }
    holdoutRowsEvaluated.addAndGet(examples.size());
    return out;
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

  private synchronized LoraTrainer baseTrainer() {
    if (baseEvaluator == null) {
      // PEFT initialises B = 0: the adapted model computes exactly what the base computes.
      LoraAdapter zero = LoraAdapter.initialise(base, settings.lora(), settings.seed());
      baseEvaluator = new LoraTrainer(base, zero, settings.training());
    }
    return baseEvaluator;
  }

  private synchronized float baseCanaryLoss() {
    if (baseCanaryLoss == null) {
      baseCanaryLoss = meanLoss(baseTrainer(), CanarySet.PAIRS);
      log.info("base model canary loss {}", String.format("%.4f", baseCanaryLoss));
    }
    return baseCanaryLoss;
  }

  @Override
  public synchronized void close() {
    if (baseEvaluator != null) {
      baseEvaluator.close();
      baseEvaluator.adapter().close();
      baseEvaluator = null;
    }
  }
}
