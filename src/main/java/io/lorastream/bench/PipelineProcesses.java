package io.lorastream.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The pipeline as separate JVMs, each a {@code ./lorastream} command on this JVM's classpath:
 * {@code broker}, {@code ingest}, {@code trainer}, {@code gateway}. Ports and folders are passed
 * explicitly; each process logs to {@code <work>/<name>.log}. {@link #close()} stops them all
 * (SIGTERM, then SIGKILL after a grace period), and a shutdown hook does the same if this JVM is
 * stopped first, so no process outlives the benchmark.
 */
public final class PipelineProcesses implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(120);

  /** One started process. */
  public record Child(String name, Process process, Path log) {}

  private final Path work;
  private final List<Child> children = new ArrayList<>();
  private final Thread killer = new Thread(this::killAll, "lorastream-bench-kill-children");
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  public final int brokerPort;
  public final int gatewayPort;
  public final int trainerMetricsPort;
  public final int ingestMetricsPort;

  public PipelineProcesses(Path work) throws IOException {
    this.work = work;
    Files.createDirectories(work);
    int[] ports = freePorts(4);
    this.brokerPort = ports[0];
    this.gatewayPort = ports[1];
    this.trainerMetricsPort = ports[2];
    this.ingestMetricsPort = ports[3];
    Runtime.getRuntime().addShutdownHook(killer);
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + brokerPort;
  }

  public String gatewayUrl() {
    return "http://127.0.0.1:" + gatewayPort;
  }

  public String trainerMetricsUrl() {
    return "http://127.0.0.1:" + trainerMetricsPort + "/metrics";
  }

  /** Starts the broker and waits until it has created the topics. */
  public void startBroker() throws IOException, InterruptedException {
    Child broker = start("broker", "512m", "broker", "--data-dir", work.resolve("broker").toString(),
        "--port", Integer.toString(brokerPort));
    awaitLogLine(broker, "Kafka broker ready");
  }

  /** Starts ingest, trainer and gateway and waits until each answers its health or readiness check. */
  public void startPipeline(Path baseModel, Path apiKeys, List<String> trainerOptions)
      throws IOException, InterruptedException {
    String kafka = bootstrapServers();
    Child ingest = start("ingest", "768m", "ingest", "--bootstrap-servers", kafka,
        "--state-dir", work.resolve("ingest").toString(), "--metrics-port", Integer.toString(ingestMetricsPort));
    List<String> trainer = new ArrayList<>(List.of("trainer", "--bootstrap-servers", kafka,
        "--base-model", baseModel.toString(), "--instance-id", "e2e-0",
        "--metrics-port", Integer.toString(trainerMetricsPort)));
    trainer.addAll(trainerOptions);
    Child trainerProcess = start("trainer", "2g", trainer.toArray(String[]::new));
    Child gateway = start("gateway", "2g", "gateway", "--bootstrap-servers", kafka,
        "--base-model", baseModel.toString(), "--api-keys", apiKeys.toString(),
        "--port", Integer.toString(gatewayPort));
    awaitHttp(ingest, "http://127.0.0.1:" + ingestMetricsPort + "/healthz");
    awaitHttp(trainerProcess, "http://127.0.0.1:" + trainerMetricsPort + "/healthz");
    awaitHttp(gateway, gatewayUrl() + "/readyz");
  }

  /**
   * CPU time (user and system) each process has used so far, by name, and this JVM's as
   * {@code "bench"} (it sends the examples and requests and reads the topics).
   */
  public Map<String, Duration> cpuTimes() {
    Map<String, Duration> used = new LinkedHashMap<>();
    for (Child c : children) {
      c.process().toHandle().info().totalCpuDuration().ifPresent(d -> used.put(c.name(), d));
    }
    ProcessHandle.current().info().totalCpuDuration().ifPresent(d -> used.put("bench", d));
    return used;
  }

  /** The processes that have exited on their own, by name. */
  public List<String> exited() {
    List<String> dead = new ArrayList<>();
    for (Child c : children) {
      if (!c.process().isAlive()) {
        dead.add(c.name() + " (exit " + c.process().exitValue() + ", log " + c.log() + ")");
      }
    }
    return dead;
  }

  private Child start(String name, String heap, String... command) throws IOException {
    List<String> line = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + heap, "-XX:+UseParallelGC", "-Dai.djl.offline=true", "-Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.lorastream.avro",
        "-cp", System.getProperty("java.class.path"), "io.lorastream.cli.Main"));
    line.addAll(List.of(command));
    Path log = work.resolve(name + ".log");
    ProcessBuilder builder = new ProcessBuilder(line).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
    builder.environment().put("DJL_OFFLINE", "true");
    builder.environment().put("OPT_OUT_TRACKING", "true");
    Child child = new Child(name, builder.start(), log);
    children.add(child);
    return child;
  }

  private static void awaitLogLine(Child child, String text) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(child.log()) && Files.readString(child.log()).contains(text)) {
        return;
      }
      failIfExited(child);
      Thread.sleep(100);
    }
    throw new IllegalStateException(child.name() + " did not start within " + START_TIMEOUT + "; log " + child.log());
  }

  private void awaitHttp(Child child, String url) throws InterruptedException {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    HttpRequest request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).GET().build();
    while (System.nanoTime() < deadline) {
      try {
        if (http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      failIfExited(child);
      Thread.sleep(200);
    }
    throw new IllegalStateException(child.name() + " not ready at " + url + " within " + START_TIMEOUT + "; log "
        + child.log());
  }

  private static void failIfExited(Child child) {
    if (!child.process().isAlive()) {
      throw new IllegalStateException(child.name() + " exited with status " + child.process().exitValue()
          + " while starting; log " + child.log());
    }
  }

  /** Stops every process, newest first: SIGTERM, then SIGKILL after 15 s. */
  @Override
  public void close() {
    for (int i = children.size() - 1; i >= 0; i--) {
      Process p = children.get(i).process();
      p.destroy();
      try {
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
      }
    }
    try {
      Runtime.getRuntime().removeShutdownHook(killer);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running and kills what is left
    }
  }

  private void killAll() {
    children.forEach(c -> c.process().destroyForcibly());
  }

  private static int[] freePorts(int count) {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      int[] ports = new int[count];
      for (int i = 0; i < count; i++) {
        ServerSocket s = new ServerSocket(0);
        sockets.add(s);
        ports[i] = s.getLocalPort();
      }
      return ports;
    } catch (IOException e) {
      throw new UncheckedIOException("no free local port", e);
    } finally {
      for (ServerSocket s : sockets) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing a probe socket
        }
      }
    }
  }
}
