package io.lorastream.bench;

/**
 * One measured figure of a benchmark, reported next to the baseline it was measured against in the
 * same run (these machines are noisy: only ratios of side-by-side runs are comparable).
 *
 * @param metric a stable name, e.g. {@code train_tokens_per_s_fused_16_tenants}
 * @param value the measured value
 * @param unit e.g. {@code tokens/s}, {@code ms}, {@code bytes}
 * @param baseline the baseline's value measured in the same run, or null when there is none
 * @param ratio value / baseline (or the ratio that makes "higher is better" read right; say which in
 *     {@code note}), or null without a baseline
 * @param note what the baseline is and how the figure was taken
 * @param aim the project's stated aim for this figure (e.g. {@code "<= 1000 ms"}), or null
 */
public record Figure(String metric, double value, String unit, Double baseline, Double ratio, String note,
    String aim) {
  public Figure(String metric, double value, String unit, Double baseline, Double ratio, String note) {
    this(metric, value, unit, baseline, ratio, note, null);
  }

  public static Figure of(String metric, double value, String unit, String note) {
    return new Figure(metric, value, unit, null, null, note);
  }

  public static Figure against(String metric, double value, double baseline, String unit, String note) {
    return new Figure(metric, value, unit, baseline, baseline == 0 ? null : value / baseline, note);
  }

  /** This figure with the aim it is measured against written next to it. */
  public Figure withAim(String aim) {
    return new Figure(metric, value, unit, baseline, ratio, note, aim);
  }
}
