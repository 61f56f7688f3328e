package io.lorastream.bench;

import java.util.List;

/** A benchmark suite run by {@code ./lorastream bench <name> [--quick] [--json]}. */
public interface BenchSuite {
  /** The suite's name on the command line: model, trainer, gateway, e2e or scaling. */
  String name();

  /**
   * Measures and returns the figures.
   *
   * @param quick a short run (the whole suite under two minutes on a 2-core machine)
   */
  List<Figure> run(boolean quick) throws Exception;

  /**
   * Measures and returns figures, charts and tables. Suites that draw charts or take a scenario
   * override this; the default reports {@link #run(boolean)}'s figures alone.
   */
  default BenchResult run(BenchOptions options) throws Exception {
    return BenchResult.of(run(options.quick()));
  }
}
