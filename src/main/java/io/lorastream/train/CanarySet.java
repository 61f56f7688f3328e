package io.lorastream.train;

import io.lorastream.model.TrainingPair;
import io.lorastream.model.pretrain.GeneralExchanges;
import java.util.List;

/**
 * The general customer-service exchanges (no tenant fact) on which the quality gate checks that an
 * adapter has not made the model worse than the base model is: {@link GeneralExchanges#CANARY},
 * the same pairs the quality evaluation measures forgetting on.
 */
public final class CanarySet {
  private CanarySet() {}

  public static final List<TrainingPair> PAIRS = GeneralExchanges.CANARY;
}
