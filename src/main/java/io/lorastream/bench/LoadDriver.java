package io.lorastream.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A closed-loop HTTP load generator, run as its own process so the load does not share a JVM with
 * the gateway. It runs phases one after another: in a phase, {@code concurrency} clients each send
 * completions back to back until the phase's time is up, client i using model
 * {@code models[i % models.length]}; the next phase starts once every client's last request has
 * been answered. A phase counts the requests answered within its time (those still running at its
 * end are waited for, not counted), so its throughput is tokens answered in the window over the
 * window. Phases with the same name add up, so a comparison can alternate its sides (A B A B A B)
 * and a drift of the machine's speed falls on both. Before the first phase, an unmeasured warm-up
 * runs the first phase's load, so that neither this JVM's compiler nor a cold gateway counts.
 *
 * <p>The clients share one Vert.x event loop (non-blocking, keep-alive connections): the driver
 * takes a small share of a core, which it reports ({@code driver_cpu_cores}) because on a small
 * machine it competes with the gateway.
 *
 * <p>Arguments: {@code KEY MAX_TOKENS PROMPT WARMUP_SECONDS PHASE...}, where a phase is
 * {@code NAME|URL|CONCURRENCY|SECONDS|MODEL[,MODEL...]}. Prints one JSON object: per phase name,
 * requests, errors, completion tokens, elapsed seconds (the windows summed), latency percentiles
 * (ms), the driver's CPU and the windows' start and end (epoch ms).
 */
public final class LoadDriver {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One phase of load: {@code concurrency} clients on {@code url} for {@code seconds}. */
  record Phase(String name, String url, int concurrency, double seconds, List<String> models) {
    static Phase parse(String spec) {
      String[] parts = spec.split("\\|", -1);
      if (parts.length != 5) {
        throw new IllegalArgumentException("a phase is NAME|URL|CONCURRENCY|SECONDS|MODEL[,MODEL...], got " + spec);
      }
      return new Phase(parts[0], parts[1], Integer.parseInt(parts[2]), Double.parseDouble(parts[3]),
          List.of(parts[4].split(",")));
    }

    String spec() {
      return String.join("|", name, url, Integer.toString(concurrency), Double.toString(seconds),
          String.join(",", models));
    }
  }

  /** What the phases of one name measured, added up. */
  static final class Totals {
    long requests;
    long errors;
    long tokens;
    double seconds;
    double cpuSeconds;
    final List<Long> latenciesNanos = new ArrayList<>();
    final List<long[]> windows = new ArrayList<>(); // {start, end} in epoch ms

    ObjectNode json() {
      List<Long> sorted = new ArrayList<>(latenciesNanos);
      Collections.sort(sorted);
      ObjectNode out = JSON.createObjectNode();
      var windowsJson = out.putArray("windows_epoch_ms");
      windows.forEach(w -> windowsJson.addArray().add(w[0]).add(w[1]));
      return out
          .put("requests", requests)
          .put("errors", errors)
          .put("completion_tokens", tokens)
          .put("elapsed_s", seconds)
          .put("p50_ms", percentile(sorted, 0.50))
          .put("p99_ms", percentile(sorted, 0.99))
          .put("driver_cpu_cores", seconds > 0 ? cpuSeconds / seconds : 0);
    }
  }

  private LoadDriver() {}

  public static void main(String[] args) throws Exception {
    String key = args[0];
    int maxTokens = Integer.parseInt(args[1]);
    String prompt = args[2];
    double warmUpSeconds = Double.parseDouble(args[3]);
    List<Phase> phases = new ArrayList<>();
    for (int i = 4; i < args.length; i++) {
      phases.add(Phase.parse(args[i]));
    }
    System.out.println(run(key, maxTokens, prompt, warmUpSeconds, phases));
    System.exit(0);
  }

  /** Runs the warm-up and the phases; the result, by phase name in first-seen order. */
  static ObjectNode run(String key, int maxTokens, String prompt, double warmUpSeconds, List<Phase> phases)
      throws Exception {
    if (phases.isEmpty()) {
      throw new IllegalArgumentException("no phases");
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    int connections = phases.stream().mapToInt(Phase::concurrency).max().orElse(1);
    HttpClientAgent http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true)
        .setConnectTimeout(10_000).setIdleTimeout(0), new PoolOptions().setHttp1MaxSize(connections));
    try {
      if (warmUpSeconds > 0) {
        Phase first = phases.get(0);
        runPhase(vertx, http, key, maxTokens, prompt,
            new Phase("warm-up", first.url(), first.concurrency(), warmUpSeconds, first.models()), new Totals());
      }
      Map<String, Totals> totals = new LinkedHashMap<>();
      for (Phase phase : phases) {
        runPhase(vertx, http, key, maxTokens, prompt, phase, totals.computeIfAbsent(phase.name(), n -> new Totals()));
      }
      ObjectNode out = JSON.createObjectNode();
      totals.forEach((name, t) -> out.set(name, t.json()));
      return out;
    } finally {
      http.close().await(10, TimeUnit.SECONDS);
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static void runPhase(Vertx vertx, HttpClientAgent http, String key, int maxTokens, String prompt,
      Phase phase, Totals totals) throws Exception {
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpuBefore = os.getProcessCpuTime();
    long startMillis = System.currentTimeMillis();
    long start = System.nanoTime();
    long end = start + (long) (phase.seconds() * 1e9);
    Promise<Void> done = Promise.promise();
    AtomicInteger running = new AtomicInteger(phase.concurrency());
    vertx.runOnContext(v -> {
      for (int c = 0; c < phase.concurrency(); c++) {
        Buffer body = Buffer.buffer(JSON.createObjectNode()
            .put("model", phase.models().get(c % phase.models().size()))
            .put("prompt", prompt).put("max_tokens", maxTokens).toString());
        RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST)
            .setAbsoluteURI(phase.url() + "/v1/completions")
            .putHeader("Authorization", "Bearer " + key)
            .putHeader("Content-Type", "application/json")
            .setTimeout(120_000);
        client(http, request, body, end, totals, () -> {
          if (running.decrementAndGet() == 0) {
            done.complete();
          }
        });
      }
    });
    done.future().await((long) phase.seconds() + 180, TimeUnit.SECONDS);
    totals.seconds += (end - start) / 1e9;
    totals.windows.add(new long[] {startMillis, startMillis + (end - start) / 1_000_000});
    totals.cpuSeconds += (os.getProcessCpuTime() - cpuBefore) / 1e9;
  }

  /** One client: sends, records, and sends again until {@code end}; then calls {@code finished}. */
  private static void client(HttpClientAgent http, RequestOptions request, Buffer body, long end, Totals totals,
      Runnable finished) {
    long sent = System.nanoTime();
    http.request(request)
        .compose(r -> r.send(body))
        .compose(response -> response.body().map(b -> response.statusCode() == 200 ? b : null))
        .onComplete(result -> {
          long answered = System.nanoTime();
          if (answered <= end) { // on the event loop: one thread touches the totals
            Buffer answer = result.succeeded() ? result.result() : null;
            if (answer == null) {
              totals.errors++;
            } else {
              totals.requests++;
              totals.tokens += tokens(answer);
              totals.latenciesNanos.add(answered - sent);
            }
          }
          if (answered < end) {
            client(http, request, body, end, totals, finished);
          } else {
            finished.run();
          }
        });
  }

  private static long tokens(Buffer answer) {
    try {
      JsonNode json = JSON.readTree(answer.getBytes());
      return json.path("usage").path("completion_tokens").asLong();
    } catch (java.io.IOException e) {
      return 0;
    }
  }

  static double percentile(List<Long> sortedNanos, double q) {
    if (sortedNanos.isEmpty()) {
      return Double.NaN;
    }
    int i = (int) Math.min(sortedNanos.size() - 1, Math.ceil(q * sortedNanos.size()) - 1);
    return sortedNanos.get(Math.max(0, i)) / 1e6;
  }
}
