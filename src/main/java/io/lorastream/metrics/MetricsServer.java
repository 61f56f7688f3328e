package io.lorastream.metrics;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.Executors;

/**
 * {@code GET /metrics} (Prometheus text format) and {@code GET /healthz} for processes without an
 * HTTP API of their own (ingest, trainer), on the JDK's built-in HTTP server with one thread.
 */
public final class MetricsServer implements AutoCloseable {
  private final HttpServer server;

  private MetricsServer(HttpServer server) {
    this.server = server;
  }

  /** Serves on {@code port} (0 = any free port) on all interfaces. */
  public static MetricsServer start(int port, Metrics metrics) {
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
      byte[] body = "{\"status\":\"ok\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
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
