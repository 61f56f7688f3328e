package io.lorastream.gateway;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * HTTP and serving limits of the gateway.
 *
 * @param host address to bind
 * @param port HTTP port (0 = any free port)
 * @param maxBodyBytes larger request bodies are refused with 413
 * @param maxPromptChars longer prompts are refused with 400
 * @param maxTokensLimit the largest {@code max_tokens} a request may ask for
 * @param defaultMaxTokens {@code max_tokens} when a request gives none
 * @param queueCapacity completions waiting to join the decode batch beyond this are refused with 503
 * @param maxBatchRows the most requests decoded together in one step
 * @param tenantRequestsPerSecond each tenant's sustained request rate (completions and examples)
 * @param tenantBurst requests a tenant may make at once before the rate applies
 * @param adapterDirectory where verified adapter weights are kept on local disk while the gateway runs
 * @param adapterMemoryBytes loaded adapters beyond this many bytes are evicted (least recently used)
 * @param versionsKept versions held per tenant, newest first (older pinned versions stop being served)
 * @param http header size limit and connection timeouts against slow or idle clients
 */
public record GatewaySettings(String host, int port, int maxBodyBytes, int maxPromptChars, int maxTokensLimit,
    int defaultMaxTokens, int queueCapacity, int maxBatchRows, double tenantRequestsPerSecond, int tenantBurst,
    Path adapterDirectory, long adapterMemoryBytes, int versionsKept, HttpLimits http) {

  public GatewaySettings {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in 0..65535, got " + port);
    }
    if (maxBodyBytes < 1024 || maxPromptChars < 1 || maxTokensLimit < 1 || queueCapacity < 1 || maxBatchRows < 1) {
      throw new IllegalArgumentException("gateway limits must be positive (body at least 1 KiB)");
    }
    if (defaultMaxTokens < 1 || defaultMaxTokens > maxTokensLimit) {
      throw new IllegalArgumentException("default max_tokens must be in 1.." + maxTokensLimit);
    }
    if (!(tenantRequestsPerSecond > 0) || tenantBurst < 1) {
      throw new IllegalArgumentException("the per-tenant rate must be > 0 and the burst at least 1");
    }
    Objects.requireNonNull(adapterDirectory, "adapterDirectory");
    if (adapterMemoryBytes < 0 || versionsKept < 1) {
      throw new IllegalArgumentException("adapter memory must be >= 0 and versions kept at least 1");
    }
    Objects.requireNonNull(http, "http");
  }

  /** Settings with the default {@link HttpLimits}. */
  public GatewaySettings(String host, int port, int maxBodyBytes, int maxPromptChars, int maxTokensLimit,
      int defaultMaxTokens, int queueCapacity, int maxBatchRows, double tenantRequestsPerSecond, int tenantBurst,
      Path adapterDirectory, long adapterMemoryBytes, int versionsKept) {
    this(host, port, maxBodyBytes, maxPromptChars, maxTokensLimit, defaultMaxTokens, queueCapacity, maxBatchRows,
        tenantRequestsPerSecond, tenantBurst, adapterDirectory, adapterMemoryBytes, versionsKept, HttpLimits.defaults());
  }

  /** Defaults; adapters are kept in a fresh folder under the system's temporary directory. */
  public static GatewaySettings defaults() {
    Path adapters;
    try {
      adapters = Files.createTempDirectory("lorastream-gateway-adapters");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new GatewaySettings("0.0.0.0", 8080, 1 << 20, 8192, 256, 32, 256, 32, 50, 100, adapters, 512L << 20, 2);
  }

  public GatewaySettings withPort(int newPort) {
    return new GatewaySettings(host, newPort, maxBodyBytes, maxPromptChars, maxTokensLimit, defaultMaxTokens,
        queueCapacity, maxBatchRows, tenantRequestsPerSecond, tenantBurst, adapterDirectory, adapterMemoryBytes, versionsKept,
        http);
  }

  public GatewaySettings withHttpLimits(HttpLimits limits) {
    return new GatewaySettings(host, port, maxBodyBytes, maxPromptChars, maxTokensLimit, defaultMaxTokens,
        queueCapacity, maxBatchRows, tenantRequestsPerSecond, tenantBurst, adapterDirectory, adapterMemoryBytes, versionsKept,
        limits);
  }
}
