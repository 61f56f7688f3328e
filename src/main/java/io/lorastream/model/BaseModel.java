package io.lorastream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A frozen Llama-family base model: configuration, weights and tokenizer, loaded from a Hugging
 * Face style directory. The weights are read-only and shared by every thread and every tenant;
 * no gradient is ever taken with respect to them.
 */
public final class BaseModel implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BaseModel.class);

  /** The frozen weights of one decoder layer. */
  public record LayerWeights(
      NDArray attentionNorm, // (dim)
      NDArray wq, // (n_heads*head_dim, dim)
      NDArray wk, // (n_kv_heads*head_dim, dim)
      NDArray wv, // (n_kv_heads*head_dim, dim)
      NDArray wo, // (dim, n_heads*head_dim)
      NDArray ffnNorm, // (dim)
      NDArray wGate, // (hidden_dim, dim)
      NDArray wUp, // (hidden_dim, dim)
      NDArray wDown) { // (dim, hidden_dim)

    /** The weight of a LoRA-adaptable projection, (out_features, in_features). */
    public NDArray projection(LoraModule module) {
      switch (module) {
        case Q_PROJ:
          return wq;
        case K_PROJ:
          return wk;
        case V_PROJ:
          return wv;
        case O_PROJ:
          return wo;
        case GATE_PROJ:
          return wGate;
        case UP_PROJ:
          return wUp;
        default:
          return wDown;
      }
    }
  }

  /** All frozen weights, in the model's {@link Precision} (the rotary frequencies F32). */
  public record Weights(
      NDArray tokenEmbedding, // (vocab_size, dim)
      List<LayerWeights> layers, // numHiddenLayers entries
      NDArray finalNorm, // (dim)
      NDArray lmHead, // (vocab_size, dim); the embedding itself when tied
      NDArray ropeInverseFrequencies) {} // (head_dim/2)

  private final Path directory;
  private final LlamaConfig config;
  private final NDManager manager;
  private final Weights weights;
  private final Precision precision;
  private final Map<String, NDArray> tensors; // checkpoint name -> weight, read-only
  private final List<Path> weightFiles;
  private final TextTokenizer tokenizer;
  private volatile String weightsSha256;

  private BaseModel(
      Path directory,
      LlamaConfig config,
      NDManager manager,
      Weights weights,
      Precision precision,
      Map<String, NDArray> tensors,
      List<Path> weightFiles,
      TextTokenizer tokenizer) {
    this.directory = directory;
    this.config = config;
    this.manager = manager;
    this.weights = weights;
    this.precision = precision;
    this.tensors = tensors;
    this.weightFiles = weightFiles;
    this.tokenizer = tokenizer;
  }

  /**
   * Loads a model directory onto the device env {@code LORASTREAM_DEVICE} names ({@code cpu},
   * {@code gpu}, {@code gpu(1)}, ...), or else the engine's default device (the first GPU when
   * one is present, else the CPU), computing in the {@link Precision#configured() configured
   * precision}.
   */
  public static BaseModel load(Path dir) {
    return load(dir, configuredDevice(), Precision.configured());
  }

  /** The device {@code LORASTREAM_DEVICE} names, or null for the engine's default. */
  public static Device configuredDevice() {
    String name = System.getenv("LORASTREAM_DEVICE");
    return name == null || name.isBlank() ? null : Device.fromName(name.trim());
  }

  /** Loads {@code config.json}, the safetensors weights and {@code tokenizer.json} of {@code dir}, F32. */
  public static BaseModel load(Path dir, Device device) {
    return load(dir, device, Precision.F32);
  }

  /**
   * As {@link #load(Path, Device)}, computing in {@code precision}: every weight is held in it
   * (a half precision halves the weights' memory). The identity ({@link #weightsSha256()}) is
   * that of the files, whatever the precision.
   */
  public static BaseModel load(Path dir, Device device, Precision precision) {
    LlamaConfig config = LlamaConfig.read(dir.resolve("config.json"));
    List<Path> files = SafeTensors.modelFiles(dir);
    NDManager manager = NDManager.newBaseManager(device);
    if (Device.Type.CPU.equals(manager.getDevice().getDeviceType())) {
      MklKernels.reportOnce();
    }
    TextTokenizer tokenizer = null;
    try {
      Map<String, NDArray> raw = new LinkedHashMap<>();
      for (Path file : files) {
        raw.putAll(SafeTensors.read(file, manager));
      }
      Map<String, NDArray> named = new LinkedHashMap<>();
      DataType type = precision.dataType();
      NDArray embedding = take(raw, named, "model.embed_tokens.weight", type, config.vocabSize(), config.hiddenSize());
      List<LayerWeights> layers = new ArrayList<>();
      for (int l = 0; l < config.numHiddenLayers(); l++) {
        String p = "model.layers." + l + ".";
        NDArray[] proj = new NDArray[LoraModule.values().length];
        for (LoraModule m : LoraModule.values()) {
          proj[m.ordinal()] =
              take(raw, named, m.baseWeightName(l), type, m.outFeatures(config), m.inFeatures(config));
        }
        layers.add(
            new LayerWeights(
                take(raw, named, p + "input_layernorm.weight", type, config.hiddenSize()),
                proj[LoraModule.Q_PROJ.ordinal()],
                proj[LoraModule.K_PROJ.ordinal()],
                proj[LoraModule.V_PROJ.ordinal()],
                proj[LoraModule.O_PROJ.ordinal()],
                take(raw, named, p + "post_attention_layernorm.weight", type, config.hiddenSize()),
                proj[LoraModule.GATE_PROJ.ordinal()],
                proj[LoraModule.UP_PROJ.ordinal()],
                proj[LoraModule.DOWN_PROJ.ordinal()]));
      }
      NDArray finalNorm = take(raw, named, "model.norm.weight", type, config.hiddenSize());
      NDArray lmHead =
          config.tieWordEmbeddings() && !raw.containsKey("lm_head.weight")
              ? embedding
              : take(raw, named, "lm_head.weight", type, config.vocabSize(), config.hiddenSize());
      // Tensors the forward pass does not use (e.g. rotary_emb.inv_freq of old checkpoints).
      raw.values().forEach(NDArray::close);
      NDArray invFreq = manager.create(config.ropeInverseFrequencies());
      tokenizer =
          TextTokenizer.load(dir.resolve("tokenizer.json"), config.bosTokenId(), config.eosTokenId());
      if (tokenizer.vocabSize() > config.vocabSize()) {
        throw new ModelLoadException(
            dir + ": tokenizer has " + tokenizer.vocabSize() + " tokens but vocab_size is "
                + config.vocabSize());
      }
      Weights weights = new Weights(embedding, List.copyOf(layers), finalNorm, lmHead, invFreq);
      log.info("base model {}: {} layers, hidden size {}, on {} in {}", dir, config.numHiddenLayers(),
          config.hiddenSize(), manager.getDevice(), precision);
      return new BaseModel(dir, config, manager, weights, precision, Collections.unmodifiableMap(named),
          List.copyOf(files), tokenizer);
    } catch (RuntimeException e) {
      if (tokenizer != null) {
        tokenizer.close();
      }
      manager.close();
      throw e;
    }
  }

  /** Removes {@code name} from {@code raw}, checks its shape and returns it in {@code type}. */
  private static NDArray take(
      Map<String, NDArray> raw, Map<String, NDArray> named, String name, DataType type, long... expected) {
    NDArray array = raw.remove(name);
    if (array == null) {
      throw new ModelLoadException("base model is missing tensor '" + name + "'");
    }
    Shape want = new Shape(expected);
    if (!array.getShape().equals(want)) {
      Shape got = array.getShape();
      array.close();
      throw new ModelLoadException(
          "tensor '" + name + "' has shape " + got + " but the config expects " + want);
    }
    if (array.getDataType() != type) {
      NDArray converted = array.toType(type, true);
      array.close();
      array = converted;
    }
    named.put(name, array);
    return array;
  }

  public LlamaConfig config() {
    return config;
  }

  /** The number type of the forward pass's weights and activations. */
  public Precision precision() {
    return precision;
  }

  public Weights weights() {
    return weights;
  }

  /** The weights by checkpoint name (lm_head absent when tied), in the model's precision, read-only. */
  public Map<String, NDArray> tensors() {
    return tensors;
  }

  /**
   * Calls {@code use} with the weights by checkpoint name in F32: the held ones, or in a half
   * precision the files' own values, read again and freed afterwards (not the rounded ones).
   */
  public void withF32Tensors(java.util.function.Consumer<Map<String, NDArray>> use) {
    if (!precision.isHalf()) {
      use.accept(tensors);
      return;
    }
    try (NDManager read = manager.newSubManager()) {
      Map<String, NDArray> all = new LinkedHashMap<>();
      for (Path file : weightFiles) {
        all.putAll(SafeTensors.read(file, read));
      }
      Map<String, NDArray> f32 = new LinkedHashMap<>();
      for (String name : tensors.keySet()) {
        NDArray t = all.get(name);
        f32.put(name, t.getDataType() == DataType.FLOAT32 ? t : t.toType(DataType.FLOAT32, true));
      }
      use.accept(Collections.unmodifiableMap(f32));
    }
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  public Path directory() {
    return directory;
  }

  /** Owns the weights; do not create per-request arrays here. */
  public NDManager manager() {
    return manager;
  }

  /** SHA-256 (hex) of the weight files' bytes, shard after shard: the base model's identity. */
  public String weightsSha256() {
    String sha = weightsSha256;
    if (sha == null) {
      synchronized (this) {
        if (weightsSha256 == null) {
          weightsSha256 = digest(weightFiles);
        }
        sha = weightsSha256;
      }
    }
    return sha;
  }

  private static String digest(List<Path> files) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      byte[] buffer = new byte[1 << 20];
      for (Path file : files) {
        try (InputStream in = Files.newInputStream(file)) {
          for (int n; (n = in.read(buffer)) > 0; ) {
            sha.update(buffer, 0, n);
          }
        }
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (IOException e) {
      throw new ModelLoadException("cannot hash base model weights: " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    tokenizer.close();
    manager.close();
  }
}
