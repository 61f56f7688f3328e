package io.lorastream.model;

import ai.djl.pytorch.jni.JniUtils;
import io.lorastream.bench.ModelBench;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Hand-run profile of one LoRA training step per libtorch operation: libtorch's own profiler
 * writes a Chrome trace (open it in chrome://tracing or Perfetto, or sum it per operation with
 * {@code load-tests/tools/trace_ops.py}).
 *
 * <pre>
 * java -Dai.djl.pytorch.num_threads=1 -cp "target/test-classes:target/classes:target/lib/*" \
 *   io.lorastream.model.TrainStepOpProfile OUT.json|- [rows [tokens [all-linear|qv [steps]]]]
 * </pre>
 *
 * Rows of random words cut to {@code tokens}, {@code bench model}'s training batch (default 8 × 128).
 * With {@code -} instead of a file it only times the steps. The profiler adds its own cost to
 * every operation (the profiled steps ran several times slower than the unprofiled ones here), so
 * read its shares and call counts, and the unprofiled timings for time.
 */
public final class TrainStepOpProfile {
  private TrainStepOpProfile() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args[0]);
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 128;
    boolean allLinear = args.length > 3 && args[3].equals("all-linear");
    int steps = args.length > 4 ? Integer.parseInt(args[4]) : 3;
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"))) {
      LoraConfig lora = allLinear
          ? new LoraConfig(8, 16f, List.of(LoraConfig.ALL_LINEAR), 0f, false)
          : LoraConfig.defaults();
      TrainingSettings settings = TrainingSettings.defaults().withMaxSequenceLength(tokens + 1);
      List<TrainingPair> batch = ModelBench.trainingBatch(base, rows, tokens, new SplittableRandom(11));
      try (LoraAdapter adapter = LoraAdapter.initialise(base, lora, 3);
          LoraTrainer trainer = new LoraTrainer(base, adapter, settings)) {
        for (int i = 0; i < 5; i++) {
          trainer.step(batch);
        }
        double[] ms = new double[steps];
        for (int i = 0; i < steps; i++) {
          long t0 = System.nanoTime();
          trainer.step(batch);
          ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        System.out.printf("unprofiled: median %.1f ms, min %.1f ms per step (%d rows x %d tokens, %s)%n",
            ms[steps / 2], ms[0], rows, tokens, allLinear ? "all-linear" : "q,v");
        if (args[0].equals("-")) {
          return; // timings only
        }
        JniUtils.startProfile(false, true, false);
        for (int i = 0; i < steps; i++) {
          trainer.step(batch);
        }
        JniUtils.stopProfile(out.toAbsolutePath().toString());
      }
    }
  }
}
