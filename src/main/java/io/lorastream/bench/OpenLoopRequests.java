package io.lorastream.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;

/**
 * Completions sent at a fixed rate whatever the answers take (open loop: a slow gateway builds a
 * queue rather than slowing the load, as real clients do), each timed from its scheduled send.
 */
public final class OpenLoopRequests implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * One request's outcome.
   *
   * @param sentAtMs when it was due to be sent (epoch ms)
   * @param latencyMs from then to the whole answer, in ms
   * @param status HTTP status, or 0 when no answer came
   * @param version the adapter version that served it, or -1
   * @param tokens completion tokens in the answer
   */
  public record Sample(String tenant, long sentAtMs, double latencyMs, int status, long version, int tokens) {
    public boolean ok() {
      return status == 200;
    }
  }

  private final ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
    Thread t = new Thread(r, "bench-http-client");
    t.setDaemon(true);
    return t;
  });
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
      .executor(executor).build();
  private final URI url;
  private final String key;

  public OpenLoopRequests(String gatewayUrl, String key) {
    this.url = URI.create(gatewayUrl + "/v1/completions");
    this.key = key;
  }

  /**
   * Sends request {@code first}, {@code first + 1}, … at {@code perSecond} for {@code seconds},
   * then waits for the answers (at most 2 minutes) and returns every outcome in send order.
   */
  public List<Sample> run(LongFunction<ScenarioWorkload.Request> requests, long first, double perSecond,
      double seconds) throws InterruptedException {
    List<CompletableFuture<Sample>> pending = new ArrayList<>();
    long start = System.nanoTime();
    long count = (long) Math.floor(perSecond * seconds);
    for (long i = 0; i < count; i++) {
      long due = start + (long) (i * 1e9 / perSecond);
      long wait = due - System.nanoTime();
      if (wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait);
      }
      pending.add(send(requests.apply(first + i), due));
    }
    List<Sample> samples = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    for (CompletableFuture<Sample> f : pending) {
      try {
        samples.add(f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
      } catch (Exception e) {
        f.cancel(true);
      }
    }
    return samples;
  }

  private CompletableFuture<Sample> send(ScenarioWorkload.Request r, long dueNanos) {
    long sentAtMs = System.currentTimeMillis() - (System.nanoTime() - dueNanos) / 1_000_000;
    ObjectNode body = JSON.createObjectNode().put("model", r.tenant()).put("prompt", r.prompt())
        .put("max_tokens", r.maxTokens());
    HttpRequest request = HttpRequest.newBuilder(url).header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
        .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofString())
        .thenApply(response -> {
          double latency = (System.nanoTime() - dueNanos) / 1e6;
          long version = -1;
          int tokens = 0;
          if (response.statusCode() == 200) {
            try {
              JsonNode answer = JSON.readTree(response.body());
              version = answer.path("adapter").path("version").asLong(-1);
              tokens = answer.path("usage").path("completion_tokens").asInt();
            } catch (Exception e) {
              return new Sample(r.tenant(), sentAtMs, latency, 0, -1, 0);
            }
          }
          return new Sample(r.tenant(), sentAtMs, latency, response.statusCode(), version, tokens);
        })
        .exceptionally(e -> new Sample(r.tenant(), sentAtMs, (System.nanoTime() - dueNanos) / 1e6, 0, -1, 0));
  }

  /** The {@code q} quantile (0..1) of the latencies of successful samples, or NaN when none. */
  public static double latencyPercentile(List<Sample> samples, double q) {
    List<Double> ms = new ArrayList<>();
    for (Sample s : samples) {
      if (s.ok()) {
        ms.add(s.latencyMs());
      }
    }
    Collections.sort(ms);
    if (ms.isEmpty()) {
      return Double.NaN;
    }
    int i = (int) Math.ceil(q * ms.size()) - 1;
    return ms.get(Math.max(0, Math.min(ms.size() - 1, i)));
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
