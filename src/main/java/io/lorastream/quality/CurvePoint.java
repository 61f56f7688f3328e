package io.lorastream.quality;

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
 */
public record CurvePoint(double seconds, long examplesProducedPerTenant, double examplesSeenPerTenant, double accuracy,
    double leakage, double trainedParaphraseAccuracy) {}
