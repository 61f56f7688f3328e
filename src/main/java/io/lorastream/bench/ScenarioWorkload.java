package io.lorastream.bench;

import io.lorastream.avro.TrainingExample;
import io.lorastream.model.TrainingPair;
import java.time.Instant;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The examples and completion requests of a {@link Scenario}, each a pure function of the
 * scenario's seed and its sequence number: examples go round robin over the tenants (example i
 * belongs to tenant i mod tenants), requests pick a tenant at random; both use
 * {@link TrainerWorkload}'s customer-service questions, with the scenario's seeded context words
 * put first.
 */
public final class ScenarioWorkload {
  private static final String[] WORDS = {"customer", "account", "order", "delivery", "refund", "support",
      "invoice", "parcel", "address", "payment", "store", "warranty", "exchange", "ticket", "return", "item"};

  /** A completion request: the tenant (also the model name) and the prompt. */
  public record Request(String tenant, String prompt, int maxTokens) {}

  private final Scenario scenario;
  private final TrainerWorkload questions;

  public ScenarioWorkload(Scenario scenario) {
    this.scenario = scenario;
    this.questions = new TrainerWorkload(scenario.seed());
  }

  /** Tenant id of tenant index {@code t}. */
  public static String tenant(int t) {
    return TrainerWorkload.tenantId(t);
  }

  /** The {@code i}-th example sent (0-based), stamped with {@code eventTime}. */
  public TrainingExample example(long i, Instant eventTime) {
    int t = (int) (i % scenario.tenants());
    long n = i / scenario.tenants();
    TrainingPair pair = questions.pair(t, n);
    return TrainingExample.newBuilder()
        .setId(tenant(t) + "-" + n)
        .setTenant(tenant(t))
        .setPrompt(context(0x5eedL, i) + pair.prompt())
        .setCompletion(pair.completion())
        .setWeight(pair.weight())
        .setEventTime(eventTime)
        .setMetadata(Map.of("source", "bench-e2e"))
        .build();
  }

  /** The {@code i}-th completion request sent (0-based). */
  public Request request(long i) {
    SplittableRandom r = new SplittableRandom(scenario.seed() * 0x9E3779B97F4A7C15L + i);
    int t = r.nextInt(scenario.tenants());
    String prompt = context(0xa5L, i) + questions.pair(t, 1_000_000L + i).prompt();
    return new Request(tenant(t), prompt, scenario.maxTokens());
  }

  /** {@code contextWords} seeded words as a "Context:" line, or "" when the scenario has none. */
  private String context(long salt, long i) {
    if (scenario.contextWords() == 0) {
      return "";
    }
    SplittableRandom r = new SplittableRandom((scenario.seed() ^ salt) * 1_000_003L + i);
    StringBuilder line = new StringBuilder("Context:");
    for (int w = 0; w < scenario.contextWords(); w++) {
      line.append(' ').append(WORDS[r.nextInt(WORDS.length)]);
    }
    return line.append('\n').toString();
  }
}
