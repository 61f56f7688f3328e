package io.lorastream.bench;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * The load of an end-to-end run, read from a {@code .properties} file under
 * {@code load-tests/scenarios/}. Every key is required except those with a default below; an
 * unknown key is an error (a misspelt key would otherwise silently fall back to a default).
 *
 * @param name the file's base name, for reports
 * @param tenants tenants the examples and requests are spread over ({@code tenants})
 * @param examplesPerSecond examples produced per second, all tenants together ({@code examples.per-second})
 * @param requestsPerSecond completions sent per second, open loop ({@code requests.per-second})
 * @param contextWords words of seeded filler context put before each question, in examples and
 *     requests: sets the prompt length ({@code prompt.context-words}, default 0)
 * @param maxTokens completion tokens asked per request: the answer length ({@code requests.max-tokens})
 * @param durationSeconds how long examples and requests are sent ({@code duration-seconds})
 * @param warmupSeconds the first seconds of that, excluded from the figures ({@code warmup-seconds})
 * @param baselineSeconds length of each baseline inference phase after training has drained
 *     ({@code baseline-seconds})
 * @param drainTimeoutSeconds how long to wait for the trainer to cover every example after the
 *     load stops ({@code drain-timeout-seconds}, default 60)
 * @param seed seeds the example and request generators ({@code seed})
 * @param batchSize the trainer's {@code --batch-size} ({@code trainer.batch-size}, default 8)
 * @param batchMaxWaitMs the trainer's {@code --batch-max-wait-ms} ({@code trainer.batch-max-wait-ms}, default 1000)
 * @param openGate true turns the quality gate off, so every step publishes ({@code trainer.open-gate}, default true)
 * @param torchThreads the trainer's {@code --torch-threads} ({@code trainer.torch-threads}, default 0: libtorch's default)
 * @param trainThreads the trainer's {@code --train-threads} ({@code trainer.train-threads}, default 1)
 */
public record Scenario(String name, int tenants, double examplesPerSecond, double requestsPerSecond,
    int contextWords, int maxTokens, double durationSeconds, double warmupSeconds, double baselineSeconds,
    double drainTimeoutSeconds, long seed, int batchSize, long batchMaxWaitMs, boolean openGate, int torchThreads,
    int trainThreads) {

  private static final Set<String> KEYS = Set.of("tenants", "examples.per-second", "requests.per-second",
      "prompt.context-words", "requests.max-tokens", "duration-seconds", "warmup-seconds", "baseline-seconds",
      "drain-timeout-seconds", "seed", "trainer.batch-size", "trainer.batch-max-wait-ms", "trainer.open-gate",
      "trainer.torch-threads", "trainer.train-threads");

  public Scenario {
    require(tenants >= 1 && tenants <= 100_000, "tenants must be 1..100000, got " + tenants);
    require(examplesPerSecond > 0, "examples.per-second must be > 0, got " + examplesPerSecond);
    require(requestsPerSecond >= 0, "requests.per-second must be >= 0, got " + requestsPerSecond);
    require(contextWords >= 0 && contextWords <= 2000, "prompt.context-words must be 0..2000, got " + contextWords);
    require(maxTokens >= 1 && maxTokens <= 4096, "requests.max-tokens must be 1..4096, got " + maxTokens);
    require(durationSeconds > 0, "duration-seconds must be > 0, got " + durationSeconds);
    require(warmupSeconds >= 0 && warmupSeconds < durationSeconds,
        "warmup-seconds must be >= 0 and below duration-seconds, got " + warmupSeconds);
    require(baselineSeconds >= 0, "baseline-seconds must be >= 0, got " + baselineSeconds);
    require(drainTimeoutSeconds > 0, "drain-timeout-seconds must be > 0, got " + drainTimeoutSeconds);
    require(batchSize >= 1, "trainer.batch-size must be >= 1, got " + batchSize);
    require(batchMaxWaitMs >= 0, "trainer.batch-max-wait-ms must be >= 0, got " + batchMaxWaitMs);
    require(torchThreads >= 0, "trainer.torch-threads must be >= 0, got " + torchThreads);
    require(trainThreads >= 1, "trainer.train-threads must be >= 1, got " + trainThreads);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  /** Reads a scenario file; errors name the file and the key. */
  public static Scenario load(Path file) throws IOException {
    Properties p = new Properties();
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      p.load(in);
    }
    String name = file.getFileName().toString().replaceFirst("\\.properties$", "");
    try {
      return parse(name, p);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("scenario " + file + ": " + e.getMessage(), e);
    }
  }

  /** A scenario from properties (the keys of the record's documentation). */
  public static Scenario parse(String name, Properties p) {
    Set<String> unknown = new TreeSet<>(p.stringPropertyNames());
    unknown.removeAll(KEYS);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("unknown keys " + unknown + "; known: " + new TreeSet<>(KEYS));
    }
    return new Scenario(name,
        integer(p, "tenants", null),
        decimal(p, "examples.per-second", null),
        decimal(p, "requests.per-second", null),
        integer(p, "prompt.context-words", 0),
        integer(p, "requests.max-tokens", null),
        decimal(p, "duration-seconds", null),
        decimal(p, "warmup-seconds", null),
        decimal(p, "baseline-seconds", null),
        decimal(p, "drain-timeout-seconds", 60.0),
        (long) integer(p, "seed", null),
        integer(p, "trainer.batch-size", 8),
        integer(p, "trainer.batch-max-wait-ms", 1000),
        bool(p, "trainer.open-gate", true),
        integer(p, "trainer.torch-threads", 0),
        integer(p, "trainer.train-threads", 1));
  }

  private static String value(Properties p, String key, Object fallback) {
    String v = p.getProperty(key);
    if (v == null || v.isBlank()) {
      if (fallback == null) {
        throw new IllegalArgumentException("missing key '" + key + "'");
      }
      return fallback.toString();
    }
    return v.trim();
  }

  private static int integer(Properties p, String key, Integer fallback) {
    String v = value(p, key, fallback);
    try {
      return Integer.parseInt(v.replace("_", ""));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + key + "' must be a whole number, got '" + v + "'");
    }
  }

  private static double decimal(Properties p, String key, Double fallback) {
    String v = value(p, key, fallback);
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + key + "' must be a number, got '" + v + "'");
    }
  }

  private static boolean bool(Properties p, String key, boolean fallback) {
    String v = value(p, key, fallback).toLowerCase(Locale.ROOT);
    if (!v.equals("true") && !v.equals("false")) {
      throw new IllegalArgumentException("'" + key + "' must be true or false, got '" + v + "'");
    }
    return Boolean.parseBoolean(v);
  }

  /** One line for reports: the offered load. */
  public String describe() {
    return String.format(Locale.ROOT,
        "scenario %s: %d tenants, %.1f examples/s, %.1f requests/s of %d tokens, %d context words, %.0f s "
            + "(%.0f s warm-up), seed %d, trainer batch %d / %d ms, gate %s",
        name, tenants, examplesPerSecond, requestsPerSecond, maxTokens, contextWords, durationSeconds,
        warmupSeconds, seed, batchSize, batchMaxWaitMs, openGate ? "open" : "default");
  }
}
