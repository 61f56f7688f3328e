package io.lorastream.model;

import io.lorastream.bench.TrainerWorkload;
import io.lorastream.model.pretrain.GeneralExchanges;
import io.lorastream.train.TrainerSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Four fused steps of distinct tenants (2 examples and 1 rehearsal exchange each, the trainer's
 * all-linear adapters), one after another on one thread against {@code threads} at once, as the
 * trainer's train threads run a cycle's groups; alternating, medians. Not a test: run it with
 * {@code java -Dai.djl.pytorch.num_threads=1 -cp "target/test-classes:target/classes:target/lib/*"
 * io.lorastream.model.ParallelStepsProfile [rounds [tenants per step [threads]]]}.
 */
public final class ParallelStepsProfile {
  private ParallelStepsProfile() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    int tenants = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
    int groups = 4;
    List<TrainingPair> exchanges = GeneralExchanges.rehearsalPool(20261128L, 512);
    TrainerWorkload workload = new TrainerWorkload(7);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<LoraTrainer> trainers = new ArrayList<>();
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"))) {
      for (int t = 0; t < groups * tenants; t++) {
        trainers.add(new LoraTrainer(base, LoraAdapter.initialise(base, TrainerSettings.DEFAULT_LORA, t),
            TrainingSettings.defaults()));
      }
      double[] oneThread = new double[rounds];
      double[] atOnce = new double[rounds];
      for (int r = -2; r < rounds; r++) { // two warm-up rounds
        List<List<FusedLoraTrainer.TenantBatch>> steps = new ArrayList<>();
        for (int g = 0; g < groups; g++) {
          List<FusedLoraTrainer.TenantBatch> group = new ArrayList<>();
          for (int t = g * tenants; t < (g + 1) * tenants; t++) {
            List<TrainingPair> batch = new ArrayList<>(workload.batch(t, r * 2L + 100, 2));
            batch.add(exchanges.get(Math.floorMod(t * 31 + r, exchanges.size())));
            group.add(new FusedLoraTrainer.TenantBatch(trainers.get(t), batch));
          }
          steps.add(group);
        }
        long start = System.nanoTime();
        for (List<FusedLoraTrainer.TenantBatch> group : steps) {
          FusedLoraTrainer.step(group);
        }
        long middle = System.nanoTime();
        List<Future<float[]>> running = new ArrayList<>();
        for (List<FusedLoraTrainer.TenantBatch> group : steps) {
          running.add(pool.submit(() -> FusedLoraTrainer.step(group)));
        }
        for (Future<float[]> step : running) {
          step.get();
        }
        long end = System.nanoTime();
        if (r >= 0) {
          oneThread[r] = (middle - start) / 1e6;
          atOnce[r] = (end - middle) / 1e6;
        }
      }
      Arrays.sort(oneThread);
      Arrays.sort(atOnce);
      System.out.printf("%d fused steps of %d tenants: one thread %.1f ms, %d threads %.1f ms (medians of %d), "
              + "speed-up %.2fx%n", groups, tenants, oneThread[rounds / 2], threads, atOnce[rounds / 2], rounds,
          oneThread[rounds / 2] / atOnce[rounds / 2]);
    } finally {
      pool.shutdown();
      for (LoraTrainer trainer : trainers) {
        trainer.close();
        trainer.adapter().close();
      }
    }
  }
}
