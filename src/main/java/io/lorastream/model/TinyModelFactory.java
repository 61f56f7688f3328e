package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes "lorastream-tiny": a randomly initialised Llama small enough for demos and tests, with a
 * byte-level BPE tokenizer that round-trips any UTF-8 text. The same seed gives byte-identical
 * files; the numbers come from a Java random source, never from the engine's.
 */
public final class TinyModelFactory {
  /** 3 special tokens followed by the 256 byte symbols. */
  public static final LlamaConfig CONFIG =
      new LlamaConfig(259, 128, 344, 4, 4, 2, 1e-5, 10000.0, 512, false, 1, 2);

  static final String[] SPECIAL_TOKENS = ByteLevelBpe.SPECIAL_TOKENS;
  private static final double INIT_STD = 0.02;

  private TinyModelFactory() {}

  /** Creates {@code outDir} (if needed) and writes config.json, model.safetensors, tokenizer.json. */
  public static void create(Path outDir, long seed) {
    try {
      Files.createDirectories(outDir);
      CONFIG.write(outDir.resolve("config.json"));
      writeTokenizer(outDir.resolve("tokenizer.json"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create tiny model in " + outDir, e);
    }
    SplittableRandom random = new SplittableRandom(seed);
    try (NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> tensors = new LinkedHashMap<>();
      LlamaConfig c = CONFIG;
      int dim = c.hiddenSize();
      tensors.put("model.embed_tokens.weight", normal(manager, random, c.vocabSize(), dim));
      for (int l = 0; l < c.numHiddenLayers(); l++) {
        String p = "model.layers." + l + ".";
        for (LoraModule m : LoraModule.values()) {
          tensors.put(m.baseWeightName(l), normal(manager, random, m.outFeatures(c), m.inFeatures(c)));
        }
        tensors.put(p + "input_layernorm.weight", manager.ones(new Shape(dim)));
        tensors.put(p + "post_attention_layernorm.weight", manager.ones(new Shape(dim)));
      }
      tensors.put("model.norm.weight", manager.ones(new Shape(dim)));
      // The head is drawn wider than N(0, 0.02): with 0.02 its rows have norm 0.23, so logits of a
      // unit-RMS hidden state stay within about +-2.6 and no adapter could push the loss below ~3
      // nats; with std 1/sqrt(dim) the logits start at unit scale and can become confident.
      tensors.put("lm_head.weight", normal(manager, random, c.vocabSize(), dim, 1.0 / Math.sqrt(dim)));
      SafeTensors.write(outDir.resolve(SafeTensors.SINGLE_FILE), tensors);
    }
  }

  /** N(0, 0.02) by Box-Muller from {@code random}; (rows, cols). */
  private static NDArray normal(NDManager manager, SplittableRandom random, int rows, int cols) {
    return normal(manager, random, rows, cols, INIT_STD);
  }

  private static NDArray normal(
      NDManager manager, SplittableRandom random, int rows, int cols, double std) {
    float[] values = new float[rows * cols];
    for (int i = 0; i < values.length; i += 2) {
      double u1 = 1.0 - random.nextDouble(); // (0, 1]: log is finite
      double u2 = random.nextDouble();
      double radius = Math.sqrt(-2.0 * Math.log(u1)) * std;
      values[i] = (float) (radius * Math.cos(2 * Math.PI * u2));
      if (i + 1 < values.length) {
        values[i + 1] = (float) (radius * Math.sin(2 * Math.PI * u2));
      }
    }
    return manager.create(values, new Shape(rows, cols));
  }

  /** A tokenizer.json whose BPE has no merges: every byte is one token (id = 3 + byte). */
  static void writeTokenizer(Path file) throws IOException {
    ByteLevelBpe.writeTokenizerJson(file, List.of());
  }

  /** GPT-2's reversible map from bytes to printable unicode characters. */
  static char[] bytesToUnicode() {
    return ByteLevelBpe.bytesToUnicode();
  }
}
