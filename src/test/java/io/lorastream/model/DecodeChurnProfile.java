package io.lorastream.model;

import ai.djl.pytorch.jni.JniUtils;
import io.lorastream.train.TrainerSettings;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a {@link DecodeBatch} costs while rows come and go, as in the gateway when many clients ask
 * for short answers: a batch kept at N rows (each its own tenant, or all one tenant, with the
 * trainer's default all-linear r 8 adapters on the shipped base) of 16-token greedy completions,
 * the first rows staggered so that about N/16 finish in every step; before each step, as many new
 * rows join as finished. Prints medians of the calling thread's CPU time in milliseconds for the
 * joining (prompt prefill included) and for the step (sampling, dropping finished rows, the
 * forward pass), with one intra-op thread so that a shared machine's load shows less. Not a test:
 * run it with
 * {@code OMP_NUM_THREADS=1 java -Dai.djl.pytorch.num_threads=1 -cp
 * target/test-classes:target/classes:target/lib/* io.lorastream.model.DecodeChurnProfile 30}.
 *
 * <p>With a second argument {@code kernel} it compares, for rows of distinct tenants, batches with
 * and without the native kernels (per-row LoRA, {@link NativeRowLora}, and decode attention,
 * {@link NativeAttention}), alternated in five rounds in this one process, and prints each
 * round's medians.
 */
public final class DecodeChurnProfile {
  private static final String PROMPT = "Question: How long do I have to return an item?\nAnswer:";

  private DecodeChurnProfile() {}

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
      System.out.printf("prompt %d tokens, %d iterations, medians of CPU ms%n", prompt.length, iterations);
      measure(lm, prompt, adapters, 64, true, 3 * iterations, true); // warms the JIT up for every build alike
      if (args.length > 1 && args[1].equals("kernel")) {
        CausalLm libtorchOnly = new CausalLm(base, false);
        measure(libtorchOnly, prompt, adapters, 64, true, 3 * iterations, false);
        compareKernel(lm, libtorchOnly, prompt, adapters, iterations);
        adapters.forEach(LoraAdapter::close);
        return;
      }
      System.out.println("rows  tenants | join   step   (rows joining per step)");
      for (int rows : new int[] {1, 8, 32, 64}) {
        for (boolean distinct : new boolean[] {true, false}) {
          double[] result = measure(lm, prompt, adapters, rows, distinct, iterations, true);
          System.out.printf("%4d  %7d | %6.2f %6.2f (%.1f)%n",
              rows, distinct ? rows : 1, result[0], result[1], result[2]);
        }
      }
      adapters.forEach(LoraAdapter::close);
    }
  }

  /** Rows of distinct tenants with and without the kernel, alternated; each round's medians. */
  private static void compareKernel(CausalLm lm, CausalLm libtorchOnly, int[] prompt, List<LoraAdapter> adapters,
      int iterations) {
    System.out.println("rows | kernel join+step | libtorch join+step | ratio (libtorch / kernel), per round");
    for (int rows : new int[] {8, 32, 64}) {
      StringBuilder line = new StringBuilder(String.format("%4d |", rows));
      for (int round = 0; round < 5; round++) {
        double[] on = measure(lm, prompt, adapters, rows, true, iterations, true);
        double[] off = measure(libtorchOnly, prompt, adapters, rows, true, iterations, false);
        line.append(String.format(" %.2f+%.2f %.2f+%.2f %.2fx |", on[0], on[1], off[0], off[1],
            (off[0] + off[1]) / (on[0] + on[1])));
      }
      System.out.println(line);
    }
  }

  /** {median ms of joining, median ms of a step, mean rows joining per step}. */
  private static double[] measure(CausalLm lm, int[] prompt, List<LoraAdapter> adapters, int rows,
      boolean distinct, int iterations, boolean kernel) {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    double[] joins = new double[iterations];
    double[] steps = new double[iterations];
    long joined = 0;
    int next = 0;
    try (DecodeBatch batch = new DecodeBatch(lm, kernel)) {
      List<GenerationRequest> first = new ArrayList<>();
      for (int r = 0; r < rows; r++) {
        first.add(request(prompt, adapters.get(distinct ? next++ % 64 : 0), 1 + r % 16));
      }
      batch.addAll(first);
      int warmup = 20;
      for (int i = -warmup; i < iterations; i++) {
        long t0 = threads.getCurrentThreadCpuTime();
        List<GenerationRequest> joining = new ArrayList<>();
        while (batch.size() + joining.size() < rows) {
          joining.add(request(prompt, adapters.get(distinct ? next++ % 64 : 0), 16));
        }
        if (!joining.isEmpty()) {
          batch.addAll(joining);
        }
        long t1 = threads.getCurrentThreadCpuTime();
        batch.step();
        long t2 = threads.getCurrentThreadCpuTime();
        if (i >= 0) {
          joins[i] = (t1 - t0) / 1e6;
          steps[i] = (t2 - t1) / 1e6;
          joined += joining.size();
        }
      }
    }
    return new double[] {median(joins), median(steps), (double) joined / iterations};
  }

  private static GenerationRequest request(int[] prompt, LoraAdapter adapter, int maxTokens) {
    return new GenerationRequest(prompt, adapter, SamplingParams.greedy(maxTokens));
  }

  private static double median(double[] ms) {
    double[] sorted = ms.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
