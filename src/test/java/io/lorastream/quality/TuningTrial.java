package io.lorastream.quality;

import io.lorastream.model.BaseModel;
import io.lorastream.model.Generator;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingPair;
import io.lorastream.model.TrainingSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Trains a few tenants of the dataset directly with {@link LoraTrainer} (no Kafka) and prints
 * held-out accuracy, leakage and canary change at a few example counts: a quick way to compare
 * LoRA and optimizer settings. Args: lr rank alpha targets(comma) batch tenants maxExamples.
 */
public final class TuningTrial {
  public static void main(String[] args) {
    float lr = Float.parseFloat(args[0]);
    int rank = Integer.parseInt(args[1]);
    float alpha = Float.parseFloat(args[2]);
    List<String> targets = Arrays.asList(args[3].split(","));
    int batch = Integer.parseInt(args[4]);
    int tenantCount = Integer.parseInt(args[5]);
    int maxExamples = Integer.parseInt(args[6]);
    CustomerServiceDataset data = new CustomerServiceDataset(Math.max(tenantCount, 3), 7L);
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"))) {
      Generator generator = new Generator(base);
      List<TenantFacts> tenants = data.tenants().subList(0, tenantCount);
      List<LoraAdapter> adapters = new ArrayList<>();
      List<LoraTrainer> trainers = new ArrayList<>();
      LoraConfig config = new LoraConfig(rank, alpha, targets, 0f, false);
      for (int i = 0; i < tenants.size(); i++) {
        LoraAdapter a = LoraAdapter.initialise(base, config, 42L + i);
        adapters.add(a);
        trainers.add(new LoraTrainer(base, a, TrainingSettings.defaults().withLearningRate(lr)));
      }
      report(0, data, tenants, generator, base, null);
      long t0 = System.nanoTime();
      for (int seen = 0; seen < maxExamples; seen += batch) {
        for (int i = 0; i < tenants.size(); i++) {
          List<TrainingPair> pairs = new ArrayList<>();
          for (LabelledExample e : data.examples(tenants.get(i), seen + batch).subList(seen, seen + batch)) {
            pairs.add(new TrainingPair(e.prompt(), e.completion()));
          }
          trainers.get(i).step(pairs);
        }
        int now = seen + batch;
        if (now == 96 || now >= maxExamples) {
          System.out.printf("train seconds %.1f%n", (System.nanoTime() - t0) / 1e9);
          report(now, data, tenants, generator, base, adapters);
        }
      }
    }
  }

  private static void report(int seen, CustomerServiceDataset data, List<TenantFacts> tenants, Generator generator,
      BaseModel base, List<LoraAdapter> adapters) {
    List<AnsweredQuestion> answered = new ArrayList<>();
    double canary = 0;
    for (int i = 0; i < tenants.size(); i++) {
      LoraAdapter adapter = adapters == null ? null : adapters.get(i);
      for (FactQuestion q : data.heldOut(tenants.get(i))) {
        answered.add(new AnsweredQuestion(q, generator.generate(q.prompt(), adapter, 24).text()));
      }
      if (adapter != null) {
        canary += CanaryLoss.of(base, adapter, data.canary()).relativeChange() / tenants.size();
      }
    }
    List<AnsweredQuestion> trained = new ArrayList<>();
    for (int i = 0; i < tenants.size(); i++) {
      LoraAdapter adapter = adapters == null ? null : adapters.get(i);
      for (FactKind kind : FactKind.values()) {
        String question = data.questions().trainingQuestions(kind).get(1);
        FactQuestion q = new FactQuestion(tenants.get(i).tenant(), kind, QuestionBank.prompt(question),
            tenants.get(i).value(kind));
        trained.add(new AnsweredQuestion(q, generator.generate(q.prompt(), adapter, 24).text()));
      }
    }
    System.out.printf("trained-paraphrase acc %.3f%n", FactScores.score(data.tenants(), trained).overall().accuracy());
    FactScores s = FactScores.score(data.tenants(), answered);
    System.out.printf("seen %d acc %.3f leak %.3f canary %+.4f%n", seen, s.overall().accuracy(),
        s.overall().leakage(), canary);
    for (AnsweredQuestion a : answered.subList(0, Math.min(18, answered.size()))) {
      if (!FactMatcher.states(a.answer(), a.question().expected())) {
        System.out.printf("   MISS %s | %s -> %s%n", a.question().prompt().replace("\n", " "), a.question().expected(),
            a.answer());
      }
    }
  }
}
