package io.lorastream.train;

import io.lorastream.kafka.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * {@code lorastream trainer} in its own JVM, on the test classpath, logging to a file, for tests
 * that kill it with SIGKILL. A short session timeout lets the group notice a killed member quickly;
 * a short transaction timeout lets the broker abort a transaction a killed member left open (it
 * holds back read_committed readers until then); a restart with the same instance id fences it at once.
 */
final class TrainerProcess {
  private final Process process;
  private final Path log;

  private TrainerProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  /**
   * Starts a trainer reading {@code topics}' clean examples. Only full micro-batches train (the
   * wait is far longer than any test), so which examples share a step does not depend on timing.
   *
   * @param extraArguments further {@code trainer} options, e.g. {@code --metrics-port 0}
   */
  static TrainerProcess start(String bootstrapServers, Topics topics, Path modelDir, String instanceId, int batchSize,
      int maxFusedRows, Path log, String... extraArguments) {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx1g", "-Dai.djl.offline=true", "-Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.lorastream.avro",
        "-cp", System.getProperty("java.class.path"),
        "io.lorastream.cli.Main", "trainer",
        "--bootstrap-servers", bootstrapServers,
        "--topic-prefix", topics.prefix(),
        "--base-model", modelDir.toString(),
        "--instance-id", instanceId,
        "--group-id", topics.prefix() + "trainer",
        "--batch-size", Integer.toString(batchSize),
        "--max-fused-rows", Integer.toString(maxFusedRows),
        "--batch-max-wait-ms", "600000",
        "--metrics-port", "0",
        "--gate-canary-margin", "Infinity",
        "--kafka-property", "session.timeout.ms=6000",
        "--kafka-property", "heartbeat.interval.ms=1000",
        "--kafka-property", "transaction.timeout.ms=5000"));
    command.addAll(List.of(extraArguments));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.environment().put("DJL_OFFLINE", "true");
    builder.environment().put("OPT_OUT_TRACKING", "true");
    // OMP_NUM_THREADS is inherited: the same thread count as an in-process run, hence the same float sums.
    try {
      return new TrainerProcess(builder.start(), log);
    } catch (IOException e) {
      throw new UncheckedIOException("could not start a trainer process", e);
    }
  }

  /** SIGKILL, then waits until the process is gone. */
  void kill() {
    process.destroyForcibly();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /**
   * Waits until the process has logged a line matching {@code regex} (anywhere in the line).
   *
   * @return false when the timeout passed or the process died first
   */
  boolean awaitLog(String regex, Duration timeout) {
    Pattern pattern = Pattern.compile(regex);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline && process.isAlive()) {
      try {
        if (Files.readAllLines(log).stream().anyMatch(line -> pattern.matcher(line).find())) {
          return true;
        }
        Thread.sleep(20);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    return false;
  }

  /** Snapshots this process logged as published (some may not have been committed when it died). */
  long publishesLogged() {
    try {
      return Files.readAllLines(log).stream().filter(line -> line.matches(".* - tenant \\S+ v\\d+: .*")).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
