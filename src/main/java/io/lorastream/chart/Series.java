package io.lorastream.chart;

import java.util.ArrayList;
import java.util.List;

/** One named line of a {@link LineChart}: points (x, y) in the order they are drawn. */
public final class Series {
  private final String name;
  private final List<double[]> points = new ArrayList<>();

  public Series(String name) {
    this.name = name;
  }

  /** Adds a point; non-finite coordinates are ignored (nothing sensible to draw). */
  public Series add(double x, double y) {
    if (Double.isFinite(x) && Double.isFinite(y)) {
      points.add(new double[] {x, y});
    }
    return this;
  }

  /**
   * The empirical cumulative distribution of {@code values}: x = value, y = share of values ≤ x
   * (0..1), one point per value after sorting.
   */
  public static Series cdf(String name, double[] values) {
    double[] sorted = values.clone();
    java.util.Arrays.sort(sorted);
    Series s = new Series(name);
    for (int i = 0; i < sorted.length; i++) {
      s.add(sorted[i], (i + 1) / (double) sorted.length);
    }
    return s;
  }

  public String name() {
    return name;
  }

  public List<double[]> points() {
    return List.copyOf(points);
  }

  boolean isEmpty() {
    return points.isEmpty();
  }
}
