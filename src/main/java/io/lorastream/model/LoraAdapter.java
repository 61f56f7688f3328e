package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One tenant's LoRA weights for one base model: per adapted (layer, projection) an
 * {@code A} (r, in_features) and a {@code B} (out_features, r), F32, on the adapter's own manager.
 * The adapter remembers the SHA-256 of the base weights it belongs to and is never applied to
 * another base.
 */
public final class LoraAdapter implements AutoCloseable {
  private final LoraConfig config;
  private final LlamaConfig modelConfig;
  private final String baseModelSha256;
  private final NDManager manager;
  private final NDArray[][] a; // [layer][module ordinal]: (r, in_features), null if not adapted
  private final NDArray[][] b; // [layer][module ordinal]: (out_features, r), null if not adapted

  private LoraAdapter(
      LoraConfig config, LlamaConfig modelConfig, String baseModelSha256, NDManager manager) {
    this.config = config;
    this.modelConfig = modelConfig;
    this.baseModelSha256 = baseModelSha256;
    this.manager = manager;
    int modules = LoraModule.values().length;
    this.a = new NDArray[modelConfig.numHiddenLayers()][modules];
    this.b = new NDArray[modelConfig.numHiddenLayers()][modules];
  }

  /**
   * A fresh adapter as PEFT initialises one: {@code B = 0}, so it starts as the base model, and
   * {@code A ~ U(-1/sqrt(in), 1/sqrt(in))} (kaiming-uniform with a = sqrt(5)), drawn from a Java
   * random source seeded with {@code seed}.
   */
  public static LoraAdapter initialise(BaseModel base, LoraConfig config, long seed) {
    LoraAdapter adapter = empty(base, config);
    SplittableRandom random = new SplittableRandom(seed);
    LlamaConfig c = base.config();
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      if (!config.transforms(l)) {
        continue;
      }
      for (LoraModule m : adapter.targets()) {
        int in = m.inFeatures(c);
        double bound = 1.0 / Math.sqrt(in);
        float[] values = new float[config.rank() * in];
        for (int i = 0; i < values.length; i++) {
          values[i] = (float) ((2 * random.nextDouble() - 1) * bound);
        }
        adapter.a[l][m.ordinal()] = adapter.manager.create(values, new Shape(config.rank(), in));
        adapter.b[l][m.ordinal()] =
            adapter.manager.zeros(new Shape(m.outFeatures(c), config.rank()), DataType.FLOAT32);
      }
    }
    return adapter;
  }

  private static LoraAdapter empty(BaseModel base, LoraConfig config) {
    List<Integer> layers = config.layersToTransform();
    if (layers != null && layers.get(layers.size() - 1) >= base.config().numHiddenLayers()) {
      throw new IllegalArgumentException("layers_to_transform " + layers + " names a layer the model lacks (it has "
          + base.config().numHiddenLayers() + ")");
    }
    return new LoraAdapter(
        config,
        base.config(),
        base.weightsSha256(),
        NDManager.newBaseManager(base.manager().getDevice()));
  }

  /**
   * Reads PEFT's {@code adapter_model.safetensors}; every key the config implies must be there
   * with its shape, and no other.
   */
  public static LoraAdapter fromPeftSafetensors(byte[] bytes, LoraConfig config, BaseModel base) {
    LoraAdapter adapter = empty(base, config);
    try {
      Map<String, NDArray> tensors = new LinkedHashMap<>(SafeTensors.fromBytes(bytes, adapter.manager));
      LlamaConfig c = base.config();
      for (int l = 0; l < c.numHiddenLayers(); l++) {
        if (!config.transforms(l)) {
          continue;
        }
        for (LoraModule m : adapter.targets()) {
          adapter.a[l][m.ordinal()] =
              takeF32(tensors, m.peftKey(l, "A"), new Shape(config.rank(), m.inFeatures(c)));
          adapter.b[l][m.ordinal()] =
              takeF32(tensors, m.peftKey(l, "B"), new Shape(m.outFeatures(c), config.rank()));
        }
      }
      if (!tensors.isEmpty()) {
        throw new ModelLoadException(
            "adapter has tensors its config " + config.targetModules() + " does not expect: "
                + tensors.keySet());
      }
      return adapter;
    } catch (RuntimeException e) {
      adapter.close();
      throw e;
    }
  }

  private static NDArray takeF32(Map<String, NDArray> tensors, String key, Shape expected) {
    NDArray array = tensors.remove(key);
    if (array == null) {
      throw new ModelLoadException("adapter is missing tensor '" + key + "'");
    }
    if (!array.getShape().equals(expected)) {
      throw new ModelLoadException(
          "adapter tensor '" + key + "' has shape " + array.getShape() + " but " + expected
              + " is expected");
    }
    if (array.getDataType() == DataType.FLOAT32) {
      return array;
    }
    NDArray f32 = array.toType(DataType.FLOAT32, true);
    array.close();
    return f32;
  }

  /** PEFT's {@code adapter_model.safetensors} bytes (F32, keys sorted: deterministic). */
  public byte[] toPeftSafetensors() {
    return SafeTensors.toBytes(peftTensors());
  }

  /** PEFT key -> array, layer by layer, A before B. */
  public Map<String, NDArray> peftTensors() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (int l = 0; l < modelConfig.numHiddenLayers(); l++) {
      if (!config.transforms(l)) {
        continue;
      }
      for (LoraModule m : targets()) {
        out.put(m.peftKey(l, "A"), a[l][m.ordinal()]);
        out.put(m.peftKey(l, "B"), b[l][m.ordinal()]);
      }
    }
    return out;
  }

  /** The trainable arrays in a fixed order (that of {@link #peftTensors()}). */
  public List<NDArray> parameters() {
    return new ArrayList<>(peftTensors().values());
  }

  /** Adapted projections, in layer order (q, k, v, o, gate, up, down). */
  public List<LoraModule> targets() {
    List<LoraModule> out = new ArrayList<>();
    for (LoraModule m : LoraModule.values()) {
      if (config.targets(m)) {
        out.add(m);
      }
    }
    return out;
  }

  /** A (r, in_features) of {@code module} in {@code layer}, or null when it is not adapted. */
  public NDArray a(int layer, LoraModule module) {
    return a[layer][module.ordinal()];
  }

  /** B (out_features, r) of {@code module} in {@code layer}, or null when it is not adapted. */
  public NDArray b(int layer, LoraModule module) {
    return b[layer][module.ordinal()];
  }

  public LoraConfig config() {
    return config;
  }

  /** SHA-256 of the base weights this adapter was made for. */
  public String baseModelSha256() {
    return baseModelSha256;
  }

  public NDManager manager() {
    return manager;
  }

  /**
   * PEFT's parameter report, e.g. {@code trainable params: 20,480 || all params: 1,890,944 ||
   * trainable%: 1.0831}: the adapter's values against the base model's plus the adapter's.
   */
  public String parameterReport(BaseModel base) {
    long total = 0;
    for (NDArray weight : base.tensors().values()) {
      total += weight.size();
    }
    long trainable = parameterCount();
    return String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f",
        trainable, total + trainable, 100.0 * trainable / (total + trainable));
  }

  /** Number of trainable values: r * (in + out) per adapted projection and layer. */
  public long parameterCount() {
    long perLayer = 0;
    for (LoraModule m : targets()) {
      perLayer += (long) config.rank() * (m.inFeatures(modelConfig) + m.outFeatures(modelConfig));
    }
    long layers = java.util.stream.IntStream.range(0, modelConfig.numHiddenLayers()).filter(config::transforms).count();
    return perLayer * layers;
  }

  /** An independent copy on its own manager, without gradient state: a snapshot for serving. */
  public LoraAdapter copy() {
    LoraAdapter copy =
        new LoraAdapter(config, modelConfig, baseModelSha256, NDManager.newBaseManager(manager.getDevice()));
    for (int l = 0; l < a.length; l++) {
      for (int m = 0; m < a[l].length; m++) {
        if (a[l][m] != null) {
          copy.a[l][m] = detachedCopy(a[l][m], copy.manager);
          copy.b[l][m] = detachedCopy(b[l][m], copy.manager);
        }
      }
    }
    return copy;
  }

  private static NDArray detachedCopy(NDArray array, NDManager target) {
    try (NDArray detached = array.stopGradient()) {
      NDArray copy = detached.duplicate();
      copy.attach(target);
      return copy;
    }
  }

  /**
   * Writes a base model directory whose projections are {@code W + s B A}: the merged model that
   * computes, without an adapter, what {@code base} computes with this one.
   */
  public void mergeInto(BaseModel base, Path outDir) {
    if (!base.weightsSha256().equals(baseModelSha256)) {
      throw new IllegalArgumentException("adapter belongs to base model " + baseModelSha256);
    }
    // Every intermediate (detached views, products, merged weights) belongs to this scope.
    try (NDScope scope = new NDScope()) {
      Files.createDirectories(outDir);
      base.config().write(outDir.resolve("config.json"));
      Files.copy(
          base.directory().resolve("tokenizer.json"),
          outDir.resolve("tokenizer.json"),
          StandardCopyOption.REPLACE_EXISTING);
      Path file = outDir.resolve(SafeTensors.SINGLE_FILE);
      base.withF32Tensors(tensors -> {
        Map<String, NDArray> merged = new LinkedHashMap<>(tensors);
        for (int l = 0; l < modelConfig.numHiddenLayers(); l++) {
          if (!config.transforms(l)) {
            continue;
          }
          for (LoraModule m : targets()) {
            String name = m.baseWeightName(l);
            NDArray delta = b(l, m).stopGradient().matMul(a(l, m).stopGradient()); // (out, in)
            merged.put(name, merged.get(name).add(delta.mul(config.scale())));
          }
        }
        SafeTensors.write(file, merged);
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write merged model to " + outDir, e);
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
