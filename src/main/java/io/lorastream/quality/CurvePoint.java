package io.lorastream.quality;

import java.util.Map;

/**
 * One sample of the learning curve.
 *
 * @param seconds wall-clock seconds since the first example was produced
 * @param examplesProducedPerTenant examples produced so far per tenant
 * @param examplesSeenPerTenant mean over tenants of the examples their served adapters were trained on
 *     (0 for a tenant with no adapter yet)
 * @param accuracy held-out fact accuracy over all tenants at that moment
 * @param leakage share of answers stating another tenant's fact
 * @param trainedParaphraseAccuracy accuracy on one trained paraphrase per fact (recall, not generalisation)
 * @param tenants tenant → its own sample, in the dataset's tenant order
 */
public record CurvePoint(double seconds, long examplesProducedPerTenant, double examplesSeenPerTenant, double accuracy,
    double leakage, double trainedParaphraseAccuracy, Map<String, TenantSample> tenants) {

  /**
   * One tenant at one sample.
   *
   * @param examplesSeen examples its served adapter was trained on (0: no adapter yet)
   * @param accuracy its held-out fact accuracy
   * @param canaryChange relative canary loss change of its served adapter vs the base model (NaN: no adapter yet)
   */
  public record TenantSample(long examplesSeen, double accuracy, double canaryChange) {}
}
