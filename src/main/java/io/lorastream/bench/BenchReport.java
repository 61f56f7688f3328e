package io.lorastream.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;

/** Renders a suite's figures as an aligned text table or as one JSON object. */
public final class BenchReport {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] HEADER = {"metric", "value", "unit", "baseline", "ratio", "note"};

  private BenchReport() {}

  /**
   * One JSON object, metric name to figure:
   * {@code {"<metric>": {"value": v, "unit": u, "baseline": b, "ratio": r, "note": n}}}; baseline
   * and ratio are null when there is no baseline (as is any value that is not a finite number);
   * a figure with an aim also carries {@code "aim"}.
   */
  public static String json(List<Figure> figures) {
    ObjectNode root = JSON.createObjectNode();
    for (Figure f : figures) {
      ObjectNode node = root.putObject(f.metric());
      number(node, "value", f.value());
      node.put("unit", f.unit());
      number(node, "baseline", f.baseline());
      number(node, "ratio", f.ratio());
      node.put("note", f.note());
      if (f.aim() != null) {
        node.put("aim", f.aim());
      }
    }
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void number(ObjectNode node, String field, Double value) {
    if (value == null || !Double.isFinite(value)) {
      node.putNull(field);
    } else {
      node.put(field, value);
    }
  }

  /** An aligned table with the columns metric, value, unit, baseline, ratio, note. */
  public static String table(List<Figure> figures) {
    String[][] rows = new String[figures.size() + 1][];
    rows[0] = HEADER;
    for (int i = 0; i < figures.size(); i++) {
      Figure f = figures.get(i);
      rows[i + 1] = new String[] {
          f.metric(), format(f.value()), f.unit(), format(f.baseline()), ratio(f.ratio()),
          f.note() == null ? "" : f.note()};
    }
    int[] width = new int[HEADER.length];
    for (String[] row : rows) {
      for (int c = 0; c < row.length; c++) {
        width[c] = Math.max(width[c], row[c].length());
      }
    }
    StringBuilder out = new StringBuilder();
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder();
      for (int c = 0; c < row.length; c++) {
        boolean numeric = c == 1 || c == 3 || c == 4;
        String cell = row[c];
        if (c == row.length - 1) {
          line.append(cell);
        } else if (numeric) {
          line.append(" ".repeat(width[c] - cell.length())).append(cell).append("  ");
        } else {
          line.append(cell).append(" ".repeat(width[c] - cell.length())).append("  ");
        }
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
    return out.toString();
  }

  /**
   * The report as markdown: a heading with the suite, when and where it ran, the figures (value,
   * baseline, ratio, aim, note), each table, and the charts as images next to the file.
   */
  public static String markdown(String suite, BenchResult result, String context) {
    StringBuilder out = new StringBuilder("# lorastream bench ").append(suite).append("\n\n");
    out.append(context).append("\n\n");
    if (!result.failures().isEmpty()) {
      out.append("**FAILED CHECKS**\n\n");
      result.failures().forEach(f -> out.append("- ").append(f).append('\n'));
      out.append('\n');
    }
    MarkdownTable figures = new MarkdownTable("Figures", "metric", "value", "unit", "baseline", "ratio", "aim", "note");
    for (Figure f : result.figures()) {
      figures.row(f.metric(), format(f.value()), f.unit(), format(f.baseline()), ratio(f.ratio()),
          f.aim() == null ? "" : f.aim(), f.note() == null ? "" : f.note());
    }
    out.append(figures.markdown()).append('\n');
    for (MarkdownTable table : result.tables()) {
      out.append(table.markdown()).append('\n');
    }
    for (String chart : result.chartNames()) {
      out.append("![").append(chart).append("](").append(chart).append(".png)\n\n");
    }
    return out.toString();
  }

  /** A number as the reports print it: 0 decimals from 1000, 1 from 10, else 3. */
  public static String format(Double v) {
    if (v == null) {
      return "-";
    }
    if (!Double.isFinite(v)) {
      return String.valueOf(v);
    }
    double a = Math.abs(v);
    if (a >= 1000) {
      return String.format(Locale.ROOT, "%.0f", v);
    }
    if (a >= 10) {
      return String.format(Locale.ROOT, "%.1f", v);
    }
    return String.format(Locale.ROOT, "%.3f", v);
  }

  private static String ratio(Double r) {
    return r == null ? "-" : String.format(Locale.ROOT, "%.2fx", r);
  }
}
