package io.lorastream.contract;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainedOffset;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SnapshotFactsTest {
  @Test
  void describesEveryFieldButTheWeightsInSnakeCase() {
    AdapterSnapshot s = AdapterSnapshot.newBuilder().setTenant("acme").setVersion(4).setParentVersion(3L)
        .setBaseModelSha256("b").setRank(8).setAlpha(16f).setTargetModules(List.of("q_proj")).setUseRslora(true)
        .setLayersToTransform(List.of(0, 2)).setWeights(ByteBuffer.wrap(new byte[7])).setWeightsSha256("w")
        .setTrainedThrough(List.of(new TrainedOffset("clean", 1, 42L))).setExamplesSeen(40).setTrainLoss(1.5f)
        .setHoldoutLoss(null).setBaseHoldoutLoss(2f).setNewestEventTime(Instant.ofEpochSecond(10))
        .setCreatedAt(Instant.ofEpochSecond(20)).build();

    Map<String, Object> facts = SnapshotFacts.of(s);

    assertThat(facts).containsEntry("tenant", "acme").containsEntry("version", 4L)
        .containsEntry("parent_version", 3L).containsEntry("use_rslora", true)
        .containsEntry("layers_to_transform", List.of(0, 2)).containsEntry("weights_bytes", 7)
        .containsEntry("examples_seen", 40L).containsEntry("train_loss", 1.5f)
        .containsEntry("holdout_loss", null).containsEntry("newest_event_time", "1970-01-01T00:00:10Z")
        .containsEntry("created_at", "1970-01-01T00:00:20Z").doesNotContainKey("weights");
    assertThat(facts.get("trained_through"))
        .isEqualTo(List.of(Map.of("topic", "clean", "partition", 1, "next_offset", 42L)));
    assertThat(facts.keySet()).allMatch(k -> k.equals(k.toLowerCase()), "snake_case keys");
  }
}
