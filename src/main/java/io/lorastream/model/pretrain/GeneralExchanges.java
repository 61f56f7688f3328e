package io.lorastream.model.pretrain;

import io.lorastream.model.TrainingPair;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Customer-service exchanges that belong to no shop or tenant, in the pretraining corpus's style,
 * as two disjoint sets:
 *
 * <ul>
 *   <li>{@link #CANARY}: fixed exchanges whose loss measures forgetting. The trainer's quality gate
 *       and the quality evaluation use this same list, so a version the gate lets through is judged
 *       on the same pairs by the evaluation.
 *   <li>{@link #rehearsalPool}: exchanges drawn from {@link CustomerServiceCorpus}'s general
 *       (non-fact) questions that a trainer may mix into a tenant's batches to keep the general
 *       skills while it learns the tenant's facts. No rehearsal pair shares a prompt or a
 *       completion with a canary pair, so rehearsing never trains on what the canary measures.
 * </ul>
 *
 * <p>Neither names a shop, a product line, a policy value or an e-mail address: learning a
 * tenant's facts should leave their loss where the base model has it.
 */
public final class GeneralExchanges {
  private GeneralExchanges() {}

  private static final String[] CANARY_ITEMS = {
    "blue jacket", "coffee maker", "desk lamp", "backpack", "kitchen scale", "office chair", "toaster",
    "umbrella", "bike helmet", "travel mug"
  };

  /** The shared canary set: 10 conversational exchanges, 20 damaged-item and exchange requests, 2 account tasks. */
  public static final List<TrainingPair> CANARY = canary();

  private static List<TrainingPair> canary() {
    List<TrainingPair> out = new ArrayList<>(List.of(
        pair("Hello, can you help me?", " Of course. What can I do for you today?"),
        pair("Thank you for your help.", " You are welcome. Is there anything else?"),
        pair("I have a question about my order.", " I am happy to help. Could you tell me your order number?"),
        pair("Can I speak to a person?", " Yes, I will connect you with a colleague."),
        pair("Are you open on weekends?", " Let me check the opening hours for you."),
        pair("My password does not work.", " I am sorry to hear that. Let us reset it together."),
        pair("How do I contact support?", " You can write to us here at any time."),
        pair("Goodbye.", " Goodbye, and have a nice day."),
        pair("I am not happy with the service.", " I am sorry. Please tell me what went wrong so I can help."),
        pair("Can you repeat that?", " Certainly. Here it is again.")));
    for (String item : CANARY_ITEMS) {
      out.add(pair("My " + item + " arrived damaged.",
          " I am sorry about that. We will send you a new " + item + " at no cost."));
      out.add(pair("Can I exchange my " + item + " for another size?",
          " Yes. Start an exchange from your orders page and pick the medium size."));
    }
    out.add(pair("How do I reset my password?",
        " Click \"Forgot password\" on the sign-in page and follow the link we email you."));
    out.add(pair("Can I cancel my order?",
        " You can cancel an order until it ships. Open your orders and choose \"Cancel\"."));
    return List.copyOf(out);
  }

  /**
   * {@code size} distinct general exchanges from the pretraining corpus drawn with {@code seed}:
   * its question/answer documents minus the six shop facts (any wording of {@link FactWordings}),
   * minus anything naming a shop or an address, minus every prompt or completion of the canary.
   */
  public static List<TrainingPair> rehearsalPool(long seed, int size) {
    if (size < 1) {
      throw new IllegalArgumentException("rehearsal pool size must be at least 1, got " + size);
    }
    Set<String> factQuestions = new HashSet<>(FactWordings.allQuestions());
    Set<String> canaryText = new HashSet<>();
    CANARY.forEach(p -> {
      canaryText.add(p.prompt());
      canaryText.add(p.completion());
    });
    CustomerServiceCorpus corpus = new CustomerServiceCorpus(seed);
    Set<TrainingPair> pool = new LinkedHashSet<>();
    // About a third of the corpus's documents qualify; the bound only guards against a corpus change.
    for (int drawn = 0; pool.size() < size; drawn++) {
      if (drawn > 1000 * size) {
        throw new IllegalStateException("the corpus gave only " + pool.size() + " general exchanges");
      }
      String document = corpus.next();
      if (!document.startsWith("Question: ") || document.contains("@")) {
        continue;
      }
      int split = document.indexOf("\nAnswer: ");
      String question = document.substring("Question: ".length(), split);
      TrainingPair candidate = pair(question, document.substring(split + "\nAnswer:".length()));
      if (!factQuestions.contains(question) && !namesAShop(document)
          && !canaryText.contains(candidate.prompt()) && !canaryText.contains(candidate.completion())) {
        pool.add(candidate);
      }
    }
    return List.copyOf(pool);
  }

  private static boolean namesAShop(String text) {
    for (String shop : CustomerServiceCorpus.SHOPS) {
      if (text.contains(shop)) {
        return true;
      }
    }
    return false;
  }

  /** A question in the serving format ({@code "Question: ...\nAnswer:"}) and its completion. */
  private static TrainingPair pair(String question, String completion) {
    return new TrainingPair("Question: " + question + "\nAnswer:", completion);
  }
}
