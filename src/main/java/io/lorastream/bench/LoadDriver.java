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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A closed-loop HTTP load generator, run as its own process so the load does not share a JVM with
 * the gateway: {@code concurrency} clients each send completions back to back for {@code seconds},
 * client i using model {@code models[i % models.length]}. Prints one JSON object: requests, errors,
 * completion tokens, elapsed seconds and latency percentiles (ms).
 *
 * <p>Arguments: {@code URL KEY CONCURRENCY SECONDS MAX_TOKENS PROMPT MODEL[,MODEL...]}.
 */
public final class LoadDriver {
  private static final ObjectMapper JSON = new ObjectMapper();

  private LoadDriver() {}

  public static void main(String[] args) throws Exception {
    URI url = URI.create(args[0] + "/v1/completions");
    String key = args[1];
    int concurrency = Integer.parseInt(args[2]);
    double seconds = Double.parseDouble(args[3]);
    int maxTokens = Integer.parseInt(args[4]);
    String prompt = args[5];
    String[] models = args[6].split(",");

    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
        .executor(Executors.newFixedThreadPool(4)).build();
    List<Long> latenciesNanos = Collections.synchronizedList(new ArrayList<>());
    AtomicLong tokens = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    long start = System.nanoTime();
    long deadline = start + (long) (seconds * 1e9);
    ExecutorService clients = Executors.newFixedThreadPool(concurrency);
    for (int c = 0; c < concurrency; c++) {
      ObjectNode body = JSON.createObjectNode().put("model", models[c % models.length]).put("prompt", prompt)
          .put("max_tokens", maxTokens);
      HttpRequest request = HttpRequest.newBuilder(url).header("Authorization", "Bearer " + key)
          .header("Content-Type", "application/json").timeout(Duration.ofSeconds(120))
          .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
      clients.submit(() -> {
        while (System.nanoTime() < deadline) {
          long sent = System.nanoTime();
          try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
              errors.incrementAndGet();
              continue;
            }
            JsonNode answer = JSON.readTree(response.body());
            tokens.addAndGet(answer.path("usage").path("completion_tokens").asLong());
            latenciesNanos.add(System.nanoTime() - sent);
          } catch (Exception e) {
            errors.incrementAndGet();
          }
        }
        return null;
      });
    }
    clients.shutdown();
    clients.awaitTermination((long) seconds + 180, TimeUnit.SECONDS);
    double elapsed = (System.nanoTime() - start) / 1e9;
    List<Long> sorted = new ArrayList<>(latenciesNanos);
    Collections.sort(sorted);
    ObjectNode out = JSON.createObjectNode()
        .put("requests", sorted.size())
        .put("errors", errors.get())
        .put("completion_tokens", tokens.get())
        .put("elapsed_s", elapsed)
        .put("p50_ms", percentile(sorted, 0.50))
        .put("p99_ms", percentile(sorted, 0.99));
    System.out.println(out);
    System.exit(0);
  }

  static double percentile(List<Long> sortedNanos, double q) {
    if (sortedNanos.isEmpty()) {
      return Double.NaN;
    }
    int i = (int) Math.min(sortedNanos.size() - 1, Math.ceil(q * sortedNanos.size()) - 1);
    return sortedNanos.get(Math.max(0, i)) / 1e6;
  }
}
