package io.lorastream.bench;

import io.lorastream.model.BaseModel;
import java.nio.file.Path;

/**
 * Hand-run: only {@code bench trainer}'s fused-against-separate comparisons, for both cases, at the
 * given tenant counts, {@code repeats} times in one JVM.
 *
 * <pre>
 * java -Dai.djl.pytorch.num_threads=1 -cp "target/test-classes:target/classes:target/lib/*" \
 *   io.lorastream.bench.FusedCasesProfile [repeats [tenants...]]
 * </pre>
 */
public final class FusedCasesProfile {
  private FusedCasesProfile() {}

  public static void main(String[] args) {
    int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    int[] tenantCounts = args.length > 1
        ? java.util.Arrays.stream(args, 1, args.length).mapToInt(Integer::parseInt).toArray()
        : new int[] {4, 16};
    try (BaseModel base = BaseModel.load(Path.of("models", "lorastream-tiny"))) {
      for (int repeat = 0; repeat < repeats; repeat++) {
        for (TrainerBench.FusedCase fusedCase : new TrainerBench.FusedCase[] {
            TrainerBench.FusedCase.FULL_BATCHES, TrainerBench.FusedCase.STREAMING}) {
          for (int tenants : tenantCounts) {
            for (Figure f : TrainerBench.fusedAgainstSeparate(base, fusedCase, tenants, fusedCase.rounds(true),
                TrainerBench.FUSED_WARM_UP_QUICK)) {
              System.out.printf("%-48s %10.1f %-9s %s%n", f.metric(), f.value(), f.unit(),
                  f.ratio() == null ? "" : String.format("ratio %.2f", f.ratio()));
            }
          }
        }
      }
    }
  }
}
