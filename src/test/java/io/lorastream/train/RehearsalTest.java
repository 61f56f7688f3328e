package io.lorastream.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.model.TrainingPair;
import io.lorastream.model.pretrain.GeneralExchanges;
import java.util.List;
import org.junit.jupiter.api.Test;

class RehearsalTest {
  private static final List<TrainingPair> TENANT = List.of(
      new TrainingPair("Question: How much is shipping?\nAnswer:", " Shipping is $5."),
      new TrainingPair("Question: When is support open?\nAnswer:", " Support is open 9am to 5pm."));

  @Test
  void appendsTheRatioOfTheTenantsExamplesRoundedUpAsGeneralExchangesAfterThem() {
    List<TrainingPair> mixed = new Rehearsal(1.5).mixInto(TENANT, "acme", 16);

    assertThat(mixed).hasSize(5).startsWith(TENANT.toArray(TrainingPair[]::new));
    assertThat(GeneralExchanges.rehearsalPool(20261128L, Rehearsal.POOL_SIZE)).containsAll(mixed.subList(2, 5));
    assertThat(mixed.subList(2, 5)).doesNotContainAnyElementsOf(GeneralExchanges.CANARY);
    assertThat(new Rehearsal(0.5).mixInto(TENANT.subList(0, 1), "acme", 16)).hasSize(2);
  }

  @Test
  void aFullBatchOfEightKeepsFourRowsAndOneExampleGetsOne() {
    Rehearsal half = new Rehearsal(TrainerSettings.DEFAULT_REHEARSAL_RATIO);

    assertThat(half.rowsFor(8)).isEqualTo(4);
    assertThat(half.rowsFor(1)).isEqualTo(1);
    assertThat(half.rowsFor(3)).isEqualTo(2);
    assertThat(new Rehearsal(0.3).rowsFor(10)).isEqualTo(3); // 0.3 × 10 is 3.0000000000000004 in doubles
    assertThat(new Rehearsal(0.25).rowsFor(1)).isEqualTo(1);
  }

  @Test
  void theSameTenantAndExamplesSeenGetTheSameExchangesSoAResumedTrainerRepeatsItsSteps() {
    Rehearsal one = new Rehearsal(1);
    Rehearsal another = new Rehearsal(1); // as in a trainer process restarted from the checkpoint

    assertThat(another.mixInto(TENANT, "acme", 40)).isEqualTo(one.mixInto(TENANT, "acme", 40));
    assertThat(one.mixInto(TENANT, "acme", 48)).isNotEqualTo(one.mixInto(TENANT, "acme", 40));
    assertThat(one.mixInto(TENANT, "globex", 40)).isNotEqualTo(one.mixInto(TENANT, "acme", 40));
  }

  @Test
  void zeroLeavesTheBatchAsItIs() {
    assertThat(new Rehearsal(0).mixInto(TENANT, "acme", 0)).isSameAs(TENANT);
    assertThatThrownBy(() -> new Rehearsal(-1)).hasMessageContaining("at least 0");
    assertThatThrownBy(() -> new Rehearsal(Double.NaN)).hasMessageContaining("at least 0");
  }
}
