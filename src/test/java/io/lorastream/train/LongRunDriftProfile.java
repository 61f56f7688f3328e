package io.lorastream.train;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.Splits;
import io.lorastream.demo.SyntheticExamples;
import io.lorastream.ingest.IngestSettings;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingPair;
import io.lorastream.quality.TenantFacts;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * One demo tenant ({@code acme}) trained for a long run, in process, as the continual trainer
 * trains it (the trainer's default LoRA, learning rate and rehearsal; steps of a fixed number of
 * examples; a tenth of the examples kept for the holdout as ingest tags them, newest 64), printing every 250
 * examples the holdout loss of the current weights (mean of the examples' mean token losses) and
 * the canary loss, with the base model's canary loss first. It shows whether an adapter stays
 * where the quality gate would publish it or drifts away. Not a test: run it with
 * {@code java -cp target/test-classes:target/classes:target/lib/* io.lorastream.train.LongRunDriftProfile
 * EXAMPLES EXAMPLES_PER_STEP [scaled|nodecay|full [LEARNING_RATE|- [SWITCH_AT]]]}: {@code scaled} (the
 * default) takes {@link TrainerSettings#learningRateScale} of the rate as the trainer does, {@code nodecay}
 * the same without the fall after the tenant's first examples, {@code full} the whole rate for every
 * step; the rate of a full batch is the trainer's default unless given. With {@code SWITCH_AT}, the
 * tenant's facts change after that many examples: from then on its examples (and a fresh holdout set)
 * are those of the demo's second tenant, {@code globex}, so the holdout loss shows how fast an
 * adapter trained that long learns new facts.
 */
public final class LongRunDriftProfile {
  private LongRunDriftProfile() {}

  public static void main(String[] args) {
    int total = Integer.parseInt(args[0]);
    int perStep = Integer.parseInt(args[1]);
    String mode = args.length > 2 ? args[2] : "scaled";
    TrainerSettings settings = TrainerSettings.defaults();
    if (mode.equals("nodecay")) {
      settings = settings.withLearningRateDecay(0);
    }
    long switchAt = args.length > 4 ? Long.parseLong(args[4]) : Long.MAX_VALUE;
    if (args.length > 3 && !args[3].equals("-")) {
      settings = settings.withTraining(settings.training().withLearningRate(Float.parseFloat(args[3])));
    }
    Rehearsal rehearsal = new Rehearsal(settings.rehearsalRatio());
    TenantFacts tenant = SyntheticExamples.TENANTS.get(0);
    String tenantId = tenant.tenant(); // the rehearsal draws and the holdout split keep the first id
    double holdoutShare = IngestSettings.DEFAULT_HOLDOUT_SHARE;
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"));
        LoraAdapter adapter = LoraAdapter.initialise(base, settings.lora(), settings.seed());
        LoraTrainer trainer = new LoraTrainer(base, adapter, settings.training());
        LoraAdapter zero = LoraAdapter.initialise(base, settings.lora(), settings.seed());
        LoraTrainer baseModel = new LoraTrainer(base, zero, settings.training())) {
      System.out.printf("%d examples per step, learning rate %.2e, %s; base model canary loss %.4f%n", perStep,
          settings.training().learningRate(), mode, QualityGate.meanLoss(baseModel, CanarySet.PAIRS,
              QualityGate.ROWS_PER_PASS));
      ArrayDeque<TrainingPair> holdout = new ArrayDeque<>();
      List<TrainingPair> step = new ArrayList<>();
      long trained = 0;
      long nextReport = 250;
      for (long n = 0; trained < total; n++) {
        if (trained >= switchAt && tenant == SyntheticExamples.TENANTS.get(0)) {
          tenant = SyntheticExamples.TENANTS.get(1);
          holdout.clear();
          n = 0;
          System.out.printf("facts change: from %d examples on, %s's%n", trained, tenant.tenant());
        }
        TrainingExample e = SyntheticExamples.example(tenant, n);
        TrainingPair pair = new TrainingPair(e.getPrompt(), e.getCompletion(), e.getWeight());
        if (Splits.assign(tenantId, e.getId(), holdoutShare).equals(Splits.HOLDOUT)) {
          holdout.addLast(pair);
          if (holdout.size() > TenantState.HOLDOUT_KEPT) {
            holdout.removeFirst();
          }
          continue;
        }
        step.add(pair);
        if (step.size() < perStep) {
          continue;
        }
        float scale = mode.equals("full") ? 1f : settings.learningRateScale(step.size(), trained);
        trainer.step(rehearsal.mixInto(step, tenantId, trained), scale);
        trained += step.size();
        step.clear();
        if (trained >= nextReport) {
          System.out.printf("trained %5d  holdout loss %.4f (%d examples)  canary loss %.4f  rate x %.3f%n", trained,
              holdoutLoss(trainer, List.copyOf(holdout)), holdout.size(),
              QualityGate.meanLoss(trainer, CanarySet.PAIRS, QualityGate.ROWS_PER_PASS), scale);
          nextReport += trained >= switchAt && trained < switchAt + 1000 ? 50 : 250;
        }
      }
    }
  }

  /** Mean over the examples of each one's mean token loss. */
  private static double holdoutLoss(LoraTrainer trainer, List<TrainingPair> holdout) {
    double sum = 0;
    int counted = 0;
    for (int i = 0; i < holdout.size(); i += QualityGate.ROWS_PER_PASS) {
      for (LoraTrainer.RowLoss row :
          trainer.rowLosses(holdout.subList(i, Math.min(holdout.size(), i + QualityGate.ROWS_PER_PASS)))) {
        sum += row.mean();
        counted++;
      }
    }
    return counted == 0 ? Double.NaN : sum / counted;
  }
}
