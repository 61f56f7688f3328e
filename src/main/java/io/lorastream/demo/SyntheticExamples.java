package io.lorastream.demo;

import io.lorastream.avro.TrainingExample;
import io.lorastream.quality.CustomerServiceDataset;
import io.lorastream.quality.QuestionBank;
import io.lorastream.quality.TenantCatalog;
import io.lorastream.quality.TenantFacts;
import java.time.Instant;
import java.util.List;

/**
 * The demo's examples: the customer-service dataset ({@link CustomerServiceDataset}) for its first
 * three tenants, {@code acme}, {@code globex} and {@code initech}. Every tenant answers the same
 * questions with its own facts, so each adapter visibly learns something different.
 */
public final class SyntheticExamples {
  /** The dataset seed of the demo (and the default of {@code ./lorastream eval}). */
  public static final long SEED = 7L;

  public static final List<TenantFacts> TENANTS = TenantCatalog.DEMO_TENANTS;

  private static final CustomerServiceDataset DATASET = new CustomerServiceDataset(TENANTS.size(), SEED);

  private SyntheticExamples() {}

  /** The prompt the demo and its curl hint use for a question. */
  public static String prompt(String question) {
    return QuestionBank.prompt(question);
  }

  /** "How long do I have to return an item?": a question every demo tenant trains on. */
  public static String firstQuestion() {
    return DATASET.questions().trainingQuestions(io.lorastream.quality.FactKind.REFUND_WINDOW).get(0);
  }

  /** The n-th example of a tenant (n = 0, 1, 2, ...). */
  public static TrainingExample example(TenantFacts tenant, long n) {
    return DATASET.example(tenant, n).toTrainingExample(Instant.now());
  }
}
