package io.lorastream.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * How {@code produce} shows its progress on stderr: a bar redrawn in place on a terminal, a line
 * every few seconds otherwise (logs, pipes), or nothing. Updates are throttled by the clock, so
 * calling {@link #update} per line costs nothing.
 */
abstract class ProduceProgress {
  /** Counts so far: lines read of {@code totalLines}, examples sent, acknowledged, lines rejected. */
  record Counts(long linesRead, long totalLines, long sent, long acknowledged, long rejected) {
    int percent() {
      return totalLines == 0 ? 100 : (int) Math.min(100, linesRead * 100 / totalLines);
    }
  }

  /** The choices of {@code --progress}. */
  enum Mode { AUTO, BAR, LINES, NONE }

  private final long intervalNanos;
  private final LongSupplier nanoTime;
  private long lastShown;
  private boolean shownOnce;

  ProduceProgress(long intervalNanos, LongSupplier nanoTime) {
    this.intervalNanos = intervalNanos;
    this.nanoTime = nanoTime;
  }

  static ProduceProgress of(Mode mode, PrintWriter err, boolean terminal) {
    Mode chosen = mode == Mode.AUTO ? (terminal ? Mode.BAR : Mode.LINES) : mode;
    return switch (chosen) {
      case BAR -> new Bar(err, System::nanoTime);
      case LINES -> new Lines(err, System::nanoTime);
      default -> new Silent();
    };
  }

  /** Shows {@code counts} when the last showing is older than the interval (or there was none). */
  final void update(Counts counts) {
    long now = nanoTime.getAsLong();
    if (!shownOnce || now - lastShown >= intervalNanos) {
      shownOnce = true;
      lastShown = now;
      show(counts);
    }
  }

  /** Shows the final counts (always) and leaves the line ready for what follows. */
  abstract void finish(Counts counts);

  abstract void show(Counts counts);

  /** {@code [##########----------]  50%  120/240 lines, 118 sent, 100 acked, 2 rejected}. */
  static String bar(Counts c, int width) {
    int filled = c.percent() * width / 100;
    return "[" + "#".repeat(filled) + "-".repeat(width - filled) + "] "
        + String.format(Locale.ROOT, "%3d%%  %s", c.percent(), summary(c));
  }

  static String summary(Counts c) {
    return String.format(Locale.ROOT, "%d/%d lines, %d sent, %d acked, %d rejected", c.linesRead(), c.totalLines(),
        c.sent(), c.acknowledged(), c.rejected());
  }

  /** Redrawn in place ({@code \r}) ten times a second. */
  static final class Bar extends ProduceProgress {
    private final PrintWriter err;

    Bar(PrintWriter err, LongSupplier nanoTime) {
      super(100_000_000L, nanoTime);
      this.err = err;
    }

    @Override
    void show(Counts counts) {
      err.print("\r" + bar(counts, 30));
      err.flush();
    }

    @Override
    void finish(Counts counts) {
      show(counts);
      err.println();
      err.flush();
    }
  }

  /** One line every five seconds: readable in a log. */
  static final class Lines extends ProduceProgress {
    private final PrintWriter err;

    Lines(PrintWriter err, LongSupplier nanoTime) {
      super(5_000_000_000L, nanoTime);
      this.err = err;
    }

    @Override
    void show(Counts counts) {
      err.println("produce: " + counts.percent() + "% " + summary(counts));
      err.flush();
    }

    @Override
    void finish(Counts counts) {
      show(counts);
    }
  }

  static final class Silent extends ProduceProgress {
    Silent() {
      super(Long.MAX_VALUE, () -> 0L);
    }

    @Override
    void show(Counts counts) {}

    @Override
    void finish(Counts counts) {}
  }
}
