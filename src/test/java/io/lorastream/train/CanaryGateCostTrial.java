package io.lorastream.train;

import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingPair;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Times the quality gate's canary evaluation of one candidate in process (lorastream-tiny, the
 * trainer's default adapter), the variants interleaved so that other load on the machine hits
 * them alike: the earlier 10 gate pairs in one pass, the shared canary set in passes of 16 rows,
 * and in passes of {@link QualityGate#ROWS_PER_PASS}; next to them one training step of 8
 * examples for scale. Args: repetitions.
 */
public final class CanaryGateCostTrial {
  private record Variant(String name, List<TrainingPair> pairs, int rowsPerPass, long[] nanos) {}

  public static void main(String[] args) {
    int repetitions = args.length > 0 ? Integer.parseInt(args[0]) : 50;
    TrainerSettings settings = TrainerSettings.defaults();
    List<TrainingPair> canary = CanarySet.PAIRS;
    List<TrainingPair> step = canary.subList(10, 18);
    List<Variant> variants = List.of(
        new Variant("10 pairs, 1 pass", canary.subList(0, 10), 16, new long[repetitions]),
        new Variant(canary.size() + " pairs, passes of 8", canary, 8, new long[repetitions]),
        new Variant(canary.size() + " pairs, passes of 11", canary, 11, new long[repetitions]),
        new Variant(canary.size() + " pairs, passes of 16", canary, 16, new long[repetitions]),
        new Variant(canary.size() + " pairs, passes of " + QualityGate.ROWS_PER_PASS, canary,
            QualityGate.ROWS_PER_PASS, new long[repetitions]),
        new Variant("training step, 8 examples", step, 0, new long[repetitions]));
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"));
        LoraAdapter adapter = LoraAdapter.initialise(base, settings.lora(), 1L);
        LoraTrainer trainer = new LoraTrainer(base, adapter, settings.training())) {
      trainer.step(step); // B != 0, like a candidate
      for (int warmup = 0; warmup < 5; warmup++) {
        variants.forEach(v -> run(trainer, v));
      }
      for (int i = 0; i < repetitions; i++) {
        for (Variant v : variants) {
          long t0 = System.nanoTime();
          run(trainer, v);
          v.nanos()[i] = System.nanoTime() - t0;
        }
      }
    }
    for (Variant v : variants) {
      long[] sorted = v.nanos().clone();
      Arrays.sort(sorted);
      System.out.printf("%s: median %.1f ms, min %.1f ms (%d runs)%n", v.name(), sorted[repetitions / 2] / 1e6,
          sorted[0] / 1e6, repetitions);
    }
  }

  private static void run(LoraTrainer trainer, Variant v) {
    if (v.rowsPerPass() == 0) {
      trainer.step(v.pairs());
      return;
    }
    QualityGate.meanLoss(trainer, v.pairs(), v.rowsPerPass());
  }
}
