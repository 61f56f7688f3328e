package io.lorastream.bench;

import io.lorastream.model.BaseModel;
import io.lorastream.train.TrainerSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The trainer suite's sustained phase (50 examples/s over 100 tenants, quick window) once per
 * setting given, one after the other in one JVM, for comparing batching settings. Not a test: run
 * it with {@code java -cp target/test-classes:target/classes:target/lib/* \
 * io.lorastream.bench.SustainedTrainerProfile [full] WAIT_MS:FUSED_ROWS[:TRAIN_THREADS[:OFFERED[:gate]]] ...},
 * e.g. {@code 1000:1 100:16:2 250:16:2:80 250:16:2:20:gate}; {@code full} measures as the full suite does
 * (longer); {@code gate} runs with the default quality gate instead of an open one (the workload has no
 * holdout examples, so it checks the canary set).
 */
public final class SustainedTrainerProfile {
  private SustainedTrainerProfile() {}

  public static void main(String[] args) throws Exception {
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"))) {
      TrainerBench bench = new TrainerBench();
      boolean quick = !(args.length > 0 && args[0].equals("full"));
      for (String arg : args) {
        if (arg.equals("full")) {
          continue;
        }
        String[] parts = arg.split(":");
        TrainerSettings settings = TrainerBench.sustainedSettings()
            .withBatching(TrainerSettings.defaults().batchSize(), Duration.ofMillis(Long.parseLong(parts[0])))
            .withMaxFusedRows(Integer.parseInt(parts[1]))
            .withTrainThreads(parts.length > 2 ? Integer.parseInt(parts[2]) : 1);
        if (parts.length > 4 && parts[4].equals("gate")) {
          settings = settings.withGate(TrainerSettings.Gate.defaults());
        }
        Path scratch = Files.createTempDirectory("sustained-");
        try {
          double offered = parts.length > 3 ? Double.parseDouble(parts[3]) : 50;
          for (Figure f : bench.continualTrainer(base, scratch, quick, settings, offered)) {
            System.out.printf("%s  %s: %.1f %s%s%n", arg, f.metric(), f.value(), f.unit(),
                f.baseline() == null ? "" : String.format(" (baseline %.1f)", f.baseline()));
          }
        } finally {
          ScratchFolder.delete(scratch); // the broker's logs: gigabytes of checkpoints
        }
      }
    }
  }
}
