package io.lorastream.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.HoldoutExample;
import io.lorastream.avro.PublishedVersion;
import io.lorastream.contract.Bytes;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.model.TrainingPair;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quality gate: the holdout check against hand-set losses of published versions, and the canary check. */
class QualityGateTest {
  @TempDir static Path modelDir;
  static BaseModel base;

  /** A relative margin only (no least margin in nats), so the tests below can set losses of any size. */
  private static final TrainerSettings SETTINGS = TrainerSettings.defaults()
      .withGate(new TrainerSettings.Gate(0.10, 0, Double.POSITIVE_INFINITY, 2));

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(modelDir, 3);
    base = BaseModel.load(modelDir);
  }

  @AfterAll
  static void closeModel() {
    base.close();
  }

  @Test
  void aCandidateWithinTheMarginOfTheNewestButNotOfTheBestVersionIsGated() {
    try (TenantState state = trainedState(); QualityGate gate = new QualityGate(base, SETTINGS)) {
      float candidate = gate.evaluate(state).holdoutLoss(); // no published version yet: nothing to compare
      byte[] weights = state.adapter.toPeftSafetensors();
      state.rememberVersion(version(1, weights), 5);
      state.rememberVersion(version(2, weights), 5);
      // v1 was the best; v2, published within v1's margin, was a bit worse. The candidate is 5%
      // worse than v2 (inside the margin) but 15% worse than v1: a walk down, so it is gated.
      knownLoss(state, 1, candidate / 1.15f);
      knownLoss(state, 2, candidate / 1.05f);

      QualityGate.Evaluation evaluation = gate.evaluate(state);

      assertThat(evaluation.gatedBy()).isEqualTo("holdout");
      assertThat(evaluation.referenceHoldoutLoss()).isCloseTo(candidate / 1.15f, Offset.offset(1e-6f));
    }
  }

  @Test
  void aRiseWithinTheLeastMarginIsPublishedEvenWhereTheRelativeMarginIsSmallerButALargerRiseIsNot() {
    // The relative margin (0.1% here, as 10% is of a loss of 0.2-0.6 nats on a tenant that has
    // learned its facts) is far below the least margin of 0.10 nats on this model's losses (~6).
    TrainerSettings.Gate relative = new TrainerSettings.Gate(0.001, 0, Double.POSITIVE_INFINITY, 2);
    TrainerSettings.Gate withLeast = new TrainerSettings.Gate(0.001, 0.10, Double.POSITIVE_INFINITY, 2);
    try (TenantState state = trainedState();
        QualityGate relativeOnly = new QualityGate(base, SETTINGS.withGate(relative));
        QualityGate gate = new QualityGate(base, SETTINGS.withGate(withLeast))) {
      float candidate = gate.evaluate(state).holdoutLoss();
      state.rememberVersion(version(1, state.adapter.toPeftSafetensors()), 5);
      assertThat(candidate * 0.001f).isLessThan(0.06f);

      knownLoss(state, 1, candidate - 0.06f); // the best kept version was 0.06 nats better
      assertThat(relativeOnly.evaluate(state).gatedBy()).isEqualTo("holdout");
      assertThat(gate.evaluate(state).gatedBy()).isNull();

      knownLoss(state, 1, candidate - 0.15f); // 0.15 nats better: beyond the least margin too
      assertThat(gate.evaluate(state).gatedBy()).isEqualTo("holdout");
    }
  }

  @Test
  void theAllowanceIsTheRelativeMarginOrTheLeastMarginWhicheverIsLarger() {
    TrainerSettings.Gate gate = new TrainerSettings.Gate(0.10, 0.05, 0.05, 2);
    assertThat(gate.holdoutAllowance(0.2)).isEqualTo(0.05);
    assertThat(gate.holdoutAllowance(3.0)).isCloseTo(0.3, Offset.offset(1e-12));
  }

  @Test
  void versionsWithoutAKnownLossAreEvaluatedOnTheCurrentHoldoutSet() {
    try (TenantState state = trainedState(); QualityGate gate = new QualityGate(base, SETTINGS)) {
      float candidate = gate.evaluate(state).holdoutLoss();
      state.rememberVersion(version(1, state.adapter.toPeftSafetensors()), 5); // the same weights

      QualityGate.Evaluation evaluation = gate.evaluate(state);

      assertThat(evaluation.gatedBy()).isNull();
      assertThat(evaluation.referenceHoldoutLoss()).isCloseTo(candidate, Offset.offset(1e-5f));
      assertThat(state.versionHoldoutLoss(1)).hasValueSatisfying(
          loss -> assertThat(loss).isCloseTo(candidate, Offset.offset(1e-5f)));
      // A new holdout example's loss is not known yet, so neither is the set's.
      state.keepHoldout(new HoldoutExample("h-9", "Question: when?\nAnswer:", " now.", 1f));
      assertThat(state.versionHoldoutLoss(1)).isEmpty();
    }
  }

  @Test
  void aNewHoldoutExampleCostsOneRowPerModelAndGivesTheLossesAndDecisionOfAFullEvaluation() {
    try (TenantState state = trainedState(); QualityGate gate = new QualityGate(base, SETTINGS)) {
      byte[] v1 = state.adapter.toPeftSafetensors();
      state.rememberVersion(version(1, v1), 5);
      state.trainer.step(List.of(new TrainingPair("Question: shipping?\nAnswer:", " $5.", 1f)));
      state.rememberVersion(version(2, state.adapter.toPeftSafetensors()), 5);
      state.trainer.step(List.of(new TrainingPair("Question: support hours?\nAnswer:", " 9am to 5pm.", 1f)));
      gate.evaluate(state); // every model's losses on h-0 and h-1 are now known
      state.keepHoldout(new HoldoutExample("h-2", "Question: how long for a refund?\nAnswer:", " 30 days, sir.", 2f));
      long rowsBefore = gate.holdoutRowsEvaluated();

      QualityGate.Evaluation cached = gate.evaluate(state);

      // The candidate's 3 rows, then h-2 alone for the base model and each of the two versions.
      assertThat(gate.holdoutRowsEvaluated() - rowsBefore).isEqualTo(3 + 1 + 2);
      List<TrainingPair> holdout = state.holdoutPairs();
      float full = QualityGate.meanLoss(state.trainer, holdout, 16);
      float fullBase;
      try (LoraAdapter zero = LoraAdapter.initialise(base, SETTINGS.lora(), 1);
          LoraTrainer baseModel = new LoraTrainer(base, zero, SETTINGS.training())) {
        fullBase = QualityGate.meanLoss(baseModel, holdout, 16);
      }
      float fullReference = Float.POSITIVE_INFINITY;
      for (PublishedVersion v : state.recentVersions()) {
        try (LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(Bytes.of(v.getWeights()),
                SETTINGS.lora(), base);
            LoraTrainer evaluator = new LoraTrainer(base, adapter, SETTINGS.training())) {
          fullReference = Math.min(fullReference, QualityGate.meanLoss(evaluator, holdout, 16));
        }
      }
      assertThat(cached.holdoutLoss()).isCloseTo(full, Offset.offset(1e-4f * full));
      assertThat(cached.baseHoldoutLoss()).isCloseTo(fullBase, Offset.offset(1e-4f * fullBase));
      assertThat(cached.referenceHoldoutLoss()).isCloseTo(fullReference, Offset.offset(1e-4f * fullReference));
      assertThat(cached.gatedBy()).isEqualTo(
          full <= fullReference + SETTINGS.gate().holdoutAllowance(fullReference) ? null : "holdout");
    }
  }

  @Test
  void checksThatAreOffEvaluateNothing() {
    try (TenantState state = trainedState();
        QualityGate open = new QualityGate(base, SETTINGS.withGate(TrainerSettings.Gate.open()))) {
      QualityGate.Evaluation evaluation = open.evaluate(state);
      assertThat(evaluation.gatedBy()).isNull();
      assertThat(evaluation.holdoutLoss()).isNull();
      assertThat(evaluation.baseHoldoutLoss()).isNull();
      assertThat(evaluation.canaryLoss()).isNull();
      assertThat(state.baseHoldoutLoss()).as("the base model's holdout loss was not computed").isEmpty();
    }
    try (TenantState state = trainedState();
        QualityGate canaryOnly = new QualityGate(base,
            SETTINGS.withGate(new TrainerSettings.Gate(Double.POSITIVE_INFINITY, 0, 10.0, 2)))) {
      QualityGate.Evaluation evaluation = canaryOnly.evaluate(state);
      assertThat(evaluation.holdoutLoss()).isNull();
      assertThat(evaluation.canaryLoss()).isNotNull();
    }
  }

  @Test
  void theCanaryCheckComparesTheSharedCanarySetWithTheBaseModel() {
    try (TenantState state = trainedState();
        LoraAdapter zero = LoraAdapter.initialise(base, SETTINGS.lora(), 1);
        LoraTrainer baseModel = new LoraTrainer(base, zero, SETTINGS.training());
        QualityGate noWorseThanTheBase = new QualityGate(base,
            SETTINGS.withGate(new TrainerSettings.Gate(Double.POSITIVE_INFINITY, 0, 0, 2)))) {
      for (int i = 0; i < 5; i++) { // move the adapter far enough for its canary loss to differ from the base's
        state.trainer.step(List.of(new TrainingPair("Question: refunds?\nAnswer:", " 30 days.", 1f)));
      }
      // Passes of 8 rows: another pass size than the gate's, the same mean.
      float candidate = QualityGate.meanLoss(state.trainer, CanarySet.PAIRS, 8);
      float baseLoss = QualityGate.meanLoss(baseModel, CanarySet.PAIRS, 8);
      assertThat(Math.abs(candidate / baseLoss - 1)).isGreaterThan(1e-3f);

      QualityGate.Evaluation evaluation = noWorseThanTheBase.evaluate(state);

      assertThat(evaluation.canaryLoss()).isCloseTo(candidate, Offset.offset(1e-4f));
      assertThat(evaluation.gatedBy()).isEqualTo(candidate > baseLoss ? "canary" : null);
    }
  }

  @Test
  void eachHoldoutExampleGetsItsOwnLossWhateverPassEvaluatedIt() {
    try (TenantState state = trainedState(); QualityGate gate = new QualityGate(base, SETTINGS)) {
      // 40 examples of lengths that differ and do not arrive in order of length: three passes,
      // each taking the examples of similar length.
      for (int i = 0; i < 40; i++) {
        String words = " please".repeat((i * 7) % 11);
        state.keepHoldout(new HoldoutExample("long-" + i, "Question: refund" + words + "?\nAnswer:",
            " " + (i % 5 + 1) + "0 days.", 1f));
      }
      List<HoldoutExample> holdout = state.holdout();

      QualityGate.Evaluation evaluation = gate.evaluate(state);

      assertThat(evaluation.holdoutExamples()).isEqualTo(holdout);
      for (int i = 0; i < holdout.size(); i++) {
        HoldoutExample h = holdout.get(i);
        LoraTrainer.RowLoss alone = state.trainer.rowLosses(
            List.of(new TrainingPair(h.getPrompt(), h.getCompletion(), h.getWeight())))[0];
        assertThat(evaluation.holdoutRows()[i].tokens()).as(h.getId()).isEqualTo(alone.tokens());
        assertThat(evaluation.holdoutRows()[i].lossSum()).as(h.getId())
            .isCloseTo(alone.lossSum(), Offset.offset(1e-4f * Math.max(1f, alone.lossSum())));
      }
    }
  }

  private static TenantState trainedState() {
    LoraAdapter adapter = LoraAdapter.initialise(base, SETTINGS.lora(), 1);
    LoraTrainer trainer = new LoraTrainer(base, adapter, SETTINGS.training());
    trainer.step(List.of(new TrainingPair("Question: refunds?\nAnswer:", " 30 days.", 1f)));
    TenantState state = new TenantState("acme", adapter, trainer, Map.of(), 1, 0, null);
    state.keepHoldout(new HoldoutExample("h-0", "Question: refund window?\nAnswer:", " 30 days.", 1f));
    state.keepHoldout(new HoldoutExample("h-1", "Question: returns?\nAnswer:", " within 30 days.", 1f));
    return state;
  }

  /** Sets a model's loss on every current holdout example to {@code loss}, as if evaluated. */
  private static void knownLoss(TenantState state, long model, float loss) {
    List<HoldoutExample> holdout = state.holdout();
    LoraTrainer.RowLoss[] rows = new LoraTrainer.RowLoss[holdout.size()];
    Arrays.fill(rows, new LoraTrainer.RowLoss(loss, 1));
    state.holdoutLosses.put(model, holdout, rows);
  }

  private static PublishedVersion version(long version, byte[] weights) {
    return new PublishedVersion(version, ByteBuffer.wrap(weights), "sha", 1L, Instant.EPOCH);
  }
}
