package io.lorastream.gateway;

/**
 * Who a request's API key belongs to: one tenant, or an admin who may reach every tenant.
 *
 * @param keyId the key's name in the keys file (safe to log; the key itself never is)
 * @param tenant the tenant this key belongs to; null for an admin key
 */
public record Principal(String keyId, String tenant, boolean admin) {
  public Principal {
    if (admin == (tenant != null)) {
      throw new IllegalArgumentException("a key belongs to exactly one tenant or is an admin key");
    }
  }

  /** True when this key may use {@code tenant}'s model, adapters and examples. */
  public boolean mayAccess(String otherTenant) {
    return admin || tenant.equals(otherTenant);
  }
}
