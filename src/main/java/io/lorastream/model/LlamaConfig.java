package io.lorastream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fixed sizes of a Llama-family model, as in a Hugging Face {@code config.json} of
 * {@code LlamaForCausalLM}.
 */
public record LlamaConfig(
    int vocabSize,
    int hiddenSize, // dim
    int intermediateSize, // hidden width of the SwiGLU MLP
    int numHiddenLayers,
    int numAttentionHeads,
    int numKeyValueHeads, // < numAttentionHeads means grouped-query attention
    double rmsNormEps,
    double ropeTheta,
    int maxPositionEmbeddings,
    boolean tieWordEmbeddings, // lm_head shares model.embed_tokens.weight
    int bosTokenId,
    int eosTokenId,
    RopeScaling ropeScaling) { // null: plain rotary frequencies

  /**
   * Rotary frequency scaling of long-context checkpoints: {@code "linear"} divides every
   * frequency by {@code factor}; {@code "llama3"} (Llama 3.1+) divides the low frequencies, keeps
   * the high ones and blends in between, as transformers does.
   */
  public record RopeScaling(
      String type,
      double factor,
      double lowFreqFactor, // llama3 only
      double highFreqFactor, // llama3 only
      int originalMaxPositionEmbeddings) { // llama3 only

    public RopeScaling {
      if (!"linear".equals(type) && !"llama3".equals(type)) {
        throw new IllegalArgumentException(
            "rope_scaling type '" + type + "' is not supported; only linear and llama3 are");
      }
      if (!(factor >= 1) || !Double.isFinite(factor)) {
        throw new IllegalArgumentException("rope_scaling factor must be >= 1, got " + factor);
      }
      if ("llama3".equals(type)
          && (!(highFreqFactor > lowFreqFactor) || !(lowFreqFactor > 0)
              || originalMaxPositionEmbeddings <= 0)) {
        throw new IllegalArgumentException(
            "llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor and"
                + " original_max_position_embeddings > 0");
      }
    }
  }

  /** A configuration without rope scaling. */
  public LlamaConfig(
      int vocabSize,
      int hiddenSize,
      int intermediateSize,
      int numHiddenLayers,
      int numAttentionHeads,
      int numKeyValueHeads,
      double rmsNormEps,
      double ropeTheta,
      int maxPositionEmbeddings,
      boolean tieWordEmbeddings,
      int bosTokenId,
      int eosTokenId) {
    this(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads,
        numKeyValueHeads, rmsNormEps, ropeTheta, maxPositionEmbeddings, tieWordEmbeddings,
        bosTokenId, eosTokenId, null);
  }

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public LlamaConfig {
    positive("vocab_size", vocabSize);
    positive("hidden_size", hiddenSize);
    positive("intermediate_size", intermediateSize);
    positive("num_hidden_layers", numHiddenLayers);
    positive("num_attention_heads", numAttentionHeads);
    positive("num_key_value_heads", numKeyValueHeads);
    positive("max_position_embeddings", maxPositionEmbeddings);
    if (hiddenSize % numAttentionHeads != 0) {
      throw new IllegalArgumentException(
          "hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + numAttentionHeads);
    }
    if (numAttentionHeads % numKeyValueHeads != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads " + numAttentionHeads
              + " is not divisible by num_key_value_heads " + numKeyValueHeads);
    }
    if ((hiddenSize / numAttentionHeads) % 2 != 0) {
      throw new IllegalArgumentException(
          "head dimension " + hiddenSize / numAttentionHeads + " must be even for rotary embeddings");
    }
    if (!(rmsNormEps > 0) || !Double.isFinite(rmsNormEps)) {
      throw new IllegalArgumentException("rms_norm_eps must be a positive number, got " + rmsNormEps);
    }
    if (!(ropeTheta > 0) || !Double.isFinite(ropeTheta)) {
      throw new IllegalArgumentException("rope_theta must be a positive number, got " + ropeTheta);
    }
    if (bosTokenId < 0 || bosTokenId >= vocabSize || eosTokenId < 0 || eosTokenId >= vocabSize) {
      throw new IllegalArgumentException(
          "bos_token_id " + bosTokenId + " and eos_token_id " + eosTokenId
              + " must lie in [0, vocab_size " + vocabSize + ")");
    }
  }

  private static void positive(String name, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(name + " must be positive, got " + value);
    }
  }

  /** Size of one attention head. */
  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }

  /**
   * Rotary inverse frequencies (head_dim/2 of them): 1 / theta^(2i/head_dim) in F32 as
   * transformers computes them, then scaled as {@link #ropeScaling()} says.
   */
  public float[] ropeInverseFrequencies() {
    int half = headDim() / 2;
    float[] out = new float[half];
    for (int i = 0; i < half; i++) {
      float exponent = (float) (2 * i) / (float) headDim();
      float base = (float) (1.0 / (float) Math.pow(ropeTheta, exponent));
      out[i] = ropeScaling == null ? base : scaled(base, ropeScaling);
    }
    return out;
  }

  private static float scaled(float invFreq, RopeScaling s) {
    if (s.type().equals("linear")) {
      return (float) (invFreq / s.factor());
    }
    double wavelength = 2 * Math.PI / invFreq;
    double lowFreqWavelength = s.originalMaxPositionEmbeddings() / s.lowFreqFactor();
    double highFreqWavelength = s.originalMaxPositionEmbeddings() / s.highFreqFactor();
    if (wavelength < highFreqWavelength) {
      return invFreq;
    }
    if (wavelength > lowFreqWavelength) {
      return (float) (invFreq / s.factor());
    }
    double smooth =
        (s.originalMaxPositionEmbeddings() / wavelength - s.lowFreqFactor())
            / (s.highFreqFactor() - s.lowFreqFactor());
    return (float) ((1 - smooth) * invFreq / s.factor() + smooth * invFreq);
  }

  /** Width of the key and value projections: num_key_value_heads * head_dim. */
  public int kvDim() {
    return numKeyValueHeads * headDim();
  }

  /** Reads a Hugging Face {@code config.json}; anything but a plain Llama model is refused. */
  public static LlamaConfig read(Path configJson) {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readAllBytes(configJson));
    } catch (IOException e) {
      throw new ModelLoadException("cannot read model config " + configJson + ": " + e.getMessage(), e);
    }
    String modelType = root.path("model_type").asText("");
    if (!modelType.equals("llama")) {
      throw new ModelLoadException(
          configJson + ": model_type '" + modelType + "' is not supported; only 'llama' is");
    }
    JsonNode architectures = root.path("architectures");
    if (architectures.isArray()) {
      for (JsonNode a : architectures) {
        if (!a.asText().equals("LlamaForCausalLM")) {
          throw new ModelLoadException(
              configJson + ": architecture '" + a.asText()
                  + "' is not supported; only LlamaForCausalLM is");
        }
      }
    }
    if (root.path("attention_bias").asBoolean(false) || root.path("mlp_bias").asBoolean(false)) {
      throw new ModelLoadException(configJson + ": projection biases are not supported");
    }
    try {
      int heads = required(root, "num_attention_heads", configJson).asInt();
      int hidden = required(root, "hidden_size", configJson).asInt();
      JsonNode headDim = root.path("head_dim");
      if (headDim.isNumber() && headDim.asInt() * heads != hidden) {
        throw new ModelLoadException(
            configJson + ": head_dim " + headDim.asInt() + " * num_attention_heads " + heads
                + " != hidden_size " + hidden + " is not supported");
      }
      return new LlamaConfig(
          required(root, "vocab_size", configJson).asInt(),
          hidden,
          required(root, "intermediate_size", configJson).asInt(),
          required(root, "num_hidden_layers", configJson).asInt(),
          heads,
          root.path("num_key_value_heads").asInt(heads),
          root.path("rms_norm_eps").asDouble(1e-6),
          root.path("rope_theta").asDouble(10000.0),
          root.path("max_position_embeddings").asInt(2048),
          root.path("tie_word_embeddings").asBoolean(false),
          tokenId(root, "bos_token_id", 1),
          tokenId(root, "eos_token_id", 2),
          ropeScaling(root.path("rope_scaling")));
    } catch (IllegalArgumentException e) {
      throw new ModelLoadException(configJson + ": " + e.getMessage(), e);
    }
  }

  private static RopeScaling ropeScaling(JsonNode node) {
    if (node.isMissingNode() || node.isNull()) {
      return null;
    }
    String type = node.path("rope_type").asText(node.path("type").asText(""));
    if (type.equals("default")) {
      return null;
    }
    return new RopeScaling(
        type,
        node.path("factor").asDouble(Double.NaN),
        node.path("low_freq_factor").asDouble(0),
        node.path("high_freq_factor").asDouble(0),
        node.path("original_max_position_embeddings").asInt(0));
  }

  private static JsonNode required(JsonNode root, String field, Path file) {
    JsonNode node = root.path(field);
    if (!node.isNumber()) {
      throw new ModelLoadException(file + ": missing numeric field '" + field + "'");
    }
    return node;
  }

  /** Llama 3 configs may list several eos ids; the first is the one generation stops on. */
  private static int tokenId(JsonNode root, String field, int fallback) {
    JsonNode node = root.path(field);
    if (node.isArray() && !node.isEmpty()) {
      return node.get(0).asInt();
    }
    return node.isNumber() ? node.asInt() : fallback;
  }

  /** Writes a Hugging Face style {@code config.json} that transformers loads as LlamaForCausalLM. */
  public void write(Path configJson) {
    ObjectNode root = JSON.createObjectNode();
    root.putArray("architectures").add("LlamaForCausalLM");
    root.put("model_type", "llama");
    root.put("torch_dtype", "float32");
    root.put("vocab_size", vocabSize);
    root.put("hidden_size", hiddenSize);
    root.put("intermediate_size", intermediateSize);
    root.put("num_hidden_layers", numHiddenLayers);
    root.put("num_attention_heads", numAttentionHeads);
    root.put("num_key_value_heads", numKeyValueHeads);
    root.put("head_dim", headDim());
    root.put("hidden_act", "silu");
    root.put("rms_norm_eps", rmsNormEps);
    root.put("rope_theta", ropeTheta);
    if (ropeScaling == null) {
      root.putNull("rope_scaling");
    } else {
      ObjectNode scaling = root.putObject("rope_scaling");
      scaling.put("rope_type", ropeScaling.type());
      scaling.put("factor", ropeScaling.factor());
      if (ropeScaling.type().equals("llama3")) {
        scaling.put("low_freq_factor", ropeScaling.lowFreqFactor());
        scaling.put("high_freq_factor", ropeScaling.highFreqFactor());
        scaling.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
      }
    }
    root.put("max_position_embeddings", maxPositionEmbeddings);
    root.put("tie_word_embeddings", tieWordEmbeddings);
    root.put("attention_bias", false);
    root.put("mlp_bias", false);
    root.put("bos_token_id", bosTokenId);
    root.put("eos_token_id", eosTokenId);
    try {
      Files.write(configJson, JSON.writeValueAsBytes(root));
    } catch (IOException e) {
      throw new ModelLoadException("cannot write model config " + configJson + ": " + e.getMessage(), e);
    }
  }
}
