package io.lorastream.contract;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.InferenceRequest;
import io.lorastream.avro.InferenceResponse;
import io.lorastream.avro.TrainedOffset;
import io.lorastream.avro.TrainingExample;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Deterministic records of every contract type, for tests. */
public final class SampleRecords {
  public static final Instant T0 = Instant.parse("2025-01-02T03:04:05.678Z");

  private SampleRecords() {}

  public static TrainingExample example(String tenant, String id) {
    return TrainingExample.newBuilder()
        .setId(id)
        .setTenant(tenant)
        .setPrompt("Translate to French: cheese")
        .setCompletion(" fromage")
        .setWeight(0.5f)
        .setEventTime(T0)
        .setMetadata(Map.of("source", "test"))
        .build();
  }

  /** A snapshot whose weights are {@code weightBytes} bytes drawn from {@code seed}. */
  public static AdapterSnapshot snapshot(String tenant, long version, int weightBytes, long seed) {
    byte[] weights = new byte[weightBytes];
    new Random(seed).nextBytes(weights);
    return AdapterSnapshot.newBuilder()
        .setTenant(tenant)
        .setVersion(version)
        .setParentVersion(version > 1 ? version - 1 : null)
        .setBaseModelSha256("ab".repeat(32))
        .setRank(8)
        .setAlpha(16f)
        .setTargetModules(List.of("q_proj", "v_proj"))
        .setUseRslora(false)
        .setWeights(ByteBuffer.wrap(weights))
        .setWeightsSha256("cd".repeat(32))
        .setTrainedThrough(List.of(new TrainedOffset("lorastream.examples.clean.v1", 3, 42L)))
        .setExamplesSeen(42)
        .setTrainLoss(1.25f)
        .setHoldoutLoss(null)
        .setBaseHoldoutLoss(2.5f)
        .setNewestEventTime(T0)
        .setCreatedAt(T0.plusSeconds(60))
        .build();
  }

  public static AdapterCheckpoint checkpoint(String tenant) {
    return AdapterCheckpoint.newBuilder()
        .setTenant(tenant)
        .setStep(7)
        .setBaseModelSha256("ab".repeat(32))
        .setRank(4)
        .setAlpha(8f)
        .setTargetModules(List.of("q_proj"))
        .setWeights(ByteBuffer.wrap(new byte[] {1, 2, 3}))
        .setOptimizerState(ByteBuffer.wrap(new byte[] {4, 5}))
        .setRngState(123456789L)
        .setTrainedThrough(List.of(new TrainedOffset("t", 0, 10L), new TrainedOffset("t", 1, 0L)))
        .setExamplesSeen(10)
        .setPublishedVersion(2)
        .setCreatedAt(T0)
        .build();
  }

  public static InferenceRequest request(String tenant, String requestId) {
    return InferenceRequest.newBuilder()
        .setRequestId(requestId)
        .setTenant(tenant)
        .setPrompt("Hello")
        .setMaxTokens(16)
        .setSeed(99L)
        .setStop(List.of("\n"))
        .setCreatedAt(T0)
        .build();
  }

  public static InferenceResponse response(String tenant, String requestId) {
    return InferenceResponse.newBuilder()
        .setRequestId(requestId)
        .setTenant(tenant)
        .setAdapterVersion(3L)
        .setText(" world")
        .setPromptTokens(2)
        .setCompletionTokens(1)
        .setFinishReason("stop")
        .setCreatedAt(T0)
        .build();
  }
}
