package io.lorastream.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import io.lorastream.train.TrainerSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * Where a served completion's model time goes, with the trainer's default adapters (all-linear
 * r 8) on the shipped base: the parts of a 1-token completion (tokenising, prefill, sampling) and
 * of one decode step at 1, 8, 32 and 64 rows, each row its own tenant or all rows one tenant,
 * against the base model alone. Prints medians of the calling thread's CPU time in
 * milliseconds: with one intra-op thread all of the work runs on that thread, so the figures hold
 * on a machine shared with other work, where wall times do not. Not a test: run it with
 * {@code OMP_NUM_THREADS=1 java -Dai.djl.pytorch.num_threads=1 -cp
 * target/test-classes:target/classes:target/lib/* io.lorastream.model.DecodeStepProfile}.
 */
public final class DecodeStepProfile {
  private static final String PROMPT = "Question: How long do I have to return an item?\nAnswer:";

  private DecodeStepProfile() {}

  public static void main(String[] args) {
    int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 30;
    try (BaseModel base = BaseModel.load(Path.of("models", "lorastream-tiny"))) {
      JniUtils.setGradMode(false); // after the engine has loaded
      CausalLm lm = new CausalLm(base);
      Generator generator = new Generator(lm);
      List<LoraAdapter> adapters = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        adapters.add(LoraAdapter.initialise(base, TrainerSettings.DEFAULT_LORA, i));
      }
      int[] prompt = generator.encodePrompt(PROMPT);
      System.out.printf("prompt %d tokens, %d iterations, medians in ms%n", prompt.length, iterations);

      System.out.println("1-token completion:");
      print("  tokenise", time(iterations, () -> generator.encodePrompt(PROMPT)));
      print("  Generator.generate (prefill + pick)", time(iterations,
          () -> generator.generate(prompt, adapters.get(0), 1)));
      print("  Generator.generate, base model", time(iterations, () -> generator.generate(prompt, null, 1)));
      print("  DecodeBatch.addAll (prefill, 1 row)", time(iterations, () -> {
        try (DecodeBatch batch = new DecodeBatch(lm)) {
          return batch.addAll(List.of(new GenerationRequest(prompt, adapters.get(0), SamplingParams.greedy(1))));
        }
      }));
      print("  DecodeBatch addAll + step (what the engine runs)", time(iterations, () -> {
        try (DecodeBatch batch = new DecodeBatch(lm)) {
          batch.addAll(List.of(new GenerationRequest(prompt, adapters.get(0), SamplingParams.greedy(1))));
          return batch.step();
        }
      }));
      float[] logits = new float[base.config().vocabSize()];
      print("  greedy pick over the vocabulary", time(iterations * 100, () -> Sampler.greedy().next(logits)));

      System.out.println("decode step (rows; each its own tenant | all one tenant | base model):");
      for (int rows : new int[] {1, 8, 32, 64}) {
        double distinct = stepMillis(lm, prompt, adapters.subList(0, rows), iterations);
        double shared = stepMillis(lm, prompt, java.util.Collections.nCopies(rows, adapters.get(0)), iterations);
        double plain = stepMillis(lm, prompt, java.util.Collections.nCopies(rows, null), iterations);
        double gather = median(time(iterations, () -> {
          try (NDManager m = base.manager().newSubManager(); NDScope scope = new NDScope()) {
            return RowLora.gather(base, adapters.subList(0, rows), m);
          }
        }));
        System.out.printf("  %2d rows: step %.2f | %.2f | %.2f ms; restacking LoRA factors %.2f ms%n",
            rows, distinct, shared, plain, gather);
      }
      adapters.forEach(LoraAdapter::close);
    }
  }

  /**
   * Median time of one decode forward pass of {@code adapters.size()} rows after a prompt, with
   * the factors as {@link DecodeBatch} holds them while its rows do not change: one adapter's own
   * factors when all rows share it, else the rows' {@link LoraSlots} (through the native kernel
   * unless {@code -Dlorastream.kernels=off}).
   */
  private static double stepMillis(CausalLm lm, int[] prompt, List<LoraAdapter> adapters, int iterations) {
    int rows = adapters.size();
    long[] tokens = new long[rows * prompt.length];
    for (int r = 0; r < rows; r++) {
      for (int t = 0; t < prompt.length; t++) {
        tokens[r * prompt.length + t] = prompt[t];
      }
    }
    try (NDManager m = lm.base().manager().newSubManager();
        CausalLm.KvCache cache = new CausalLm.KvCache(lm.base())) {
      RowLora lora;
      try (NDScope scope = new NDScope()) {
        boolean shared = adapters.stream().distinct().count() == 1;
        lora = shared
            ? RowLora.gather(lm.base(), adapters, m).keepOn(m)
            : new LoraSlots(lm.base(), m, true).rows(adapters, 0);
        lm.forwardRows(m.create(tokens).reshape(rows, prompt.length), lora, null, null, cache);
      }
      long[] next = new long[rows];
      int[] positions = new int[rows];
      return median(time(iterations, () -> {
        Arrays.fill(positions, cache.length());
        try (NDScope scope = new NDScope()) {
          return lm.forwardRows(m.create(next).reshape(rows, 1), lora, positions, null, cache).toFloatArray().length;
        }
      }));
    }
  }

  private static double[] time(int iterations, Supplier<?> body) {
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    for (int i = 0; i < Math.min(10, iterations); i++) {
      body.get();
    }
    double[] ms = new double[iterations];
    for (int i = 0; i < iterations; i++) {
      long t0 = threads.getCurrentThreadCpuTime();
      body.get();
      ms[i] = (threads.getCurrentThreadCpuTime() - t0) / 1e6;
    }
    return ms;
  }

  private static double median(double[] ms) {
    double[] sorted = ms.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  private static void print(String what, double[] ms) {
    System.out.printf("%-50s %8.3f%n", what, median(ms));
  }
}
