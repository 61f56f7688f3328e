package io.lorastream.model;

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
 *     down_proj
 * @param dropout lora_dropout: probability of zeroing an input of the LoRA branch in training
 * @param useRslora rsLoRA scaling alpha/sqrt(r) instead of alpha/r
 */
public record LoraConfig(
    int rank, float alpha, List<String> targetModules, float dropout, boolean useRslora) {

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
    targetModules = List.copyOf(targetModules);
    if (new HashSet<>(targetModules).size() != targetModules.size()) {
      throw new IllegalArgumentException("LoRA target modules repeat: " + targetModules);
    }
    targetModules.forEach(LoraModule::fromName);
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("LoRA dropout must lie in [0, 1), got " + dropout);
    }
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
}
