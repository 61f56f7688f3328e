package io.lorastream.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a suite's report folder: {@code report.json} (the {@code --json} object),
 * {@code report.md} (figures with aims, tables, charts) and one PNG per chart.
 */
public final class ReportWriter {
  private ReportWriter() {}

  /**
   * Writes the folder (created if missing; files of the same names are replaced) and returns the
   * files written.
   *
   * @param context a line or two for the markdown heading: date, machine, command
   */
  public static List<Path> write(Path dir, String suite, BenchResult result, String context) throws IOException {
    Files.createDirectories(dir);
    List<Path> written = new ArrayList<>();
    Path json = dir.resolve("report.json");
    Files.writeString(json, BenchReport.json(result.figures()) + "\n", StandardCharsets.UTF_8);
    written.add(json);
    Path md = dir.resolve("report.md");
    Files.writeString(md, BenchReport.markdown(suite, result, context), StandardCharsets.UTF_8);
    written.add(md);
    for (String name : result.chartNames()) {
      Path png = dir.resolve(name + ".png");
      result.charts().get(name).writePng(png);
      written.add(png);
    }
    return written;
  }
}
