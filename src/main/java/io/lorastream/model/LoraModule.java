package io.lorastream.model;

import java.util.Locale;

/** The projections of a Llama layer that LoRA can adapt, with their PEFT and weight names. */
public enum LoraModule {
  Q_PROJ("self_attn"),
  K_PROJ("self_attn"),
  V_PROJ("self_attn"),
  O_PROJ("self_attn"),
  GATE_PROJ("mlp"),
  UP_PROJ("mlp"),
  DOWN_PROJ("mlp");

  private final String block;

  LoraModule(String block) {
    this.block = block;
  }

  /** PEFT's target module name, e.g. {@code q_proj}. */
  public String moduleName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static LoraModule fromName(String moduleName) {
    for (LoraModule m : values()) {
      if (m.moduleName().equals(moduleName)) {
        return m;
      }
    }
    throw new IllegalArgumentException(
        "unknown LoRA target module '" + moduleName
            + "'; expected one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
  }

  /** Input width of the projection's weight (out_features, in_features). */
  public int inFeatures(LlamaConfig c) {
    switch (this) {
      case DOWN_PROJ:
        return c.intermediateSize();
      case O_PROJ:
        return c.numAttentionHeads() * c.headDim();
      default:
        return c.hiddenSize();
    }
  }

  /** Output width of the projection. */
  public int outFeatures(LlamaConfig c) {
    switch (this) {
      case Q_PROJ:
        return c.numAttentionHeads() * c.headDim();
      case K_PROJ:
      case V_PROJ:
        return c.kvDim();
      case GATE_PROJ:
      case UP_PROJ:
        return c.intermediateSize();
      default:
        return c.hiddenSize();
    }
  }

  /** Name of the frozen weight in a LlamaForCausalLM checkpoint. */
  public String baseWeightName(int layer) {
    return "model.layers." + layer + "." + block + "." + moduleName() + ".weight";
  }

  /** Key of a PEFT adapter tensor; {@code matrix} is "A" or "B". */
  public String peftKey(int layer, String matrix) {
    return "base_model.model.model.layers." + layer + "." + block + "." + moduleName()
        + ".lora_" + matrix + ".weight";
  }
}
