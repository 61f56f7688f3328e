package io.lorastream.train;

import io.lorastream.avro.TrainingExample;
import io.lorastream.bench.Scenario;
import io.lorastream.bench.ScenarioWorkload;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingPair;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Packed against padded training steps on the trainer's real batches: 8 examples of a tenant of
 * the e2e scenario (context words in front of each question) plus the trainer's rehearsal rows,
 * with the trainer's default LoRA and learning rate, the two layouts alternated step by step.
 * Not a test: run it with
 * {@code java -Dai.djl.pytorch.num_threads=1 -cp "target/test-classes:target/classes:target/lib/*"
 * io.lorastream.train.PackedStepProfile [steps [scenario file]]}.
 */
public final class PackedStepProfile {
  private PackedStepProfile() {}

  public static void main(String[] args) throws Exception {
    int steps = args.length > 0 ? Integer.parseInt(args[0]) : 30;
    Path scenarioFile = Path.of(args.length > 1 ? args[1] : "load-tests/scenarios/e2e-100-tenants.properties");
    Scenario scenario = Scenario.load(scenarioFile);
    ScenarioWorkload workload = new ScenarioWorkload(scenario);
    TrainerSettings settings = TrainerSettings.defaults();
    Rehearsal rehearsal = new Rehearsal(settings.rehearsalRatio());
    List<List<TrainingPair>> batches = new ArrayList<>();
    for (int tenant = 0; tenant < 20; tenant++) {
      List<TrainingPair> pairs = new ArrayList<>();
      for (int k = 0; k < settings.batchSize(); k++) {
        TrainingExample e = workload.example((long) k * scenario.tenants() + tenant, Instant.EPOCH);
        pairs.add(new TrainingPair(e.getPrompt(), e.getCompletion(), e.getWeight()));
      }
      batches.add(rehearsal.mixInto(pairs, ScenarioWorkload.tenant(tenant), 0));
    }
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"));
        LoraAdapter paddedAdapter = LoraAdapter.initialise(base, settings.lora(), 1);
        LoraAdapter packedAdapter = LoraAdapter.initialise(base, settings.lora(), 1);
        LoraTrainer padded = new LoraTrainer(base, paddedAdapter, settings.training().withPackSequences(false));
        LoraTrainer packed = new LoraTrainer(base, packedAdapter, settings.training())) {
      long tokens = 0;
      long paddedPositions = 0;
      long packedPositions = 0;
      for (List<TrainingPair> batch : batches) {
        tokens += packed.inputTokens(batch);
        paddedPositions += padded.stepPositions(batch);
        packedPositions += packed.stepPositions(batch);
      }
      System.out.printf("per step on average: %.0f tokens, %.0f positions padded, %.0f packed%n",
          tokens / (double) batches.size(), paddedPositions / (double) batches.size(),
          packedPositions / (double) batches.size());
      double[] paddedMs = new double[steps];
      double[] packedMs = new double[steps];
      double worstLossDifference = 0;
      for (int s = -3; s < steps; s++) { // 3 warm-up steps
        List<TrainingPair> batch = batches.get(Math.floorMod(s, batches.size()));
        boolean paddedFirst = (s & 1) == 0;
        double[] ms = new double[2];
        float[] loss = new float[2];
        for (int turn = 0; turn < 2; turn++) {
          int which = (turn == 0) == paddedFirst ? 0 : 1;
          long start = System.nanoTime();
          loss[which] = (which == 0 ? padded : packed).step(batch);
          ms[which] = (System.nanoTime() - start) / 1e6;
        }
        if (s >= 0) {
          paddedMs[s] = ms[0];
          packedMs[s] = ms[1];
        }
        worstLossDifference = Math.max(worstLossDifference, Math.abs(loss[0] - loss[1]) / Math.abs(loss[0]));
      }
      Arrays.sort(paddedMs);
      Arrays.sort(packedMs);
      System.out.printf("%s, %d steps of %d rows: padded median %.1f ms, packed median %.1f ms, packed speed-up %.2fx; "
              + "largest relative difference of the two losses %.1e%n", scenarioFile.getFileName(), steps,
          batches.get(0).size(), paddedMs[steps / 2], packedMs[steps / 2], paddedMs[steps / 2] / packedMs[steps / 2],
          worstLossDifference);
    }
  }
}
