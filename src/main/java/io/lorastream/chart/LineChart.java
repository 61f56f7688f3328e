package io.lorastream.chart;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A small line chart written as PNG with the JDK alone (headless AWT, no plotting library): one or
 * more {@link Series}, axis titles, "nice" tick labels, an optional log-scaled x axis, a legend.
 * Used by benchmark and evaluation reports (learning curves, freshness CDFs, latency over time).
 */
public final class LineChart {
  private static final Color[] PALETTE = {
    new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
    new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)
  };
  private static final int WIDTH = 800;
  private static final int HEIGHT = 480;
  private static final int LEFT = 80;
  private static final int RIGHT = 24;
  private static final int TOP = 48;
  private static final int BOTTOM = 64;

  private final String title;
  private final String xLabel;
  private final String yLabel;
  private final List<Series> series = new ArrayList<>();
  private boolean logX;
  private Double yMin;
  private Double yMax;

  public LineChart(String title, String xLabel, String yLabel) {
    this.title = title;
    this.xLabel = xLabel;
    this.yLabel = yLabel;
  }

  public LineChart add(Series s) {
    series.add(s);
    return this;
  }

  /** Log10 scale on x (for sweeps such as 10 → 10,000 tenants); points with x ≤ 0 are dropped. */
  public LineChart logX() {
    this.logX = true;
    return this;
  }

  /** Fixes the y range (for example 0..1 for accuracies and CDFs) instead of fitting the data. */
  public LineChart yRange(double min, double max) {
    if (!(max > min)) {
      throw new IllegalArgumentException("y range needs max > min, got " + min + ".." + max);
    }
    this.yMin = min;
    this.yMax = max;
    return this;
  }

  /** Renders the chart; the image is {@value #WIDTH}×{@value #HEIGHT} pixels. */
  public BufferedImage render() {
    BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, WIDTH, HEIGHT);
      draw(g);
    } finally {
      g.dispose();
    }
    return img;
  }

  /** Renders and writes a PNG file, creating parent folders. */
  public void writePng(Path file) {
    try {
      if (file.getParent() != null) {
        Files.createDirectories(file.getParent());
      }
      if (!ImageIO.write(render(), "png", file.toFile())) {
        throw new IOException("no PNG writer available");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write chart " + file, e);
    }
  }

  private void draw(Graphics2D g) {
    Font base = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    g.setFont(base.deriveFont(Font.BOLD, 15f));
    g.setColor(Color.BLACK);
    centered(g, title, WIDTH / 2, 28);
    g.setFont(base);

    double[] xr = range(true);
    double[] yr = yMin != null ? new double[] {yMin, yMax} : range(false);
    Ticks xt = Ticks.of(xr[0], xr[1], 8);
    Ticks yt = Ticks.of(yr[0], yr[1], 6);
    double x0 = logX ? xr[0] : xt.first();
    double x1 = logX ? xr[1] : xt.last();
    double y0 = yMin != null ? yMin : yt.first();
    double y1 = yMin != null ? yMax : yt.last();
    int plotW = WIDTH - LEFT - RIGHT;
    int plotH = HEIGHT - TOP - BOTTOM;
    Axis ax = new Axis(x0, x1, y0, y1, plotW, plotH);

    g.setColor(new Color(0xe6e6e6));
    for (double y : yt.values(y0, y1)) {
      int py = ax.py(y);
      g.drawLine(LEFT, py, LEFT + plotW, py);
    }
    List<Double> xTicks = logX ? decades(xr[0], xr[1]) : xt.values(x0, x1);
    for (double x : xTicks) {
      int px = ax.px(logX ? Math.log10(x) : x);
      g.drawLine(px, TOP, px, TOP + plotH);
    }
    g.setColor(Color.BLACK);
    g.drawRect(LEFT, TOP, plotW, plotH);
    FontMetrics fm = g.getFontMetrics();
    for (double y : yt.values(y0, y1)) {
      String label = Ticks.format(y);
      g.drawString(label, LEFT - 6 - fm.stringWidth(label), ax.py(y) + fm.getAscent() / 2 - 1);
    }
    for (double x : xTicks) {
      centered(g, Ticks.format(x), ax.px(logX ? Math.log10(x) : x), TOP + plotH + 18);
    }
    centered(g, xLabel, LEFT + plotW / 2, HEIGHT - 18);
    Graphics2D rotated = (Graphics2D) g.create();
    rotated.rotate(-Math.PI / 2);
    centered(rotated, yLabel, -(TOP + plotH / 2), 20);
    rotated.dispose();

    g.setStroke(new BasicStroke(2f));
    Graphics2D clip = (Graphics2D) g.create();
    clip.clipRect(LEFT, TOP, plotW + 1, plotH + 1);
    for (int i = 0; i < series.size(); i++) {
      clip.setColor(PALETTE[i % PALETTE.length]);
      Path2D.Double path = new Path2D.Double();
      boolean started = false;
      for (double[] p : visible(series.get(i))) {
        double px = ax.pxExact(logX ? Math.log10(p[0]) : p[0]);
        double py = ax.pyExact(p[1]);
        if (started) {
          path.lineTo(px, py);
        } else {
          path.moveTo(px, py);
          started = true;
        }
        clip.fillOval((int) px - 2, (int) py - 2, 5, 5);
      }
      clip.draw(path);
    }
    clip.dispose();
    legend(g);
  }

  private void legend(Graphics2D g) {
    FontMetrics fm = g.getFontMetrics();
    int width = 0;
    for (Series s : series) {
      width = Math.max(width, fm.stringWidth(s.name()));
    }
    int x = WIDTH - RIGHT - width - 40;
    int y = TOP + 8;
    g.setColor(new Color(255, 255, 255, 220));
    g.fillRect(x - 6, y - 4, width + 38, series.size() * 18 + 6);
    for (int i = 0; i < series.size(); i++) {
      g.setColor(PALETTE[i % PALETTE.length]);
      g.fillRect(x, y + i * 18 + 5, 20, 4);
      g.setColor(Color.BLACK);
      g.drawString(series.get(i).name(), x + 26, y + i * 18 + fm.getAscent());
    }
  }

  private List<double[]> visible(Series s) {
    List<double[]> out = new ArrayList<>();
    for (double[] p : s.points()) {
      if (!logX || p[0] > 0) {
        out.add(p);
      }
    }
    return out;
  }

  /** [min, max] over all series on one axis; log10 of x when the x axis is logarithmic. */
  private double[] range(boolean x) {
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    for (Series s : series) {
      for (double[] p : visible(s)) {
        double v = x ? (logX ? Math.log10(p[0]) : p[0]) : p[1];
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    if (min == Double.POSITIVE_INFINITY) {
      return new double[] {0, 1};
    }
    if (max == min) {
      double pad = min == 0 ? 1 : Math.abs(min) * 0.1;
      return new double[] {min - pad, max + pad};
    }
    return new double[] {min, max};
  }

  /** Powers of ten covering [log10 min, log10 max], as x values. */
  private static List<Double> decades(double logMin, double logMax) {
    List<Double> out = new ArrayList<>();
    for (int e = (int) Math.floor(logMin); e <= (int) Math.ceil(logMax); e++) {
      if (e >= logMin - 1e-9 && e <= logMax + 1e-9) {
        out.add(Math.pow(10, e));
      }
    }
    return out;
  }

  private static void centered(Graphics2D g, String text, int cx, int baseline) {
    g.drawString(text, cx - g.getFontMetrics().stringWidth(text) / 2, baseline);
  }

  /** Maps data coordinates to pixels inside the plot rectangle. */
  private record Axis(double x0, double x1, double y0, double y1, int w, int h) {
    double pxExact(double x) {
      return LEFT + (x - x0) / (x1 - x0) * w;
    }

    double pyExact(double y) {
      return TOP + h - (y - y0) / (y1 - y0) * h;
    }

    int px(double x) {
      return (int) Math.round(pxExact(x));
    }

    int py(double y) {
      return (int) Math.round(pyExact(y));
    }
  }

  /** Evenly spaced "nice" tick values (steps of 1, 2 or 5 × 10^k). */
  record Ticks(double step, double first, double last) {
    static Ticks of(double min, double max, int target) {
      double raw = (max - min) / Math.max(1, target);
      double mag = Math.pow(10, Math.floor(Math.log10(raw)));
      double norm = raw / mag;
      double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
      return new Ticks(step, Math.floor(min / step) * step, Math.ceil(max / step) * step);
    }

    List<Double> values(double from, double to) {
      List<Double> out = new ArrayList<>();
      for (double v = Math.ceil(from / step - 1e-9) * step; v <= to + step * 1e-9; v += step) {
        out.add(Math.abs(v) < step * 1e-9 ? 0.0 : v);
      }
      return out;
    }

    static String format(double v) {
      if (v != 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) {
        return String.format(Locale.ROOT, "%.0e", v);
      }
      if (v == Math.rint(v)) {
        return String.format(Locale.ROOT, "%,d", (long) v);
      }
      return new java.math.BigDecimal(String.format(Locale.ROOT, "%.3g", v))
          .stripTrailingZeros()
          .toPlainString();
    }
  }
}
