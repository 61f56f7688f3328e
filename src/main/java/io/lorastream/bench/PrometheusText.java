package io.lorastream.bench;

/** Reads one sample from Prometheus text exposition (what {@code GET /metrics} answers). */
public final class PrometheusText {
  private PrometheusText() {}

  /**
   * The value of the sample named {@code series} exactly as written in the text, labels included
   * (e.g. {@code lorastream_trainer_examples_total{outcome="trained"}}), or NaN when absent.
   */
  public static double value(String text, String series) {
    for (String line : text.split("\n")) {
      if (line.startsWith(series + " ")) {
        String[] parts = line.substring(series.length()).trim().split("\\s+");
        try {
          return Double.parseDouble(parts[0]);
        } catch (NumberFormatException e) {
          return Double.NaN;
        }
      }
    }
    return Double.NaN;
  }
}
