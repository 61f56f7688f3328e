package io.lorastream.model;

import io.lorastream.bench.TrainerWorkload;
import io.lorastream.model.pretrain.GeneralExchanges;
import io.lorastream.train.TrainerSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fused against separate training steps, in process: {@code tenants} tenants with {@code rows}
 * examples each, trained one tenant at a time ({@link LoraTrainer#step}) and in one
 * {@link FusedLoraTrainer#step}, alternating, median of the rounds. Not a test: run it with
 * {@code java -cp target/test-classes:target/classes:target/lib/* io.lorastream.model.FusedStepProfile
 * [rounds [tenants [rows [qv|all-linear [rehearse]]]]]}; with {@code rehearse} each tenant's rows are
 * followed by the trainer's default share of general exchanges (half a row per example, rounded
 * up), as {@code ContinualTrainer} steps are.
 */
public final class FusedStepProfile {
  private FusedStepProfile() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int tenants = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    int rows = args.length > 2 ? Integer.parseInt(args[2]) : 8;
    LoraConfig lora = args.length > 3 && args[3].equals("qv") ? LoraConfig.defaults() : TrainerSettings.DEFAULT_LORA;
    boolean rehearse = args.length > 4 && args[4].equals("rehearse");
    List<TrainingPair> exchanges = GeneralExchanges.rehearsalPool(20261128L, 512);
    int rehearsalRows = rehearse ? (int) Math.ceil(TrainerSettings.DEFAULT_REHEARSAL_RATIO * rows) : 0;
    TrainerWorkload workload = new TrainerWorkload(7);
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"))) {
      List<LoraAdapter> adapters = new ArrayList<>();
      List<LoraTrainer> trainers = new ArrayList<>();
      for (int t = 0; t < 2 * tenants; t++) {
        adapters.add(LoraAdapter.initialise(base, lora, t));
        trainers.add(new LoraTrainer(base, adapters.get(t), TrainingSettings.defaults()));
      }
      double[] separate = new double[rounds];
      double[] fused = new double[rounds];
      for (int r = -1; r < rounds; r++) {
        long start = System.nanoTime();
        for (int t = 0; t < tenants; t++) {
          trainers.get(t).step(batch(workload, exchanges, t, r, rows, rehearsalRows));
        }
        long middle = System.nanoTime();
        List<FusedLoraTrainer.TenantBatch> group = new ArrayList<>();
        for (int t = 0; t < tenants; t++) {
          group.add(new FusedLoraTrainer.TenantBatch(trainers.get(tenants + t),
              batch(workload, exchanges, t, r, rows, rehearsalRows)));
        }
        FusedLoraTrainer.step(group);
        long end = System.nanoTime();
        if (r >= 0) {
          separate[r] = (middle - start) / 1e6;
          fused[r] = (end - middle) / 1e6;
        }
      }
      Arrays.sort(separate);
      Arrays.sort(fused);
      System.out.printf("%s, %d tenants x %d rows (+%d rehearsal): separate %.1f ms, fused %.1f ms (median of %d), fused speed-up %.2fx%n",
          lora.targetModules(), tenants, rows, rehearsalRows, separate[rounds / 2], fused[rounds / 2], rounds,
          separate[rounds / 2] / fused[rounds / 2]);
      for (int t = 0; t < trainers.size(); t++) {
        trainers.get(t).close();
        adapters.get(t).close();
      }
    }
  }

  /** Tenant {@code t}'s examples of round {@code r}, then {@code rehearsal} general exchanges. */
  private static List<TrainingPair> batch(
      TrainerWorkload workload, List<TrainingPair> exchanges, int t, int r, int rows, int rehearsal) {
    List<TrainingPair> batch = new ArrayList<>(workload.batch(t, (long) r * rows + 100, rows));
    for (int i = 0; i < rehearsal; i++) {
      batch.add(exchanges.get(Math.floorMod(t * 31 + r * 7 + i, exchanges.size())));
    }
    return batch;
  }
}
