package io.lorastream.quality;

/**
 * The facts every tenant of the customer-service dataset has its own value for. A held-out
 * question is scored on the one fact it asks about.
 */
public enum FactKind {
  COMPANY,
  PRODUCT,
  REFUND_WINDOW,
  SUPPORT_HOURS,
  SHIPPING_FEE,
  ESCALATION_EMAIL
}
