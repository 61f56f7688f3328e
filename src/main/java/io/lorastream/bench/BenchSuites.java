package io.lorastream.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The suites {@code ./lorastream bench <suite>} knows. A new suite is one more line in
 * {@link #ALL}; a suite's constructor must do no work (measuring starts in {@link BenchSuite#run}).
 */
public final class BenchSuites {
  /** Every known suite, in the order they are listed. */
  public static final List<Supplier<BenchSuite>> ALL = List.of(
      ModelBench::new,
      TrainerBench::new,
      GatewayBench::new,
      E2eBench::new,
      ScalingBench::new);

  private final List<Supplier<BenchSuite>> suites;

  public BenchSuites(List<Supplier<BenchSuite>> suites) {
    this.suites = List.copyOf(suites);
  }

  /** The registry of {@link #ALL}. */
  public static BenchSuites standard() {
    return new BenchSuites(ALL);
  }

  /** Names of the known suites, in order. */
  public List<String> names() {
    List<String> names = new ArrayList<>();
    for (Supplier<BenchSuite> s : suites) {
      names.add(s.get().name());
    }
    return names;
  }

  /** A fresh instance of the suite called {@code name}, if it is known. */
  public Optional<BenchSuite> find(String name) {
    for (Supplier<BenchSuite> s : suites) {
      BenchSuite suite = s.get();
      if (suite.name().equals(name)) {
        return Optional.of(suite);
      }
    }
    return Optional.empty();
  }
}
