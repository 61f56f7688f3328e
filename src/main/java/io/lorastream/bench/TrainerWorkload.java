package io.lorastream.bench;

import io.lorastream.avro.TrainingExample;
import io.lorastream.model.TrainingPair;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Deterministic customer-service training examples for benchmarks: tenant {@code t}'s {@code n}-th
 * example depends only on the seed, {@code t} and {@code n}. Each tenant has its own facts; a prompt
 * and its completion come to about 20-40 tokens with the lorastream-tiny tokenizer.
 */
public final class TrainerWorkload {
  private static final String[] COMPANIES = {"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay",
      "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Wonka"};
  private static final String[] DAYS = {"7 days", "14 days", "30 days", "60 days", "90 days"};
  private static final String[] HOURS = {"9am to 5pm", "8am to 8pm", "around the clock", "10am to 6pm"};
  private static final String[] FEES = {"free", "$5", "$7.50", "$12"};
  private static final String[] ITEMS = {"order", "parcel", "invoice", "subscription", "refund"};
  private static final String[] QUESTIONS = {
      "How long do I have to return an item?",
      "When is support open?",
      "How much is shipping?",
      "Who am I talking to?",
      "Where is my %s %d?",
      "Can I change the address on my %s %d?"};

  private final long seed;

  public TrainerWorkload(long seed) {
    this.seed = seed;
  }

  public static String tenantId(int t) {
    return String.format("tenant-%05d", t);
  }

  /** Tenant {@code t}'s {@code n}-th example as a training pair. */
  public TrainingPair pair(int t, long n) {
    SplittableRandom facts = new SplittableRandom(seed * 1_000_003L + t);
    String company = COMPANIES[facts.nextInt(COMPANIES.length)];
    String days = DAYS[facts.nextInt(DAYS.length)];
    String hours = HOURS[facts.nextInt(HOURS.length)];
    String fee = FEES[facts.nextInt(FEES.length)];
    SplittableRandom r = new SplittableRandom((seed * 31 + t) * 1_000_003L + n);
    int q = r.nextInt(QUESTIONS.length);
    String item = ITEMS[r.nextInt(ITEMS.length)];
    int number = 1000 + r.nextInt(9000);
    String question = String.format(QUESTIONS[q], item, number);
    String answer = switch (q) {
      case 0 -> " You can return it within " + days + " for a full refund.";
      case 1 -> " Support is open " + hours + ", every weekday.";
      case 2 -> " Shipping is " + fee + " on every " + item + ".";
      case 3 -> " This is " + company + " support, happy to help.";
      case 4 -> " Your " + item + " " + number + " ships within two days from " + company + ".";
      default -> " Yes, " + company + " can change it until the " + item + " ships.";
    };
    return new TrainingPair("Question: " + question + "\nAnswer:", answer, 1f);
  }

  /** {@code size} consecutive examples of tenant {@code t} from its {@code first}-th. */
  public List<TrainingPair> batch(int t, long first, int size) {
    List<TrainingPair> batch = new ArrayList<>(size);
    for (int i = 0; i < size; i++) {
      batch.add(pair(t, first + i));
    }
    return batch;
  }

  /** Tenant {@code t}'s {@code n}-th example as a record for the trainer's input topic. */
  public TrainingExample example(int t, long n, Instant eventTime) {
    TrainingPair p = pair(t, n);
    return TrainingExample.newBuilder()
        .setId(tenantId(t) + "-" + n)
        .setTenant(tenantId(t))
        .setPrompt(p.prompt())
        .setCompletion(p.completion())
        .setWeight(p.weight())
        .setEventTime(eventTime)
        .setMetadata(Map.of("source", "bench"))
        .build();
  }
}
