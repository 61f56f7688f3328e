package io.lorastream.contract;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.TrainingExample;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SplitsTest {
  @Test
  void fractionIsTheFirstEightBytesOfSha256AndNeverChanges() {
    // SHA-256("acme/q-1") starts a4 4f 70 f4 d3 47 95 c4; its top 53 bits / 2^53 = 0.6418....
    // A change here reshuffles every tenant's holdout set.
    assertThat(Splits.fraction("acme", "q-1")).isEqualTo(PINNED_ACME_Q1);
    assertThat(Splits.fraction("acme", "q-1")).isEqualTo(Splits.fraction("acme", "q-1"));
    assertThat(Splits.fraction("acme", "q-1")).isNotEqualTo(Splits.fraction("globex", "q-1"));
  }

  @Test
  void shareZeroTrainsEverythingAndShareOneHoldsEverythingOut() {
    for (int i = 0; i < 100; i++) {
      assertThat(Splits.assign("acme", "id-" + i, 0.0)).isEqualTo(Splits.TRAIN);
      assertThat(Splits.assign("acme", "id-" + i, 1.0)).isEqualTo(Splits.HOLDOUT);
    }
  }

  @Test
  void untaggedExamplesAreTrainAndTaggedOnesReadBack() {
    TrainingExample untagged = SampleRecords.example("acme", "q-1");
    assertThat(Splits.of(untagged)).isEqualTo(Splits.TRAIN);
    assertThat(Splits.isHoldout(untagged)).isFalse();

    TrainingExample holdout = Splits.tagged(untagged, 1.0);
    assertThat(holdout.getMetadata()).containsEntry(Splits.KEY, Splits.HOLDOUT).containsEntry("source", "test");
    assertThat(Splits.isHoldout(holdout)).isTrue();
    assertThat(Splits.of(Splits.tagged(holdout, 0.0))).isEqualTo(Splits.TRAIN);
    assertThat(Splits.of(TrainingExample.newBuilder(untagged).setMetadata(Map.of(Splits.KEY, "other")).build()))
        .isEqualTo(Splits.TRAIN);
  }

  private static final double PINNED_ACME_Q1 = 0.641837177058987;
}
