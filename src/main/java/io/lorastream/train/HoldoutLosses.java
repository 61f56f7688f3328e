package io.lorastream.train;

import io.lorastream.avro.HoldoutExample;
import io.lorastream.model.LoraTrainer.RowLoss;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A tenant's holdout losses per example, for the models its quality gate compares a candidate
 * with: the base model ({@link #BASE}) and each kept published version (by version number). Those
 * models do not change, so an example's loss under one of them, once computed, holds for as long as
 * the example and the model are kept: when the holdout set grows, only the new example is evaluated
 * (one row per model) instead of the whole set again.
 */
final class HoldoutLosses {
  /** The key of the base model; published versions are numbered from 1. */
  static final long BASE = 0;

  /** Model key -> holdout example id -> that example's loss under the model. */
  private final Map<Long, Map<String, RowLoss>> byModel = new HashMap<>();

  /** The examples of {@code holdout} whose loss under {@code model} is not known yet, in order. */
  List<HoldoutExample> missing(long model, List<HoldoutExample> holdout) {
    Map<String, RowLoss> known = byModel.getOrDefault(model, Map.of());
    return holdout.stream().filter(h -> !known.containsKey(h.getId())).toList();
  }

  /** Remembers the losses under {@code model} of {@code examples}, given in the same order. */
  void put(long model, List<HoldoutExample> examples, RowLoss[] losses) {
    if (examples.size() != losses.length) {
      throw new IllegalArgumentException(examples.size() + " examples but " + losses.length + " losses");
    }
    Map<String, RowLoss> known = byModel.computeIfAbsent(model, m -> new HashMap<>());
    for (int i = 0; i < losses.length; i++) {
      known.put(examples.get(i).getId(), losses[i]);
    }
  }

  /** The mean holdout loss of {@code model} ({@link #mean}) when every example's loss is known. */
  Optional<Float> mean(long model, List<HoldoutExample> holdout) {
    Map<String, RowLoss> known = byModel.getOrDefault(model, Map.of());
    RowLoss[] losses = new RowLoss[holdout.size()];
    for (int i = 0; i < losses.length; i++) {
      losses[i] = known.get(holdout.get(i).getId());
      if (losses[i] == null) {
        return Optional.empty();
      }
    }
    return Optional.of(mean(holdout, losses));
  }

  /**
   * The loss of a whole holdout set as {@code LoraTrainer.loss} defines it for a batch: the
   * weight-averaged mean over examples of their mean token loss, examples without a completion token
   * left out. NaN when no example counts.
   */
  static float mean(List<HoldoutExample> holdout, RowLoss[] losses) {
    double sum = 0;
    double weight = 0;
    for (int i = 0; i < losses.length; i++) {
      if (losses[i].tokens() > 0) {
        double w = holdout.get(i).getWeight();
        sum += w * losses[i].lossSum() / losses[i].tokens();
        weight += w;
      }
    }
    return weight == 0 ? Float.NaN : (float) (sum / weight);
  }

  /** Forgets an example's losses under every model (it left the holdout set, or was replaced). */
  void forgetExample(String id) {
    byModel.values().forEach(known -> known.remove(id));
  }

  /** Forgets a model's losses (a version no longer kept). */
  void forgetModel(long model) {
    byModel.remove(model);
  }

  /** Takes over every loss {@code other} knows (a state rebuilt for the same tenant). */
  void copyFrom(HoldoutLosses other) {
    byModel.clear();
    other.byModel.forEach((model, known) -> byModel.put(model, new HashMap<>(known)));
  }
}
