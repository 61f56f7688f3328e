package io.lorastream.model.pretrain;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.lorastream.model.BaseModel;
import io.lorastream.model.Precision;
import io.lorastream.model.ByteLevelBpe;
import io.lorastream.model.Generator;
import io.lorastream.model.LlamaConfig;
import io.lorastream.model.LoraModule;
import io.lorastream.model.SafeTensors;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * How lorastream-tiny is made, end to end: a customer-service corpus from the seed, a byte-level
 * BPE tokenizer learned on it, a randomly initialised Llama of {@link #CONFIG}, and
 * {@link BasePretrainer} on packed rows of the corpus for a fixed number of steps. The same seed
 * and step count give the same files (on the same engine and thread count).
 */
public final class TinyBaseRecipe {
  /**
   * vocab 768 (3 specials, 256 bytes, 509 merges), dim 192, SwiGLU 512, 4 layers, 6 query heads
   * of 32 over 2 key/value heads (grouped-query attention), 512 positions, untied head:
   * 1.87 M parameters, 7.5 MB in F32.
   */
  public static final LlamaConfig CONFIG =
      new LlamaConfig(768, 192, 512, 4, 6, 2, 1e-5, 10000.0, 512, false, 1, 2);

  public static final int TRAIN_DOCUMENTS = 40_000;
  public static final int HELD_OUT_DOCUMENTS = 1_000;
  /** Held-out rows (of the training row length) on which loss is reported before and after. */
  public static final int HELD_OUT_ROWS = 64;

  private static final double INIT_STD = 0.02;

  /**
   * 1000 steps of 8 rows x 128 tokens (1 M tokens, less than half of the corpus: the templates
   * repeat, so a sample of them teaches the shapes), lr 3e-3 after 100 warm-up steps, cosine to
   * 3e-4, weight decay 0.1, clip 1. About 3.5 minutes on 2 cores. With 300 steps the base already
   * tells the fact wordings apart but still garbles slot values ("Nimbend"), and tenants' adapters
   * raised the canary loss more (+14% instead of -1% after 200 examples in {@code TuningTrial}).
   */
  public static BasePretrainer.Settings defaultSettings(long seed) {
    return new BasePretrainer.Settings(1000, 8, 128, 3e-3f, 3e-4f, 100, 0.1f, 1f, seed);
  }

  /** What a run did, for the log and the model card. */
  public record Report(
      BasePretrainer.Settings settings,
      long stepsDone,
      float heldOutLossBefore,
      float heldOutLossAfter,
      float trainLossFirst, // mean of the first 20 steps
      float trainLossLast, // mean of the last 20 steps
      double seconds,
      int corpusBytes,
      String weightsSha256) {}

  private TinyBaseRecipe() {}

  /**
   * Writes config.json, tokenizer.json and model.safetensors into {@code outDir} and trains.
   *
   * @param maxSeconds stop after this much wall time even before {@code settings.steps()}
   *     (0: no limit); a run stopped early is reproducible only by its step count
   */
  public static Report run(
      Path outDir, BasePretrainer.Settings settings, double maxSeconds, Consumer<String> log) {
    long seed = settings.seed();
    List<String> train = new CustomerServiceCorpus(seed).documents(TRAIN_DOCUMENTS);
    List<String> heldOut =
        new CustomerServiceCorpus(seed ^ 0x5DEECE66DL).documents(HELD_OUT_DOCUMENTS);
    int corpusBytes = train.stream().mapToInt(s -> s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1).sum();
    log.accept(String.format("corpus: %d documents, %.2f MB", train.size(), corpusBytes / 1e6));

    List<String> merges = BpeTrainer.train(train, CONFIG.vocabSize());
    try {
      Files.createDirectories(outDir);
      ByteLevelBpe.writeTokenizerJson(outDir.resolve("tokenizer.json"), merges);
      CONFIG.write(outDir.resolve("config.json"));
      writeInitialWeights(outDir, initialWeights(seed));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + outDir, e);
    }
    log.accept("tokenizer: " + merges.size() + " merges");

    long started = System.nanoTime();
    // Pretraining updates the F32 tensors themselves: never in a half precision.
    try (BaseModel base = BaseModel.load(outDir, BaseModel.configuredDevice(), Precision.F32)) {
      List<int[]> trainIds = encode(base, train);
      List<int[]> heldOutIds = encode(base, heldOut);
      long tokens = trainIds.stream().mapToLong(a -> a.length + 2L).sum();
      log.accept(String.format("corpus: %d tokens (%.2f bytes per token)", tokens, corpusBytes / (double) tokens));
      long[] heldOutRows =
          new PackedBatches(heldOutIds, CONFIG.bosTokenId(), CONFIG.eosTokenId(),
                  settings.sequenceLength(), seed + 1)
              .next(HELD_OUT_ROWS);
      PackedBatches batches =
          new PackedBatches(trainIds, CONFIG.bosTokenId(), CONFIG.eosTokenId(),
              settings.sequenceLength(), seed);
      float before;
      float after;
      float[] losses = new float[settings.steps()];
      int done = 0;
      try (BasePretrainer trainer = new BasePretrainer(base, settings)) {
        before = heldOutLoss(trainer, heldOutRows, settings.batchSize());
        log.accept(String.format("held-out loss before: %.4f", before));
        long t0 = System.nanoTime();
        while (done < settings.steps()) {
          losses[done] = trainer.step(batches.next(settings.batchSize()));
          done++;
          double elapsed = (System.nanoTime() - t0) / 1e9;
          if (done % 50 == 0 || done == settings.steps()) {
            log.accept(String.format("step %d/%d loss %.4f lr %.2e (%.2f s/step)",
                done, settings.steps(), losses[done - 1], settings.learningRate(done), elapsed / done));
          }
          if (maxSeconds > 0 && elapsed > maxSeconds) {
            log.accept("time limit reached after " + done + " steps");
            break;
          }
        }
        after = heldOutLoss(trainer, heldOutRows, settings.batchSize());
        log.accept(String.format("held-out loss after: %.4f", after));
      }
      writeWeights(outDir, base.tensors());
      double seconds = (System.nanoTime() - started) / 1e9;
      return new Report(settings, done, before, after, mean(losses, 0, Math.min(20, done)),
          mean(losses, Math.max(0, done - 20), done), seconds, corpusBytes,
          sha256(outDir.resolve(SafeTensors.SINGLE_FILE)));
    }
  }

  private static float heldOutLoss(BasePretrainer trainer, long[] rows, int batch) {
    int width = trainer.settings().sequenceLength() + 1;
    int count = rows.length / width;
    double sum = 0;
    for (int r = 0; r < count; r += batch) {
      int n = Math.min(batch, count - r);
      long[] part = java.util.Arrays.copyOfRange(rows, r * width, (r + n) * width);
      sum += trainer.loss(part) * n;
    }
    return (float) (sum / count);
  }

  private static float mean(float[] values, int from, int to) {
    double sum = 0;
    for (int i = from; i < to; i++) {
      sum += values[i];
    }
    return to > from ? (float) (sum / (to - from)) : Float.NaN;
  }

  private static List<int[]> encode(BaseModel base, List<String> documents) {
    List<int[]> out = new ArrayList<>(documents.size());
    for (String d : documents) {
      out.add(base.tokenizer().encode(d));
    }
    return out;
  }

  /**
   * N(0, 0.02) for embeddings, projections and head, with the residual outputs (o_proj,
   * down_proj) scaled by 1/sqrt(2 layers) as GPT-2 does; norms start at 1. Drawn from a Java
   * random source: independent of the engine.
   */
  static Map<String, float[]> initialWeights(long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    LlamaConfig c = CONFIG;
    double residualStd = INIT_STD / Math.sqrt(2.0 * c.numHiddenLayers());
    Map<String, float[]> out = new LinkedHashMap<>();
    out.put("model.embed_tokens.weight", normal(random, c.vocabSize() * c.hiddenSize(), INIT_STD));
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      for (LoraModule m : LoraModule.values()) {
        double std = m == LoraModule.O_PROJ || m == LoraModule.DOWN_PROJ ? residualStd : INIT_STD;
        out.put(m.baseWeightName(l), normal(random, m.outFeatures(c) * m.inFeatures(c), std));
      }
      out.put("model.layers." + l + ".input_layernorm.weight", ones(c.hiddenSize()));
      out.put("model.layers." + l + ".post_attention_layernorm.weight", ones(c.hiddenSize()));
    }
    out.put("model.norm.weight", ones(c.hiddenSize()));
    out.put("lm_head.weight", normal(random, c.vocabSize() * c.hiddenSize(), INIT_STD));
    return out;
  }

  /** Shape of a weight of {@link #CONFIG} by checkpoint name. */
  private static Shape shapeOf(String name) {
    LlamaConfig c = CONFIG;
    if (name.endsWith("norm.weight")) {
      return new Shape(c.hiddenSize());
    }
    if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
      return new Shape(c.vocabSize(), c.hiddenSize());
    }
    for (LoraModule m : LoraModule.values()) {
      if (name.endsWith(m.moduleName() + ".weight")) {
        return new Shape(m.outFeatures(c), m.inFeatures(c));
      }
    }
    throw new IllegalArgumentException("unknown weight " + name);
  }

  private static void writeInitialWeights(Path outDir, Map<String, float[]> weights) {
    try (NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> arrays = new LinkedHashMap<>();
      weights.forEach((name, values) -> arrays.put(name, manager.create(values, shapeOf(name))));
      writeWeights(outDir, arrays);
    }
  }

  /** Writes next to the target and renames, so a reader never sees half a file. */
  private static void writeWeights(Path outDir, Map<String, NDArray> weights) {
    Path target = outDir.resolve(SafeTensors.SINGLE_FILE);
    Path partial = outDir.resolve(SafeTensors.SINGLE_FILE + ".partial");
    SafeTensors.write(partial, weights);
    try {
      Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot move " + partial + " to " + target, e);
    }
  }

  private static float[] normal(SplittableRandom random, int n, double std) {
    float[] values = new float[n];
    for (int i = 0; i < n; i += 2) {
      double u1 = 1.0 - random.nextDouble(); // (0, 1]: log is finite
      double u2 = random.nextDouble();
      double radius = Math.sqrt(-2.0 * Math.log(u1)) * std;
      values[i] = (float) (radius * Math.cos(2 * Math.PI * u2));
      if (i + 1 < n) {
        values[i + 1] = (float) (radius * Math.sin(2 * Math.PI * u2));
      }
    }
    return values;
  }

  private static float[] ones(int n) {
    float[] values = new float[n];
    java.util.Arrays.fill(values, 1f);
    return values;
  }

  /** Prompts whose greedy continuations the model card shows. */
  public static final List<String> SAMPLE_PROMPTS = List.of(
      "Question: How long do I have to return an item?\nAnswer:",
      "Question: When is support open?\nAnswer:",
      "Question: How much is shipping?\nAnswer:",
      "Question: Who am I talking to?\nAnswer:",
      "Question: Where is my order?\nAnswer:",
      "Question: My desk lamp arrived damaged.\nAnswer:",
      "Customer: Hi!\nAgent:");

  /** Greedy continuations (at most 60 tokens) of {@link #SAMPLE_PROMPTS} by the model in {@code dir}. */
  public static List<String> samples(Path dir) {
    List<String> out = new ArrayList<>();
    try (BaseModel base = BaseModel.load(dir)) {
      Generator generator = new Generator(base);
      for (String prompt : SAMPLE_PROMPTS) {
        out.add(generator.generate(prompt, null, 60).text());
      }
    }
    return out;
  }

  /** Writes README.md: how the model was made, its losses, samples and digest. */
  public static void writeModelCard(Path dir, Report r, String command) {
    BasePretrainer.Settings s = r.settings();
    List<String> samples = samples(dir);
    StringBuilder b = new StringBuilder();
    b.append("# lorastream-tiny\n\n");
    b.append("A small Llama-architecture base model (LlamaForCausalLM layout, F32 safetensors) trained from\n")
        .append("scratch by lorastream itself, so that demos and tests run on a model that writes sensible\n")
        .append("customer-service English while each tenant's LoRA adapter adds that tenant's facts.\n\n");
    b.append("## How it was made\n\n```\n").append(command).append("\n```\n\n");
    b.append("- Corpus: `CustomerServiceCorpus` with seed ").append(s.seed()).append(", ")
        .append(TRAIN_DOCUMENTS).append(" documents (").append(String.format("%.2f", r.corpusBytes() / 1e6))
        .append(" MB): question/answer pairs (`Question: ...\\nAnswer: ...`), customer/agent dialogues and\n")
        .append("  support e-mails from templates. Shop facts (name, product line, return window, hours,\n")
        .append("  shipping fee, escalation e-mail) are slots with many values, asked in every question\n")
        .append("  wording and answer shape of `FactWordings`; no value of a quality-dataset tenant occurs.\n");
    b.append("- Tokenizer: byte-level BPE learned on that corpus by `BpeTrainer`: `<unk>`=0, `<s>`=1,\n")
        .append("  `</s>`=2, bytes 3-258, ").append(CONFIG.vocabSize() - ByteLevelBpe.FIRST_MERGE_ID)
        .append(" merges; any UTF-8 text round-trips.\n");
    b.append("- Architecture: vocab ").append(CONFIG.vocabSize()).append(", hidden ").append(CONFIG.hiddenSize())
        .append(", SwiGLU ").append(CONFIG.intermediateSize()).append(", ").append(CONFIG.numHiddenLayers())
        .append(" layers, ").append(CONFIG.numAttentionHeads()).append(" query heads over ")
        .append(CONFIG.numKeyValueHeads()).append(" key/value heads, ").append(CONFIG.maxPositionEmbeddings())
        .append(" positions, RoPE theta ").append((long) CONFIG.ropeTheta()).append(", untied head.\n");
    b.append("- Training (`BasePretrainer`, the serving forward pass with autograd): ").append(r.stepsDone())
        .append(" AdamW steps (betas 0.9/0.95, weight decay ").append(s.weightDecay()).append(" on matrices, clip ")
        .append(s.maxGradNorm()).append(") of ").append(s.batchSize()).append(" packed rows x ")
        .append(s.sequenceLength()).append(" tokens, lr ").append(s.peakLearningRate()).append(" after ")
        .append(s.warmupSteps()).append(" warm-up steps, cosine to ").append(s.minLearningRate())
        .append(String.format("; %.0f s on this machine.%n", r.seconds()));
    b.append("- Deterministic: the same seed and step count give the same bytes (same engine and thread count).\n\n");
    b.append("## Results\n\n");
    b.append(String.format("- Held-out loss (%d rows of another corpus seed): %.4f before, %.4f after (nats/token).%n",
        HELD_OUT_ROWS, r.heldOutLossBefore(), r.heldOutLossAfter()));
    b.append(String.format("- Training loss: %.4f over the first 20 steps, %.4f over the last 20.%n",
        r.trainLossFirst(), r.trainLossLast()));
    b.append("- `model.safetensors` sha256: `").append(r.weightsSha256()).append("`\n\n");
    b.append("## Greedy samples\n\n");
    for (int i = 0; i < samples.size(); i++) {
      b.append("```\n").append(SAMPLE_PROMPTS.get(i)).append(samples.get(i)).append("\n```\n\n");
    }
    try {
      Files.writeString(dir.resolve("README.md"), b.toString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String sha256(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      byte[] buffer = new byte[1 << 20];
      for (int n; (n = in.read(buffer)) > 0; ) {
        sha.update(buffer, 0, n);
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
