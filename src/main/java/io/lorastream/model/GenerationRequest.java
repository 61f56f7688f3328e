package io.lorastream.model;

import java.util.Objects;

/**
 * One sequence to generate.
 *
 * @param promptIds the prompt exactly as the model sees it (bos included when wanted; see
 *     {@link Generator#encodePrompt(String)})
 * @param adapterOrNull the tenant's adapter, or null for the base model
 * @param params how tokens are chosen and when generation ends
 */
public record GenerationRequest(int[] promptIds, LoraAdapter adapterOrNull, SamplingParams params) {
  public GenerationRequest {
    Objects.requireNonNull(promptIds, "promptIds");
    Objects.requireNonNull(params, "params");
    if (promptIds.length == 0) {
      throw new IllegalArgumentException("prompt must hold at least one token");
    }
    promptIds = promptIds.clone();
  }

  @Override
  public int[] promptIds() {
    return promptIds.clone();
  }
}
