package io.lorastream.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.KeptVersion;
import io.lorastream.avro.KeptVersionInfo;
import io.lorastream.avro.PublishedVersion;
import io.lorastream.contract.Bytes;
import io.lorastream.contract.Sha256;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints name the kept versions; their weights are separate records, due once per version. */
class TenantStatesTest {
  @TempDir static Path modelDir;
  static BaseModel base;

  private static final TrainerSettings SETTINGS = TrainerSettings.defaults().withKeptVersions(2);

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(modelDir, 5);
    base = BaseModel.load(modelDir);
  }

  @AfterAll
  static void closeModel() {
    base.close();
  }

  @Test
  void publishedVersionsAreDueOnceAsRecordsAndDroppedOnesAsTombstones() {
    TenantStates states = new TenantStates(base, SETTINGS);
    try (TenantState state = states.fresh("acme")) {
      state.rememberVersion(version(1, new byte[] {1}), 2);
      state.rememberVersion(version(2, new byte[] {2}), 2);
      state.versionRecordsWritten();
      state.rememberVersion(version(3, new byte[] {3}), 2);

      assertThat(state.unwrittenVersions()).extracting(PublishedVersion::getVersion).containsExactly(3L);
      assertThat(state.droppedVersions()).containsExactly(1L);
      AdapterCheckpoint checkpoint = states.checkpoint(state, state.adapter.toPeftSafetensors(), 0);
      assertThat(checkpoint.getRecentVersions()).isEmpty();
      assertThat(checkpoint.getKeptVersions()).extracting(KeptVersionInfo::getVersion).containsExactly(2L, 3L);
      state.versionRecordsWritten();
      assertThat(state.unwrittenVersions()).isEmpty();
      assertThat(state.droppedVersions()).isEmpty();
    }
  }

  @Test
  void restoreTakesTheVersionsWeightsFromTheirRecordsAndLeavesOutAMissingOne() {
    TenantStates states = new TenantStates(base, SETTINGS);
    AdapterCheckpoint checkpoint;
    try (TenantState state = states.fresh("acme")) {
      state.rememberVersion(version(2, new byte[] {2, 2}), 2);
      state.rememberVersion(version(3, new byte[] {3, 3}), 2);
      checkpoint = states.checkpoint(state, state.adapter.toPeftSafetensors(), 0);
    }
    KeptVersion v3 = TenantStates.keptVersion("acme", version(3, new byte[] {3, 3}));
    Map<Long, KeptVersion> records = Map.of(3L, v3);

    try (TenantState restored = states.restore(checkpoint, v -> Optional.ofNullable(records.get(v)))) {
      assertThat(restored.recentVersions()).extracting(PublishedVersion::getVersion).containsExactly(3L);
      assertThat(Bytes.of(restored.recentVersion(3).orElseThrow().getWeights())).containsExactly(3, 3);
      assertThat(restored.unwrittenVersions()).isEmpty();
    }
  }

  @Test
  void aCheckpointThatNamesAKeptVersionForItsWeightsIsRestoredFromThatVersionsRecord() {
    TenantStates states = new TenantStates(base, SETTINGS);
    byte[] weights;
    AdapterCheckpoint checkpoint;
    try (TenantState state = states.fresh("acme")) {
      weights = state.adapter.toPeftSafetensors();
      state.rememberVersion(version(1, weights), 2);
      checkpoint = states.checkpoint(state, weights, 1L, 0);
    }
    assertThat(checkpoint.getWeights().remaining()).isZero();
    assertThat(checkpoint.getWeightsVersion()).isEqualTo(1L);
    KeptVersion v1 = TenantStates.keptVersion("acme", version(1, weights));

    try (TenantState restored = states.restore(checkpoint, v -> v == 1L ? Optional.of(v1) : Optional.empty())) {
      assertThat(restored.adapter.toPeftSafetensors()).isEqualTo(weights);
    }
    assertThatThrownBy(() -> states.restore(checkpoint, KeptVersionWeights.NONE))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("kept version 1").hasMessageContaining("missing");
    KeptVersion wrong = TenantStates.keptVersion("acme", version(1, new byte[] {9}));
    assertThatThrownBy(() -> states.restore(checkpoint, v -> Optional.of(wrong)))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("digest");
  }

  @Test
  void versionsInsideACheckpointOfTheEarlierFormAreWrittenAsRecordsWithTheNextCheckpoint() {
    TenantStates states = new TenantStates(base, SETTINGS);
    AdapterCheckpoint earlierForm;
    try (TenantState state = states.fresh("acme")) {
      state.rememberVersion(version(4, new byte[] {4}), 2);
      state.rememberVersion(version(5, new byte[] {5}), 2);
      earlierForm = AdapterCheckpoint.newBuilder(states.checkpoint(state, state.adapter.toPeftSafetensors(), 0))
          .setRecentVersions(state.recentVersions())
          .setKeptVersions(List.of())
          .build();
    }

    try (TenantState restored = states.restore(earlierForm, KeptVersionWeights.NONE)) {
      assertThat(restored.recentVersions()).extracting(PublishedVersion::getVersion).containsExactly(4L, 5L);
      assertThat(restored.unwrittenVersions()).extracting(PublishedVersion::getVersion).containsExactly(4L, 5L);
      assertThat(Bytes.of(restored.unwrittenVersions().get(1).getWeights())).containsExactly(5);
    }
  }

  private static PublishedVersion version(long version, byte[] weights) {
    return new PublishedVersion(version, ByteBuffer.wrap(weights), Sha256.hex(weights), version * 10,
        Instant.ofEpochMilli(version));
  }
}
