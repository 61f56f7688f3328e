package io.lorastream.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Temporary folders of benchmark runs. */
final class ScratchFolder {
  private ScratchFolder() {}

  /** Deletes {@code dir} and everything under it; a missing folder or a file left behind is no error. */
  static void delete(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // temporary files: left behind at worst
    }
  }

  /**
   * The figures of {@code suite}'s full report, written to a scratch folder that is deleted
   * afterwards: {@link BenchSuite#run(boolean)} for suites whose report is a folder.
   */
  static java.util.List<Figure> figuresOnly(BenchSuite suite, boolean quick) throws Exception {
    Path work = Files.createTempDirectory("lorastream-bench-" + suite.name());
    try {
      return suite.run(new BenchOptions(quick, null, work)).figures();
    } finally {
      delete(work);
    }
  }
}
