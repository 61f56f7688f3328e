package io.lorastream.cli;

import io.lorastream.bench.BenchOptions;
import io.lorastream.bench.BenchReport;
import io.lorastream.bench.BenchResult;
import io.lorastream.bench.BenchSuite;
import io.lorastream.bench.BenchSuites;
import io.lorastream.bench.ReportWriter;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ./lorastream bench <suite> [--quick] [--json] [--scenario FILE] [--out DIR]}: runs one
 * benchmark suite, prints its figures (each next to the baseline measured beside it in the same
 * run) and writes the report folder ({@code report.json}, {@code report.md}, PNG charts). Logs go
 * to stderr, so {@code --json} leaves exactly one JSON object on stdout. A suite's failed check
 * (e.g. an example lost) is printed to stderr after the report and the exit status is 1.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Run a benchmark suite and print its figures next to side-by-side baselines.")
public final class BenchCommand implements Callable<Integer> {
  private final BenchSuites suites;

  @Spec
  CommandSpec spec;

  @Parameters(index = "0", paramLabel = "SUITE",
      description = "Suite to run: model, trainer, gateway, e2e, scaling (those registered).")
  String suiteName;

  @Option(names = "--quick", description = "A short run: the whole suite in under two minutes on 2 cores.")
  boolean quick;

  @Option(names = "--json", description = "Print one JSON object {metric: {value, unit, baseline, ratio, note}}.")
  boolean json;

  @Option(names = "--scenario", paramLabel = "FILE",
      description = "Scenario file (load-tests/scenarios/*.properties) for suites that take one (e2e).")
  Path scenario;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Report folder: report.json, report.md and PNG charts (default: target/bench/<suite>).")
  Path out;

  public BenchCommand() {
    this(BenchSuites.standard());
  }

  public BenchCommand(BenchSuites suites) {
    this.suites = suites;
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    Optional<BenchSuite> suite = suites.find(suiteName);
    if (suite.isEmpty()) {
      err.println("lorastream bench: unknown suite '" + suiteName + "'; known suites: "
          + String.join(", ", suites.names()));
      err.flush();
      return 2;
    }
    if (scenario != null && !Files.isRegularFile(scenario)) {
      err.println("lorastream bench: no scenario file " + scenario);
      err.flush();
      return 2;
    }
    Path dir = out != null ? out : Path.of("target", "bench", suiteName);
    Files.createDirectories(dir);
    Instant started = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    BenchResult result = suite.get().run(new BenchOptions(quick, scenario, dir));
    String report = json ? BenchReport.json(result.figures()) : BenchReport.table(result.figures());
    PrintWriter stdout = spec.commandLine().getOut();
    stdout.print(report.endsWith("\n") ? report : report + "\n");
    stdout.flush();
    ReportWriter.write(dir, suiteName, result, context(started));
    err.println("lorastream bench: report written to " + dir.toAbsolutePath());
    for (String failure : result.failures()) {
      err.println("lorastream bench " + suiteName + ": FAILED: " + failure);
    }
    err.flush();
    return result.failures().isEmpty() ? 0 : 1;
  }

  private String context(Instant started) {
    Runtime rt = Runtime.getRuntime();
    return "Run " + started + " → " + Instant.now().truncatedTo(ChronoUnit.SECONDS) + "; "
        + rt.availableProcessors() + " cores; 1-min load at the end " + loadAverage() + "; command: "
        + "`./lorastream bench " + suiteName + (quick ? " --quick" : "")
        + (scenario != null ? " --scenario " + scenario : "") + "`";
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (Exception e) {
      return "unknown";
    }
  }
}
