package io.lorastream.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lorastream.cli.BenchCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class BenchCommandTest {

  /** Two figures, one with a baseline; records whether it was asked for a quick run. */
  static final class FakeSuite implements BenchSuite {
    static volatile Boolean lastQuick;

    @Override
    public String name() {
      return "fake";
    }

    @Override
    public List<Figure> run(boolean quick) {
      lastQuick = quick;
      return List.of(
          Figure.against("steps_per_s", 12.5, 10.0, "steps/s", "against a fake baseline"),
          Figure.of("peak_bytes", 1024, "bytes", "no baseline"));
    }
  }

  static final class OtherSuite implements BenchSuite {
    @Override
    public String name() {
      return "other";
    }

    @Override
    public List<Figure> run(boolean quick) {
      throw new AssertionError("not this one");
    }
  }

  /** A suite whose check failed: one figure, a chart, a table and a failure. */
  static final class FailingSuite implements BenchSuite {
    @Override
    public String name() {
      return "failing";
    }

    @Override
    public List<Figure> run(boolean quick) {
      throw new AssertionError("run(BenchOptions) is the entry point");
    }

    @Override
    public BenchResult run(BenchOptions options) {
      return new BenchResult()
          .add(Figure.of("lost_examples", 2, "examples", "two went missing").withAim("0"))
          .chart("curve", new io.lorastream.chart.LineChart("curve", "x", "y")
              .add(new io.lorastream.chart.Series("s").add(0, 1).add(1, 2)))
          .table(new MarkdownTable("sweep", "tenants", "bytes").row(10, 840).row(100, 8400))
          .fail("2 examples lost");
    }
  }

  private record Result(int exit, String out, String err) {}

  private static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(
        new BenchCommand(new BenchSuites(List.of(FakeSuite::new, OtherSuite::new, FailingSuite::new))));
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int exit = cli.execute(args);
    return new Result(exit, out.toString(), err.toString());
  }

  @Test
  void unknownSuiteFailsAndListsTheKnownOnes() {
    Result r = run("nope");
    assertThat(r.exit()).isNotZero();
    assertThat(r.err()).contains("unknown suite 'nope'").contains("fake, other, failing");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void missingSuiteIsAUsageError() {
    Result r = run();
    assertThat(r.exit()).isNotZero();
    assertThat(r.err()).contains("SUITE");
  }

  @Test
  void jsonIsOneObjectOfFiguresInTheDocumentedShape(@TempDir Path dir) throws Exception {
    Result r = run("fake", "--quick", "--json", "--out", dir.toString());
    assertThat(r.exit()).isZero();
    assertThat(FakeSuite.lastQuick).isTrue();
    JsonNode root = new ObjectMapper().readTree(r.out()); // fails on anything but one JSON value
    assertThat(root.isObject()).isTrue();
    assertThat(root.size()).isEqualTo(2);
    JsonNode steps = root.get("steps_per_s");
    assertThat(steps.fieldNames()).toIterable()
        .containsExactly("value", "unit", "baseline", "ratio", "note");
    assertThat(steps.get("value").asDouble()).isEqualTo(12.5);
    assertThat(steps.get("unit").asText()).isEqualTo("steps/s");
    assertThat(steps.get("baseline").asDouble()).isEqualTo(10.0);
    assertThat(steps.get("ratio").asDouble()).isEqualTo(1.25);
    assertThat(steps.get("note").asText()).isEqualTo("against a fake baseline");
    JsonNode bytes = root.get("peak_bytes");
    assertThat(bytes.get("baseline").isNull()).isTrue();
    assertThat(bytes.get("ratio").isNull()).isTrue();
  }

  @Test
  void tableHasAHeaderAndOneAlignedRowPerFigure(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("sub");
    Result r = run("fake", "--out", out.toString());
    assertThat(r.exit()).isZero();
    assertThat(FakeSuite.lastQuick).isFalse();
    List<String> lines = r.out().lines().toList();
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0)).startsWith("metric").contains("value", "unit", "baseline", "ratio", "note");
    assertThat(lines.get(1)).startsWith("steps_per_s").contains("1.25x").contains("against a fake baseline");
    assertThat(lines.get(2)).startsWith("peak_bytes").contains("no baseline");
    // Columns line up: the unit column starts at the same offset in every row.
    assertThat(lines.get(1).indexOf("steps/s")).isEqualTo(lines.get(0).indexOf("unit"));
    assertThat(lines.get(2).indexOf(" bytes") + 1).isEqualTo(lines.get(0).indexOf("unit"));
    JsonNode written = new ObjectMapper().readTree(Files.readString(out.resolve("report.json")));
    assertThat(written.get("steps_per_s").get("ratio").asDouble()).isEqualTo(1.25);
    assertThat(Files.readString(out.resolve("report.md")))
        .contains("| steps_per_s | 12.5 | steps/s | 10.0 | 1.25x |");
  }

  @Test
  void aFailedCheckStillWritesTheReportThenExitsWithOne(@TempDir Path dir) throws Exception {
    Result r = run("failing", "--json", "--out", dir.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("FAILED: 2 examples lost");
    JsonNode lost = new ObjectMapper().readTree(r.out()).get("lost_examples");
    assertThat(lost.get("aim").asText()).isEqualTo("0");
    String md = Files.readString(dir.resolve("report.md"));
    assertThat(md).contains("**FAILED CHECKS**", "- 2 examples lost", "| lost_examples | 2.000 | examples | - | - | 0 |",
        "### sweep", "| 100 | 8400 |", "![curve](curve.png)");
    assertThat(javax.imageio.ImageIO.read(dir.resolve("curve.png").toFile()).getWidth()).isEqualTo(800);
  }

  @Test
  void aMissingScenarioFileIsAUsageError(@TempDir Path dir) {
    Result r = run("fake", "--scenario", dir.resolve("nope.properties").toString(), "--out", dir.toString());
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).contains("no scenario file");
  }

  @Test
  void standardRegistryHasEverySuite() {
    assertThat(BenchSuites.standard().names()).contains("model", "trainer", "gateway", "e2e", "scaling");
  }
}
