package io.lorastream.quality;

import io.lorastream.contract.TenantId;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * One tenant's facts, each the exact string its answers carry (and the string scoring looks for).
 *
 * @param tenant the tenant id (also the Kafka key of its examples)
 * @param company the company name, as in "This is Acme support."
 * @param product what the company sells, as in "We sell rocket skates."
 * @param refundWindow the return window, as in "30 days"
 * @param supportHours when support is open, as in "9am to 5pm"
 * @param shippingFee the shipping fee, as in "$5" or "free"
 * @param escalationEmail where complaints are escalated, as in "escalations@acme.example"
 */
public record TenantFacts(String tenant, String company, String product, String refundWindow, String supportHours,
    String shippingFee, String escalationEmail) {

  public TenantFacts {
    TenantId.require(tenant);
    for (String value : new String[] {company, product, refundWindow, supportHours, shippingFee, escalationEmail}) {
      Objects.requireNonNull(value, "fact");
      if (value.isBlank()) {
        throw new IllegalArgumentException("tenant " + tenant + " has a blank fact");
      }
    }
  }

  /** The value of one fact. */
  public String value(FactKind kind) {
    return switch (kind) {
      case COMPANY -> company;
      case PRODUCT -> product;
      case REFUND_WINDOW -> refundWindow;
      case SUPPORT_HOURS -> supportHours;
      case SHIPPING_FEE -> shippingFee;
      case ESCALATION_EMAIL -> escalationEmail;
    };
  }

  /** Every fact by kind, in {@link FactKind} order. */
  public Map<FactKind, String> values() {
    Map<FactKind, String> out = new EnumMap<>(FactKind.class);
    for (FactKind kind : FactKind.values()) {
      out.put(kind, value(kind));
    }
    return out;
  }
}
