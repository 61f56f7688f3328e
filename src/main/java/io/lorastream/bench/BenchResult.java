package io.lorastream.bench;

import io.lorastream.chart.LineChart;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a suite measured: its figures, the charts drawn from its time series (file name without
 * extension → chart), markdown tables (scaling sweeps and such), and the checks it failed. A
 * failed check (an example lost or trained twice) makes {@code ./lorastream bench} exit non-zero
 * after the report is written, so the evidence is kept.
 */
public final class BenchResult {
  private final List<Figure> figures = new ArrayList<>();
  private final Map<String, LineChart> charts = new LinkedHashMap<>();
  private final List<MarkdownTable> tables = new ArrayList<>();
  private final List<String> failures = new ArrayList<>();

  public static BenchResult of(List<Figure> figures) {
    BenchResult result = new BenchResult();
    result.figures.addAll(figures);
    return result;
  }

  public BenchResult add(Figure figure) {
    figures.add(figure);
    return this;
  }

  public BenchResult addAll(List<Figure> more) {
    figures.addAll(more);
    return this;
  }

  /** Adds a chart written as {@code <name>.png}; {@code name} is a plain file name. */
  public BenchResult chart(String name, LineChart chart) {
    if (!name.matches("[a-z0-9_-]+")) {
      throw new IllegalArgumentException("chart name must be [a-z0-9_-]+, got '" + name + "'");
    }
    charts.put(name, chart);
    return this;
  }

  public BenchResult table(MarkdownTable table) {
    tables.add(table);
    return this;
  }

  /** Records a failed check; the report is still written, then the command fails with these lines. */
  public BenchResult fail(String why) {
    failures.add(why);
    return this;
  }

  public List<Figure> figures() {
    return List.copyOf(figures);
  }

  public Map<String, LineChart> charts() {
    return Map.copyOf(charts);
  }

  /** Chart names in the order they were added. */
  public List<String> chartNames() {
    return List.copyOf(charts.keySet());
  }

  public List<MarkdownTable> tables() {
    return List.copyOf(tables);
  }

  public List<String> failures() {
    return List.copyOf(failures);
  }
}
