package io.lorastream.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lorastream.model.BaseModel;
import io.lorastream.model.CausalLm;
import io.lorastream.model.DecodeBatch;
import io.lorastream.model.GenerationRequest;
import io.lorastream.model.Generator;
import io.lorastream.model.LlamaConfig;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.LoraModule;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.SafeTensors;
import io.lorastream.model.SamplingParams;
import io.lorastream.model.TrainingPair;
import io.lorastream.model.TrainingSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Suite "model": the model code alone (no Kafka, no HTTP), against plain PyTorch running the same
 * model in the same run ({@code load-tests/reference/bench_reference.py}).
 *
 * <p>On lorastream-tiny and on a larger Llama with random weights (hidden 512, intermediate 1376,
 * 8 layers, 8 heads / 4 kv heads, vocab 768) it measures, at 1 and at 2 intra-op threads on both
 * sides, and reports each side's best setting (a fair baseline is the best of PyTorch's thread
 * settings; the note lists every one):
 *
 * <ul>
 *   <li>a LoRA training step (r 8 on q and v; forward, backward, clipping, AdamW) on 8 x 128
 *       tokens, in tokens/s, and its achieved GFLOP/s as a share of a 1024^3 fp32 matmul's GFLOP/s
 *       through DJL measured in the same run;
 *   <li>prefill of one 128-token prompt into an empty KV cache, in tokens/s;
 *   <li>greedy decoding of 32 tokens per row with a KV cache after a 128-token prompt, batch 1 and
 *       batch 8 ({@link DecodeBatch}; the prompts' prefill is not timed), in generated tokens/s.
 * </ul>
 *
 * Medians over the timed iterations after warm-up; the note gives the minimum too. Each timed
 * operation first runs for its warm-up count and at least {@code warmUpMs} (1.5 s with
 * {@code --quick}, else 5 s) on both sides, so that the JVM has compiled the per-token Java code
 * before timing, as it has in a running server: without it, the few iterations of a quick run
 * timed mostly interpreted Java around each native call.
 */
public final class ModelBench implements BenchSuite {
  private static final Logger log = LoggerFactory.getLogger(ModelBench.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  static final int BATCH = 8;
  static final int SEQ = 128;
  static final int PROMPT = 128;
  static final int DECODE_TOKENS = 32;
  static final int[] DECODE_BATCHES = {1, 8};
  static final int[] THREADS = {1, 2};

  /** The larger shape, with random weights: about 24M parameters. */
  static final LlamaConfig LARGER =
      new LlamaConfig(768, 512, 1376, 8, 8, 4, 1e-5, 10000.0, 512, false, 1, 2);

  private final Path tinyDir;
  private final Path script;
  private final String python;

  public ModelBench() {
    this(
        Path.of(env("LORASTREAM_BENCH_MODEL", "models/lorastream-tiny")),
        Path.of("load-tests/reference/bench_reference.py"),
        env("LORASTREAM_BENCH_PYTHON", "/usr/bin/python3"));
  }

  ModelBench(Path tinyDir, Path script, String python) {
    this.tinyDir = tinyDir;
    this.script = script;
    this.python = python;
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }

  @Override
  public String name() {
    return "model";
  }

  /** Iteration counts of one run. */
  record Plan(int trainWarmup, int trainIters, int inferIters, int matmulIters) {
    static Plan of(boolean quick, boolean larger) {
      if (quick) {
        return larger ? new Plan(1, 2, 2, 5) : new Plan(1, 5, 3, 5);
      }
      return larger ? new Plan(2, 8, 5, 10) : new Plan(3, 15, 8, 10);
    }
  }

  @Override
  public List<Figure> run(boolean quick) throws Exception {
    List<Figure> figures = new ArrayList<>();
    loopBudgetMs = quick ? 3_000 : 20_000;
    warmUpMs = quick ? 1_500 : 5_000;
    Engine engine = Engine.getInstance(); // loads the native library
    int defaultThreads = JniUtils.getNumThreads();
    String load = loadAverage();
    log.info("model bench: device {}, precision {}, DJL threads {}, load {}", engine.defaultDevice(),
        io.lorastream.model.Precision.configured(), defaultThreads, load);
    try {
      int matmulIters = Plan.of(quick, false).matmulIters();
      double[] matmul = new double[THREADS.length];
      measureMatmul(matmul, matmulIters);
      List<Figure> modelFigures = new ArrayList<>();
      modelFigures.addAll(model("tiny", tinyDir, Plan.of(quick, false)));
      Path larger = Files.createTempDirectory("lorastream-bench-");
      try {
        writeRandomModel(LARGER, larger, tinyDir.resolve("tokenizer.json"), 7);
        modelFigures.addAll(model("llama512x8", larger, Plan.of(quick, true)));
      } finally {
        deleteTree(larger);
      }
      measureMatmul(matmul, matmulIters); // again at the end: the best of both is the peak
      double peak = Arrays.stream(matmul).max().orElseThrow();
      StringBuilder perThreads = new StringBuilder();
      for (int i = 0; i < THREADS.length; i++) {
        perThreads.append(String.format(Locale.ROOT, " %dt %.0f", THREADS[i], matmul[i]));
      }
      figures.add(Figure.of("matmul_1024_gflops", peak, "GFLOP/s",
          "fp32 1024x1024x1024 NDArray matmul through DJL, best of " + matmulIters + " at the start and "
              + matmulIters + " at the end of the run, best thread setting (" + perThreads.toString().trim()
              + "); the peak the training GFLOP/s are a share of"));
      for (Figure f : modelFigures) {
        if (f.metric().startsWith("train_gflops_")) {
          f = new Figure(f.metric(), f.value(), f.unit(), peak, f.value() / peak, f.note());
        }
        figures.add(f);
      }
    } finally {
      JniUtils.setNumThreads(defaultThreads);
    }
    String after = loadAverage();
    figures.add(Figure.of("load_average", parseLoad(after), "1-min load",
        "load before: " + load + "; after: " + after + " (" + Runtime.getRuntime().availableProcessors()
            + " cores; figures taken under other load are noisy, ratios less so)"));
    return figures;
  }

  // ---- one model --------------------------------------------------------------------------

  /** Times of one side at one thread count, in ms. */
  record Times(int threads, double[] train, double[] prefill, Map<Integer, double[]> decode) {}

  private List<Figure> model(String label, Path dir, Plan plan) throws Exception {
    List<Times> djl = new ArrayList<>();
    LlamaConfig config;
    try (BaseModel base = BaseModel.load(dir)) {
      config = base.config();
      for (int threads : THREADS) {
        JniUtils.setNumThreads(threads);
        log.info("{}: lorastream at {} threads", label, threads);
        djl.add(measureDjl(base, plan));
      }
    }
    List<Times> torch = new ArrayList<>();
    String torchProblem = null;
    for (int threads : THREADS) {
      log.info("{}: PyTorch reference at {} threads", label, threads);
      try {
        torch.add(measureTorch(dir, threads, plan));
      } catch (Exception e) {
        torchProblem = e.getMessage();
        log.warn("{}: no PyTorch baseline: {}", label, torchProblem);
        torch.clear();
        break;
      }
    }
    String why = torchProblem == null ? "" : "no PyTorch baseline (" + torchProblem + "); ";

    List<Figure> out = new ArrayList<>();
    long tokens = (long) BATCH * SEQ;
    double flops = trainingFlops(config, LoraConfig.defaults(), BATCH, SEQ);

    Best dTrain = best(djl, t -> t.train, tokens);
    Best pTrain = torch.isEmpty() ? null : best(torch, t -> t.train, tokens);
    out.add(figure("train_tokens_per_s_" + label, dTrain, pTrain, "tokens/s",
        why + "LoRA r8 q,v step (fwd+bwd+clip+AdamW), batch " + BATCH + "x" + SEQ + "; lorastream (DJL) vs "
            + "PyTorch eager fp32 (bench_reference.py), each at its best of 1/2 threads" + torchExtra(torch)));
    double achieved = flops / (dTrain.medianMs / 1000.0) / 1e9;
    out.add(new Figure("train_gflops_" + label, achieved, "GFLOP/s", null, null, // baseline: the matmul peak
        String.format(Locale.ROOT,
            "%.1f GFLOP per step counted analytically (ModelBench.trainingFlops: 4 x frozen linear params x"
                + " tokens + 6 x LoRA params x tokens + 12 x B x T^2 x d per layer for attention) at the"
                + " median step, best thread setting; ratio = share of the DJL matmul peak", flops / 1e9)));

    Best dPrefill = best(djl, t -> t.prefill, PROMPT);
    Best pPrefill = torch.isEmpty() ? null : best(torch, t -> t.prefill, PROMPT);
    out.add(figure("prefill_tokens_per_s_" + label, dPrefill, pPrefill, "tokens/s",
        why + "one " + PROMPT + "-token prompt into an empty KV cache + greedy pick (Generator, max 1 token)"
            + " vs PyTorch with its own KV cache"));
    for (int b : DECODE_BATCHES) {
      Best dDecode = best(djl, t -> t.decode.get(b), (long) b * DECODE_TOKENS);
      Best pDecode = torch.isEmpty() ? null : best(torch, t -> t.decode.get(b), (long) b * DECODE_TOKENS);
      out.add(figure("decode_tokens_per_s_b" + b + "_" + label, dDecode, pDecode, "tokens/s",
          why + "greedy, " + DECODE_TOKENS + " tokens per row after a " + PROMPT + "-token prompt, batch " + b
              + " (DecodeBatch, per-row LoRA) vs PyTorch with a KV cache (no recompute, one adapter)"));
    }
    return out;
  }

  /** PyTorch's own matmul rate: shows which BLAS it runs on (the reference BLAS makes ~6 GFLOP/s). */
  private String torchExtra(List<Times> torch) {
    if (torch.isEmpty()) {
      return "";
    }
    StringBuilder s = new StringBuilder("; PyTorch's 1024^3 matmul:");
    lastTorchMatmul.forEach((t, g) -> s.append(String.format(Locale.ROOT, " %dt %.0f GFLOP/s", t, g)));
    return s.toString();
  }

  /** The best thread setting of one side for one measurement. */
  record Best(int threads, double medianMs, double minMs, long items, String all) {
    double rate() {
      return items / (medianMs / 1000.0);
    }
  }

  private static Best best(List<Times> sides, java.util.function.Function<Times, double[]> pick, long items) {
    Best best = null;
    StringBuilder all = new StringBuilder();
    for (Times t : sides) {
      double[] ms = pick.apply(t);
      double median = median(ms);
      double min = Arrays.stream(ms).min().orElse(Double.NaN);
      all.append(String.format(Locale.ROOT, "%s%dt median %.1f ms min %.1f ms",
          all.length() == 0 ? "" : ", ", t.threads, median, min));
      if (best == null || median < best.medianMs) {
        best = new Best(t.threads, median, min, items, null);
      }
    }
    return new Best(best.threads, best.medianMs, best.minMs, items, all.toString());
  }

  private static Figure figure(String metric, Best mine, Best theirs, String unit, String what) {
    String note = what + "; lorastream " + mine.threads + "t best [" + mine.all + "]";
    if (theirs == null) {
      return Figure.of(metric, mine.rate(), unit, note);
    }
    note += "; PyTorch " + theirs.threads + "t best [" + theirs.all + "]";
    return Figure.against(metric, mine.rate(), theirs.rate(), unit, note);
  }

  // ---- lorastream side --------------------------------------------------------------------

  private Times measureDjl(BaseModel base, Plan plan) {
    LlamaConfig c = base.config();
    TrainingSettings settings = TrainingSettings.defaults().withMaxSequenceLength(SEQ + 1);
    List<TrainingPair> batch = trainingBatch(base, new SplittableRandom(11));
    double[] train;
    LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 3);
    try (LoraTrainer trainer = new LoraTrainer(base, adapter, settings)) {
      train = timed(plan.trainWarmup(), plan.trainIters(), () -> trainer.step(batch));
    }
    try {
      SplittableRandom random = new SplittableRandom(5);
      int[] prompt = randomIds(random, c.vocabSize(), PROMPT);
      Generator generator = new Generator(base);
      double[] prefill = timed(1, plan.inferIters(), () -> generator.generate(prompt, adapter, 1).tokenIds().length);
      Map<Integer, double[]> decode = new LinkedHashMap<>();
      CausalLm lm = new CausalLm(base);
      for (int b : DECODE_BATCHES) {
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < b; i++) {
          prompts.add(randomIds(random, c.vocabSize(), PROMPT));
        }
        double[] runs = new double[plan.inferIters()];
        int done = 0;
        long warmUntil = System.nanoTime() + (long) (warmUpMs * 1e6);
        boolean warming = true; // the first run, and more until warmUpMs have passed
        while (done < plan.inferIters()) {
          if (done >= 2 && Arrays.stream(runs, 0, done).sum() > loopBudgetMs) {
            break;
          }
          try (DecodeBatch decoding = new DecodeBatch(lm)) {
            for (int[] p : prompts) {
              decoding.add(new GenerationRequest(p, adapter, SamplingParams.greedy(DECODE_TOKENS)));
            }
            long generated = 0;
            long t0 = System.nanoTime();
            while (!decoding.isEmpty()) {
              for (DecodeBatch.Update u : decoding.step()) {
                generated += u.tokens().length;
              }
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            if (generated != (long) b * DECODE_TOKENS) {
              // Ended early on eos: scale to the tokens the baseline generates.
              ms = ms * b * DECODE_TOKENS / Math.max(1, generated);
              log.warn("decode batch {} generated {} tokens, not {}: time scaled", b, generated, b * DECODE_TOKENS);
            }
            if (warming) {
              warming = System.nanoTime() < warmUntil;
            } else {
              runs[done++] = ms;
            }
          }
        }
        decode.put(b, Arrays.copyOf(runs, done));
      }
      return new Times(JniUtils.getNumThreads(), train, prefill, decode);
    } finally {
      adapter.close();
    }
  }

  /** Pairs whose [bos] + completion is cut to exactly SEQ + 1 tokens: SEQ inputs, every target counted. */
  static List<TrainingPair> trainingBatch(BaseModel base, SplittableRandom random) {
    return trainingBatch(base, BATCH, SEQ, random);
  }

  /**
   * {@code rows} pairs of random words, each long enough that [bos] + completion, cut to
   * {@code tokens} + 1, has {@code tokens} inputs and every target counted.
   */
  public static List<TrainingPair> trainingBatch(BaseModel base, int rows, int tokens, SplittableRandom random) {
    List<TrainingPair> pairs = new ArrayList<>();
    for (int b = 0; b < rows; b++) {
      StringBuilder text = new StringBuilder();
      while (base.tokenizer().encode(text.toString()).length < tokens + 8) {
        for (int i = 0; i < 64; i++) {
          int n = 2 + random.nextInt(8);
          for (int k = 0; k < n; k++) {
            text.append((char) ('a' + random.nextInt(26)));
          }
          text.append(' ');
        }
      }
      pairs.add(new TrainingPair("", text.toString()));
    }
    return pairs;
  }

  private static int[] randomIds(SplittableRandom random, int vocab, int n) {
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = 3 + random.nextInt(vocab - 3);
    }
    return ids;
  }

  private static void measureMatmul(double[] best, int iters) {
    for (int i = 0; i < THREADS.length; i++) {
      JniUtils.setNumThreads(THREADS[i]);
      best[i] = Math.max(best[i], matmulGflops(iters));
    }
  }

  private static double matmulGflops(int iters) {
    try (NDManager m = NDManager.newBaseManager(BaseModel.configuredDevice())) {
      NDArray a = m.randomNormal(new Shape(1024, 1024));
      NDArray b = m.randomNormal(new Shape(1024, 1024));
      double[] ms = timed(2, iters, () -> {
        try (NDArray c = a.matMul(b); NDArray corner = c.get(0, 0)) {
          return corner.getFloat(); // reads back: waits for the product on an asynchronous device
        }
      });
      double best = Arrays.stream(ms).min().orElseThrow();
      return 2.0 * 1024 * 1024 * 1024 / (best / 1000.0) / 1e9;
    }
  }

  // ---- PyTorch side -----------------------------------------------------------------------

  private Times measureTorch(Path dir, int threads, Plan plan) throws Exception {
    if (!Files.isRegularFile(script)) {
      throw new IOException(script + " not found (run from the repository root)");
    }
    if (!Files.isExecutable(Path.of(python))) {
      throw new IOException(python + " not found (Debian: apt-get install python3-torch python3-numpy)");
    }
    List<String> command = List.of(python, script.toString(), "--model", dir.toString(),
        "--threads", String.valueOf(threads), "--batch", String.valueOf(BATCH), "--seq", String.valueOf(SEQ),
        "--prompt", String.valueOf(PROMPT), "--decode-tokens", String.valueOf(DECODE_TOKENS),
        "--decode-batches", "1,8", "--warmup", String.valueOf(plan.trainWarmup()),
        "--iters", String.valueOf(plan.trainIters()), "--infer-iters", String.valueOf(plan.inferIters()),
        "--budget-ms", String.valueOf(loopBudgetMs), "--warmup-ms", String.valueOf(warmUpMs));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
    pb.environment().put("OPENBLAS_NUM_THREADS", String.valueOf(threads));
    pb.environment().put("MKL_NUM_THREADS", String.valueOf(threads));
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    Process process = pb.start();
    byte[] stdout = process.getInputStream().readAllBytes();
    if (!process.waitFor(600, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IOException("reference script timed out");
    }
    if (process.exitValue() != 0) {
      throw new IOException("reference script exited with " + process.exitValue()
          + " (is python3-torch installed?)");
    }
    JsonNode root = JSON.readTree(new String(stdout, StandardCharsets.UTF_8));
    double blas = root.path("matmul_1024_gflops").asDouble(Double.NaN);
    log.info("PyTorch {} at {} threads: 1024^3 matmul {} GFLOP/s", root.path("torch").asText(), threads,
        String.format(Locale.ROOT, "%.0f", blas));
    lastTorchMatmul.put(threads, blas);
    Map<Integer, double[]> decode = new LinkedHashMap<>();
    for (int b : DECODE_BATCHES) {
      decode.put(b, doubles(root.path("decode_ms").path(String.valueOf(b))));
    }
    return new Times(threads, doubles(root.path("train_ms")), doubles(root.path("prefill_ms")), decode);
  }

  private final Map<Integer, Double> lastTorchMatmul = new LinkedHashMap<>();

  private static double[] doubles(JsonNode array) throws IOException {
    if (!array.isArray() || array.isEmpty()) {
      throw new IOException("reference script printed no timings");
    }
    double[] out = new double[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asDouble();
    }
    return out;
  }

  // ---- FLOPs --------------------------------------------------------------------------------

  /**
   * Floating-point operations of one LoRA training step, counted analytically (multiply-adds as
   * 2). With N = batch x time tokens:
   *
   * <ul>
   *   <li>frozen linear layers (q, k, v, o, gate, up, down of every layer, and the head), P
   *       parameters: forward 2 N P, backward 2 N P for the gradients of their inputs only. The base
   *       weights are frozen, so no weight gradient (the third 2 N P of the usual 6 N P) is
   *       computed; layer 0's q, k, v take no input gradient (the embedding is frozen too), so
   *       their share of the backward is left out;
   *   <li>LoRA factors, p parameters (r (in + out) per adapted projection): 2 N p forward, 4 N p
   *       backward (gradients of A, B and of the inputs): 6 N p;
   *   <li>attention per layer: Q K^T and softmax(.) V, 2 x 2 B H T^2 hd forward over the full
   *       T x T square (eager attention computes the masked half too), twice that backward:
   *       12 B T^2 H hd.
   * </ul>
   *
   * Norms, rotary embedding, softmax, SwiGLU and the optimizer are not counted (a few percent).
   */
  static double trainingFlops(LlamaConfig c, LoraConfig lora, int batch, int time) {
    double n = (double) batch * time;
    double perLayer = 0;
    double layer0NoInputGrad = 0;
    double loraParams = 0;
    for (LoraModule m : LoraModule.values()) {
      double p = (double) m.inFeatures(c) * m.outFeatures(c);
      perLayer += p;
      if (m == LoraModule.Q_PROJ || m == LoraModule.K_PROJ || m == LoraModule.V_PROJ) {
        layer0NoInputGrad += p;
      }
      if (lora.targets(m)) {
        loraParams += (double) lora.rank() * (m.inFeatures(c) + m.outFeatures(c));
      }
    }
    double frozen = perLayer * c.numHiddenLayers() + (double) c.vocabSize() * c.hiddenSize();
    double linear = 2 * n * frozen + 2 * n * (frozen - layer0NoInputGrad);
    double loraFlops = 6 * n * loraParams * c.numHiddenLayers();
    double attention = 12.0 * batch * time * time * c.numAttentionHeads() * c.headDim() * c.numHiddenLayers();
    return linear + loraFlops + attention;
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** Budget of one timed loop: after it, the loop stops once two iterations are in (keeps --quick short). */
  private static volatile double loopBudgetMs = 20_000;

  /** Least time each timed operation runs before timing, on both sides. */
  private static volatile double warmUpMs = 5_000;

  private static double[] timed(int warmup, int iters, DoubleSupplier body) {
    double sink = 0;
    long warmUntil = System.nanoTime() + (long) (warmUpMs * 1e6);
    for (int i = 0; i < warmup || System.nanoTime() < warmUntil; i++) {
      sink += body.getAsDouble();
    }
    double[] ms = new double[iters];
    double spent = 0;
    int done = 0;
    while (done < iters && (done < 2 || spent < loopBudgetMs)) {
      long t0 = System.nanoTime();
      sink += body.getAsDouble();
      ms[done] = (System.nanoTime() - t0) / 1e6;
      spent += ms[done++];
    }
    if (sink == Double.MIN_VALUE) {
      log.trace("{}", sink);
    }
    return Arrays.copyOf(ms, done);
  }

  static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  /** Writes config.json, model.safetensors (N(0, 0.02), head N(0, 1/dim)) and a copy of tokenizerJson. */
  static void writeRandomModel(LlamaConfig c, Path dir, Path tokenizerJson, long seed) throws IOException {
    Files.createDirectories(dir);
    c.write(dir.resolve("config.json"));
    Files.copy(tokenizerJson, dir.resolve("tokenizer.json"));
    try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu())) {
      Engine.getInstance().setRandomSeed((int) seed);
      Map<String, NDArray> tensors = new LinkedHashMap<>();
      int dim = c.hiddenSize();
      tensors.put("model.embed_tokens.weight", m.randomNormal(0f, 0.02f, new Shape(c.vocabSize(), dim),
          DataType.FLOAT32));
      for (int l = 0; l < c.numHiddenLayers(); l++) {
        String p = "model.layers." + l + ".";
        for (LoraModule mod : LoraModule.values()) {
          tensors.put(mod.baseWeightName(l), m.randomNormal(0f, 0.02f,
              new Shape(mod.outFeatures(c), mod.inFeatures(c)), DataType.FLOAT32));
        }
        tensors.put(p + "input_layernorm.weight", m.ones(new Shape(dim)));
        tensors.put(p + "post_attention_layernorm.weight", m.ones(new Shape(dim)));
      }
      tensors.put("model.norm.weight", m.ones(new Shape(dim)));
      tensors.put("lm_head.weight", m.randomNormal(0f, (float) (1.0 / Math.sqrt(dim)),
          new Shape(c.vocabSize(), dim), DataType.FLOAT32));
      SafeTensors.write(dir.resolve(SafeTensors.SINGLE_FILE), tensors);
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }

  private static double parseLoad(String loadavg) {
    try {
      return Double.parseDouble(loadavg.split("\\s+")[0]);
    } catch (RuntimeException e) {
      return Double.NaN;
    }
  }
}
