package io.lorastream.demo;

import io.lorastream.avro.TrainingExample;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Deterministic customer-service examples for a few demo tenants: every tenant answers the same
 * questions with its own facts, so each adapter visibly learns something different.
 */
public final class SyntheticExamples {
  /** One tenant's facts. */
  public record Tenant(String id, String company, String refundDays, String supportHours, String shippingFee) {}

  public static final List<Tenant> TENANTS = List.of(
      new Tenant("acme", "Acme", "30 days", "9am to 5pm", "$5"),
      new Tenant("globex", "Globex", "14 days", "8am to 8pm", "free"),
      new Tenant("initech", "Initech", "60 days", "around the clock", "$12"));

  private static final List<String> QUESTIONS = List.of(
      "How long do I have to return an item?",
      "When is support open?",
      "How much is shipping?",
      "Who am I talking to?");

  private SyntheticExamples() {}

  /** The prompt the demo and its curl hint use for a question. */
  public static String prompt(String question) {
    return "Question: " + question + "\nAnswer:";
  }

  public static String firstQuestion() {
    return QUESTIONS.get(0);
  }

  /** The n-th example of a tenant (n = 0, 1, 2, ...): the questions in turn. */
  public static TrainingExample example(Tenant tenant, long n) {
    int q = (int) (n % QUESTIONS.size());
    String answer = switch (q) {
      case 0 -> " You can return it within " + tenant.refundDays() + ".";
      case 1 -> " Support is open " + tenant.supportHours() + ".";
      case 2 -> " Shipping is " + tenant.shippingFee() + ".";
      default -> " This is " + tenant.company() + " support.";
    };
    return TrainingExample.newBuilder()
        .setId(tenant.id() + "-" + n)
        .setTenant(tenant.id())
        .setPrompt(prompt(QUESTIONS.get(q)))
        .setCompletion(answer)
        .setWeight(1.0f)
        .setEventTime(Instant.now())
        .setMetadata(Map.of("source", "demo"))
        .build();
  }
}
