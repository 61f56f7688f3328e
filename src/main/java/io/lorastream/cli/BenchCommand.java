package io.lorastream.cli;

import io.lorastream.bench.BenchReport;
import io.lorastream.bench.BenchSuite;
import io.lorastream.bench.BenchSuites;
import io.lorastream.bench.Figure;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ./lorastream bench <suite> [--quick] [--json] [--out FILE]}: runs one benchmark suite and
 * prints its figures, each next to the baseline measured beside it in the same run. Logs go to
 * stderr, so {@code --json} leaves exactly one JSON object on stdout.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Run a benchmark suite and print its figures next to side-by-side baselines.")
public final class BenchCommand implements Callable<Integer> {
  private final BenchSuites suites;

  @Spec
  CommandSpec spec;

  @Parameters(index = "0", paramLabel = "SUITE", description = "Suite to run: model, trainer, gateway, e2e (those registered).")
  String suiteName;

  @Option(names = "--quick", description = "A short run: the whole suite in under two minutes on 2 cores.")
  boolean quick;

  @Option(names = "--json", description = "Print one JSON object {metric: {value, unit, baseline, ratio, note}}.")
  boolean json;

  @Option(names = "--out", paramLabel = "FILE", description = "Also write the report (in the chosen format) to FILE.")
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
    List<Figure> figures = suite.get().run(quick);
    String report = json ? BenchReport.json(figures) : BenchReport.table(figures);
    PrintWriter stdout = spec.commandLine().getOut();
    stdout.print(report.endsWith("\n") ? report : report + "\n");
    stdout.flush();
    if (out != null) {
      Path parent = out.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.writeString(out, report, StandardCharsets.UTF_8);
    }
    return 0;
  }
}
