package io.lorastream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;

/**
 * LoRA hyper-parameters with PEFT's meaning: the update of a target projection is
 * {@code W + scale() * B A} with {@code A} (rank, in_features) and {@code B} (out_features, rank).
 *
 * @param rank r, the inner dimension of the update
 * @param alpha lora_alpha
 * @param targetModules PEFT module names among q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
 *     down_proj; {@code all-linear} (PEFT's shorthand) stands for all seven
 * @param dropout lora_dropout: probability of zeroing an input of the LoRA branch in training
 * @param useRslora rsLoRA scaling alpha/sqrt(r) instead of alpha/r
 * @param layersToTransform PEFT's layers_to_transform: the decoder layers that carry adapters
 *     (ascending, no repeats), or null for every layer
 */
public record LoraConfig(
    int rank, float alpha, List<String> targetModules, float dropout, boolean useRslora,
    List<Integer> layersToTransform) {

  /** PEFT's shorthand for every linear projection of the decoder layers. */
  public static final String ALL_LINEAR = "all-linear";

  public LoraConfig {
    if (rank <= 0) {
      throw new IllegalArgumentException("LoRA rank must be positive, got " + rank);
    }
    if (!(alpha > 0) || !Float.isFinite(alpha)) {
      throw new IllegalArgumentException("LoRA alpha must be a positive number, got " + alpha);
    }
    Objects.requireNonNull(targetModules, "targetModules");
    if (targetModules.isEmpty()) {
      throw new IllegalArgumentException("LoRA needs at least one target module");
    }
    if (targetModules.contains(ALL_LINEAR)) {
      if (targetModules.size() != 1) {
        throw new IllegalArgumentException("'" + ALL_LINEAR + "' cannot be combined with other target modules");
      }
      targetModules = java.util.Arrays.stream(LoraModule.values()).map(LoraModule::moduleName).toList();
    }
    targetModules = List.copyOf(targetModules);
    if (new HashSet<>(targetModules).size() != targetModules.size()) {
      throw new IllegalArgumentException("LoRA target modules repeat: " + targetModules);
    }
    targetModules.forEach(LoraModule::fromName);
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("LoRA dropout must lie in [0, 1), got " + dropout);
    }
    if (layersToTransform != null) {
      List<Integer> layers = layersToTransform.stream().sorted().distinct().toList();
      if (layers.isEmpty() || layers.size() != layersToTransform.size() || layers.get(0) < 0) {
        throw new IllegalArgumentException(
            "layers_to_transform must list distinct layer indices >= 0, got " + layersToTransform);
      }
      layersToTransform = layers;
    }
  }

  /** Every decoder layer carries the adapter (PEFT's default). */
  public LoraConfig(int rank, float alpha, List<String> targetModules, float dropout, boolean useRslora) {
    this(rank, alpha, targetModules, dropout, useRslora, null);
  }

  /** Whether decoder layer {@code layer} carries adapters. */
  public boolean transforms(int layer) {
    return layersToTransform == null || layersToTransform.contains(layer);
  }

  /** r 8, alpha 16, q_proj and v_proj, no dropout, classic alpha/r scaling (PEFT's defaults). */
  public static LoraConfig defaults() {
    return new LoraConfig(8, 16f, List.of("q_proj", "v_proj"), 0f, false);
  }

  /** s in {@code W + s B A}: alpha/r, or alpha/sqrt(r) with rsLoRA. */
  public float scale() {
    return useRslora ? (float) (alpha / Math.sqrt(rank)) : alpha / rank;
  }

  /** Whether {@code module} carries an adapter. */
  public boolean targets(LoraModule module) {
    return targetModules.contains(module.moduleName());
  }

  /** PEFT's {@code adapter_config.json} for this configuration. */
  public String toPeftAdapterConfigJson(String baseModelNameOrPath) {
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = json.createObjectNode();
    root.put("peft_type", "LORA");
    root.put("task_type", "CAUSAL_LM");
    root.put("base_model_name_or_path", baseModelNameOrPath);
    root.put("r", rank);
    root.put("lora_alpha", alpha);
    var targets = root.putArray("target_modules");
    targetModules.forEach(targets::add);
    root.put("lora_dropout", dropout);
    root.put("bias", "none");
    root.put("use_rslora", useRslora);
    root.put("use_dora", false);
    root.put("fan_in_fan_out", false);
    root.put("init_lora_weights", true);
    root.put("inference_mode", true);
    root.putNull("modules_to_save");
    if (layersToTransform == null) {
      root.putNull("layers_to_transform");
    } else {
      var layers = root.putArray("layers_to_transform");
      layersToTransform.forEach(layers::add);
    }
    try {
      return json.writeValueAsString(root);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Reads PEFT's {@code adapter_config.json}; refuses what lorastream cannot apply (another PEFT
   * type, biases, DoRA, regex targets, extra trained modules).
   */
  public static LoraConfig fromPeftAdapterConfigJson(String text) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(text);
    } catch (IOException e) {
      throw new ModelLoadException("adapter_config.json is not JSON: " + e.getMessage(), e);
    }
    if (!"LORA".equals(root.path("peft_type").asText())) {
      throw new ModelLoadException("peft_type '" + root.path("peft_type").asText() + "' is not LORA");
    }
    if (!root.path("bias").asText("none").equals("none")) {
      throw new ModelLoadException("LoRA bias '" + root.path("bias").asText() + "' is not supported");
    }
    if (root.path("use_dora").asBoolean(false)) {
      throw new ModelLoadException("DoRA adapters are not supported");
    }
    if (root.path("fan_in_fan_out").asBoolean(false)) {
      throw new ModelLoadException("fan_in_fan_out adapters are not supported");
    }
    JsonNode save = root.path("modules_to_save");
    if (save.isArray() && !save.isEmpty()) {
      throw new ModelLoadException("modules_to_save " + save + " is not supported");
    }
    JsonNode targets = root.path("target_modules");
    if (!targets.isArray()) {
      throw new ModelLoadException("target_modules must be a list of module names, got " + targets);
    }
    List<String> modules = new ArrayList<>();
    targets.forEach(t -> modules.add(t.asText()));
    JsonNode layersNode = root.path("layers_to_transform");
    List<Integer> layers = null;
    if (layersNode.isInt()) {
      layers = List.of(layersNode.asInt());
    } else if (layersNode.isArray()) {
      layers = new ArrayList<>();
      for (JsonNode n : layersNode) {
        layers.add(n.asInt());
      }
    } else if (!layersNode.isMissingNode() && !layersNode.isNull()) {
      throw new ModelLoadException("layers_to_transform must be a layer index or a list of them, got " + layersNode);
    }
    try {
      return new LoraConfig(
          root.path("r").asInt(8),
          (float) root.path("lora_alpha").asDouble(8),
          modules,
          (float) root.path("lora_dropout").asDouble(0),
          root.path("use_rslora").asBoolean(false),
          layers);
    } catch (IllegalArgumentException e) {
      throw new ModelLoadException("adapter_config.json: " + e.getMessage(), e);
    }
  }
}
