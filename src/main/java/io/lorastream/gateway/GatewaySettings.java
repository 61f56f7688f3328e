package io.lorastream.gateway;

/**
 * HTTP and serving limits of the gateway.
 *
 * @param host address to bind
 * @param port HTTP port (0 = any free port)
 * @param maxBodyBytes larger request bodies are refused with 413
 * @param maxPromptChars longer prompts are refused with 400
 * @param maxTokensLimit the largest {@code max_tokens} a request may ask for
 * @param defaultMaxTokens {@code max_tokens} when a request gives none
 * @param queueCapacity completions waiting for the model beyond this are refused with 503
 * @param tenantRequestsPerSecond each tenant's sustained request rate (completions and examples)
 * @param tenantBurst requests a tenant may make at once before the rate applies
 */
public record GatewaySettings(String host, int port, int maxBodyBytes, int maxPromptChars, int maxTokensLimit,
    int defaultMaxTokens, int queueCapacity, double tenantRequestsPerSecond, int tenantBurst) {

  public GatewaySettings {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in 0..65535, got " + port);
    }
    if (maxBodyBytes < 1024 || maxPromptChars < 1 || maxTokensLimit < 1 || queueCapacity < 1) {
      throw new IllegalArgumentException("gateway limits must be positive (body at least 1 KiB)");
    }
    if (defaultMaxTokens < 1 || defaultMaxTokens > maxTokensLimit) {
      throw new IllegalArgumentException("default max_tokens must be in 1.." + maxTokensLimit);
    }
    if (!(tenantRequestsPerSecond > 0) || tenantBurst < 1) {
      throw new IllegalArgumentException("the per-tenant rate must be > 0 and the burst at least 1");
    }
  }

  public static GatewaySettings defaults() {
    return new GatewaySettings("0.0.0.0", 8080, 1 << 20, 8192, 256, 32, 256, 50, 100);
  }

  public GatewaySettings withPort(int newPort) {
    return new GatewaySettings(host, newPort, maxBodyBytes, maxPromptChars, maxTokensLimit, defaultMaxTokens,
        queueCapacity, tenantRequestsPerSecond, tenantBurst);
  }
}
