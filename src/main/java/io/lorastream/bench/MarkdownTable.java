package io.lorastream.bench;

import java.util.ArrayList;
import java.util.List;

/** A titled table for a report's markdown: a header row and rows of already formatted cells. */
public final class MarkdownTable {
  private final String title;
  private final List<String> header;
  private final List<List<String>> rows = new ArrayList<>();

  public MarkdownTable(String title, String... header) {
    this.title = title;
    this.header = List.of(header);
  }

  public MarkdownTable row(Object... cells) {
    if (cells.length != header.size()) {
      throw new IllegalArgumentException("table '" + title + "' has " + header.size() + " columns, row has "
          + cells.length);
    }
    List<String> row = new ArrayList<>();
    for (Object c : cells) {
      row.add(c == null ? "–" : c.toString().replace("|", "\\|"));
    }
    rows.add(row);
    return this;
  }

  public String title() {
    return title;
  }

  public List<String> header() {
    return header;
  }

  public List<List<String>> rows() {
    return List.copyOf(rows);
  }

  /** The table in GitHub markdown, preceded by its title as a level-3 heading. */
  public String markdown() {
    StringBuilder out = new StringBuilder("### ").append(title).append("\n\n");
    out.append("| ").append(String.join(" | ", header)).append(" |\n");
    out.append("|").append("---|".repeat(header.size())).append('\n');
    for (List<String> row : rows) {
      out.append("| ").append(String.join(" | ", row)).append(" |\n");
    }
    return out.toString();
  }
}
