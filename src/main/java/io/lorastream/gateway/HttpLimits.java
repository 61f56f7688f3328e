package io.lorastream.gateway;

import java.time.Duration;
import java.util.Objects;

/**
 * Limits on how clients use connections, against clients that hold resources without sending
 * requests.
 *
 * @param maxHeaderBytes request headers larger than this (all of them together) get 431
 * @param idleTimeout a connection with nothing read or written for this long is closed
 * @param requestTimeout a client must send a request's headers within this time of connecting (or
 *     of its previous response ending) and then its body within this time of the headers; else
 *     the connection is closed, with a 408 JSON error when the headers had arrived. Generating the
 *     answer is not limited by it.
 */
public record HttpLimits(int maxHeaderBytes, Duration idleTimeout, Duration requestTimeout) {
  public static final int DEFAULT_MAX_HEADER_BYTES = 8 * 1024;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
  public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(10);

  public HttpLimits {
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    Objects.requireNonNull(requestTimeout, "requestTimeout");
    if (maxHeaderBytes < 1024) {
      throw new IllegalArgumentException("max header size must be at least 1 KiB, got " + maxHeaderBytes);
    }
    if (idleTimeout.toMillis() < 1 || requestTimeout.toMillis() < 1) {
      throw new IllegalArgumentException("idle and request timeouts must be at least 1 ms, got " + idleTimeout
          + " and " + requestTimeout);
    }
  }

  /** 8 KiB of headers, 60 s idle, 10 s to send a request. */
  public static HttpLimits defaults() {
    return new HttpLimits(DEFAULT_MAX_HEADER_BYTES, DEFAULT_IDLE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT);
  }
}
