package io.lorastream.metrics;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * {@code GET /metrics} (Prometheus text format) and {@code GET /healthz} for processes without an
 * HTTP API of their own (ingest, trainer), on the JDK's built-in HTTP server with one thread.
 */
public final class MetricsServer implements AutoCloseable {
  private final HttpServer server;

  private MetricsServer(HttpServer server) {
    this.server = server;
  }

  /** Serves on {@code port} (0 = any free port) on all interfaces; {@code /healthz} always answers ok. */
  public static MetricsServer start(int port, Metrics metrics) {
    return start(port, metrics, () -> false);
  }

  /**
   * As {@link #start(int, Metrics)}, with {@code /healthz} answering 503 {@code {"status":"failed"}}
   * once {@code failed} is true (the process's main work has ended by itself), so a liveness probe
   * restarts it.
   */
  public static MetricsServer start(int port, Metrics metrics, BooleanSupplier failed) {
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(port), 0);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot serve metrics on port " + port + ": " + e.getMessage(), e);
    }
    server.createContext("/metrics", exchange -> {
      Metrics.Scrape scrape = metrics.scrape(exchange.getRequestHeaders().getFirst("Accept"));
      exchange.getResponseHeaders().set("Content-Type", scrape.contentType());
      exchange.sendResponseHeaders(200, scrape.body().length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(scrape.body());
      }
    });
    server.createContext("/healthz", exchange -> {
      boolean ok = !failed.getAsBoolean();
      byte[] body = (ok ? "{\"status\":\"ok\"}" : "{\"status\":\"failed\"}").getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(ok ? 200 : 503, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.setExecutor(Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "lorastream-metrics-http");
      t.setDaemon(true);
      return t;
    }));
    server.start();
    return new MetricsServer(server);
  }

  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
