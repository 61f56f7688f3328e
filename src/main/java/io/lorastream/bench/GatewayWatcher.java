package io.lorastream.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Asks the gateway's {@code GET /v1/models} every {@link #PERIOD_MS} ms which adapter version it
 * serves for each tenant and records the first moment each version appears: freshness is measured
 * from the client side, to that resolution.
 */
final class GatewayWatcher implements AutoCloseable {
  static final long PERIOD_MS = 100;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final HttpRequest request;
  private final ExampleLedger ledger;
  private final Thread thread = new Thread(this::loop, "bench-gateway-watcher");
  private volatile boolean running = true;
  private volatile long polls;
  private volatile long failedPolls;

  GatewayWatcher(String gatewayUrl, String key, ExampleLedger ledger) {
    this.request = HttpRequest.newBuilder(URI.create(gatewayUrl + "/v1/models"))
        .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(5)).GET().build();
    this.ledger = ledger;
  }

  GatewayWatcher start() {
    thread.setDaemon(true);
    thread.start();
    return this;
  }

  long failedPolls() {
    return failedPolls;
  }

  long polls() {
    return polls;
  }

  private void loop() {
    while (running) {
      long started = System.currentTimeMillis();
      try {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        long at = System.currentTimeMillis();
        if (response.statusCode() == 200) {
          for (JsonNode model : JSON.readTree(response.body()).path("data")) {
            if (model.has("version")) {
              ledger.served(model.get("id").asText(), model.get("version").asLong(), at);
            }
          }
        } else {
          failedPolls++;
        }
        polls++;
      } catch (InterruptedException e) {
        return;
      } catch (Exception e) {
        failedPolls++;
      }
      long sleep = PERIOD_MS - (System.currentTimeMillis() - started);
      if (sleep > 0) {
        try {
          Thread.sleep(sleep);
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.interrupt();
    thread.join(5_000);
  }
}
