package io.lorastream.bench;

import java.nio.file.Path;

/**
 * How a suite is asked to run.
 *
 * @param quick a short run (the whole suite under two minutes on a 2-core machine)
 * @param scenario a scenario file for suites that take one (e2e), or null for the suite's default
 * @param workDir a folder the suite may write scratch files and process logs to
 */
public record BenchOptions(boolean quick, Path scenario, Path workDir) {
  public BenchOptions {
    if (workDir == null) {
      throw new IllegalArgumentException("a benchmark needs a work folder");
    }
  }
}
