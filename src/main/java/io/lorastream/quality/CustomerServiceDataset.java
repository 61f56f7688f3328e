package io.lorastream.quality;

import io.lorastream.model.TrainingPair;
import io.lorastream.train.CanarySet;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The multi-tenant customer-service dataset: per tenant an endless deterministic stream of
 * training examples (its facts asked with training paraphrases), its held-out questions (the same
 * facts asked with paraphrases never trained on), and one canary set shared by all tenants
 * (general customer-service exchanges with no tenant fact) to measure forgetting.
 *
 * <p>Everything derives from {@code seed}: the same seed gives the same tenants, split, examples
 * and canary set, and example {@code n} of a tenant does not depend on which others were drawn.
 */
public final class CustomerServiceDataset {
  private final long seed;
  private final List<TenantFacts> tenants;
  private final QuestionBank bank;

  public CustomerServiceDataset(int tenantCount, long seed) {
    this.seed = seed;
    this.tenants = TenantCatalog.tenants(tenantCount, seed);
    this.bank = new QuestionBank(seed);
  }

  public long seed() {
    return seed;
  }

  public List<TenantFacts> tenants() {
    return tenants;
  }

  public QuestionBank questions() {
    return bank;
  }

  /**
   * Example {@code n} (0, 1, 2, ...) of {@code tenant}: the facts in turn (so every fact is taught
   * equally often), a training paraphrase and an answer shape drawn from (seed, tenant, n).
   */
  public LabelledExample example(TenantFacts tenant, long n) {
    if (n < 0) {
      throw new IllegalArgumentException("example index must not be negative, got " + n);
    }
    FactKind kind = FactKind.values()[(int) (n % FactKind.values().length)];
    SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + tenant.tenant().hashCode() * 31L + n);
    List<String> questions = bank.trainingQuestions(kind);
    List<String> shapes = QuestionBank.answerShapes(kind);
    String question = questions.get(random.nextInt(questions.size()));
    String answer = String.format(shapes.get(random.nextInt(shapes.size())), tenant.value(kind));
    return new LabelledExample(tenant.tenant() + "-" + n, tenant.tenant(), kind, question,
        QuestionBank.prompt(question), " " + answer);
  }

  /** The first {@code count} examples of a tenant. */
  public List<LabelledExample> examples(TenantFacts tenant, int count) {
    List<LabelledExample> out = new ArrayList<>(count);
    for (int n = 0; n < count; n++) {
      out.add(example(tenant, n));
    }
    return out;
  }

  /** Every held-out paraphrase of every fact of {@code tenant}. */
  public List<FactQuestion> heldOut(TenantFacts tenant) {
    List<FactQuestion> out = new ArrayList<>();
    for (FactKind kind : FactKind.values()) {
      for (String question : bank.heldOutQuestions(kind)) {
        out.add(new FactQuestion(tenant.tenant(), kind, QuestionBank.prompt(question), tenant.value(kind)));
      }
    }
    return out;
  }

  /** Per fact, the first training paraphrase (the demo's wording): recall of what was trained on. */
  public List<FactQuestion> trainedProbes(TenantFacts tenant) {
    List<FactQuestion> out = new ArrayList<>();
    for (FactKind kind : FactKind.values()) {
      out.add(new FactQuestion(tenant.tenant(), kind, QuestionBank.prompt(bank.trainingQuestions(kind).get(0)),
          tenant.value(kind)));
    }
    return out;
  }

  /**
   * The shared canary set: the trainer's gate canaries ({@link CanarySet}, general exchanges in the
   * pretraining corpus's own style that carry no tenant fact), so what the gate lets through is
   * judged on the same pairs.
   */
  public List<TrainingPair> canary() {
    return CanarySet.PAIRS;
  }
}
