package io.lorastream.model.pretrain;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.model.BaseModel;
import io.lorastream.model.SafeTensors;
import io.lorastream.model.TinyModelFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BasePretrainerTest {
  @TempDir Path tmp;

  static final BasePretrainer.Settings SETTINGS =
      new BasePretrainer.Settings(12, 4, 32, 3e-3f, 3e-4f, 2, 0.1f, 1f, 5);

  @Test
  void learningRateWarmsUpThenDecaysToTheMinimum() {
    assertThat(SETTINGS.learningRate(1)).isEqualTo(1.5e-3, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(SETTINGS.learningRate(2)).isEqualTo(3e-3, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(SETTINGS.learningRate(12)).isEqualTo(3e-4, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void lossFallsAndRunsAreBitIdentical() {
    byte[][] weights = new byte[2][];
    for (int run = 0; run < 2; run++) {
      Path dir = tmp.resolve("m" + run);
      TinyModelFactory.create(dir, 1);
      try (BaseModel base = BaseModel.load(dir)) {
        Map<String, float[]> initial = new LinkedHashMap<>();
        base.tensors().forEach((name, array) -> initial.put(name, array.toFloatArray()));
        List<int[]> docs = new ArrayList<>();
        for (String d : new CustomerServiceCorpus(2).documents(50)) {
          docs.add(base.tokenizer().encode(d));
        }
        PackedBatches batches = new PackedBatches(docs, 1, 2, SETTINGS.sequenceLength(), SETTINGS.seed());
        long[] heldOut = new PackedBatches(docs, 1, 2, SETTINGS.sequenceLength(), 99).next(4);
        try (BasePretrainer trainer = new BasePretrainer(base, SETTINGS)) {
          float before = trainer.loss(heldOut);
          for (int s = 0; s < SETTINGS.steps(); s++) {
            trainer.step(batches.next(SETTINGS.batchSize()));
          }
          float after = trainer.loss(heldOut);
          assertThat(after).isLessThan(before - 1f);
          assertThat(trainer.step()).isEqualTo(SETTINGS.steps());
        }
        // Every weight learned, the q/k/v projections (views of one stacked matrix) included:
        // changed by more than weight decay's common factor.
        base.tensors().forEach((name, array) ->
            assertThat(ratioSpread(initial.get(name), array.toFloatArray())).as(name).isGreaterThan(1e-3));
        weights[run] = SafeTensors.toBytes(base.tensors());
      }
    }
    assertThat(weights[1]).isEqualTo(weights[0]);
  }

  /** max - min over i of after[i] / before[i]: 0 when the weight was only scaled. */
  private static double ratioSpread(float[] before, float[] after) {
    double min = Double.MAX_VALUE;
    double max = -Double.MAX_VALUE;
    for (int i = 0; i < before.length; i++) {
      if (Math.abs(before[i]) > 1e-6) {
        double ratio = (double) after[i] / before[i];
        min = Math.min(min, ratio);
        max = Math.max(max, ratio);
      }
    }
    return max - min;
  }

  @Test
  void rowsPackWholeDocumentsBetweenBosAndEos() {
    List<int[]> docs = List.of(new int[] {10, 11}, new int[] {20});
    long[] row = new PackedBatches(docs, 1, 2, 7, 0).next(1);
    assertThat(row).hasSize(8);
    // Starts at a document, then the next ones in order, each as bos .. eos.
    String text = java.util.Arrays.toString(row);
    assertThat(text).satisfiesAnyOf(
        t -> assertThat(t).isEqualTo("[1, 10, 11, 2, 1, 20, 2, 1]"),
        t -> assertThat(t).isEqualTo("[1, 20, 2, 1, 10, 11, 2, 1]"));
  }
}
