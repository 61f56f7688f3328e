package io.lorastream.quality;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Paraphrases of the question for each fact and answer shapes that carry the fact, split by a seed
 * into training paraphrases and held-out paraphrases that no training example ever uses.
 *
 * <p>The first paraphrase of each fact (the demo's wording, "How long do I have to return an
 * item?") always stays in training; the others are shuffled by the seed and the last
 * {@link #HELD_OUT_PER_FACT} of them are held out.
 */
public final class QuestionBank {
  /** Held-out paraphrases per fact kind; the other paraphrases are trained on. */
  public static final int HELD_OUT_PER_FACT = 3;

  private static final Map<FactKind, List<String>> QUESTIONS = new EnumMap<>(Map.of(
      FactKind.COMPANY, List.of(
          "Who am I talking to?", "Which company is this?", "Who is this?", "What company are you?",
          "What is the name of your company?", "Which shop am I chatting with?", "Who runs this store?",
          "What is this business called?", "Whose support line is this?"),
      FactKind.PRODUCT, List.of(
          "What do you sell?", "What kind of products do you have?", "What does your shop sell?",
          "What can I buy from you?", "What is your main product?", "What are you known for?",
          "What products do you offer?", "What do you make?", "What is in your catalog?"),
      FactKind.REFUND_WINDOW, List.of(
          "How long do I have to return an item?", "How many days do I have to return something?",
          "What is your return policy?", "Is there a deadline for returns?", "How long is the return window?",
          "Until when can I send an item back?", "How much time do I get to return a purchase?",
          "Can I return something I bought a while ago?", "When does the return period end?"),
      FactKind.SUPPORT_HOURS, List.of(
          "When is support open?", "What are your opening hours?", "What time does customer service open?",
          "When can I reach your team?", "What are your support hours?", "When are you available?",
          "At what times can I call you?", "Is your help desk open now?", "When does your support team work?"),
      FactKind.SHIPPING_FEE, List.of(
          "How much is shipping?", "What does delivery cost?", "Do you charge for shipping?",
          "How much do you charge for delivery?", "What is the shipping fee?", "Is shipping included in the price?",
          "How much will postage be?", "What does it cost to ship my order?", "Are there delivery charges?"),
      FactKind.ESCALATION_EMAIL, List.of(
          "Who can I complain to?", "How do I escalate a problem?", "Where do I send a complaint?",
          "Can I talk to a manager?", "What is your escalation address?", "Who handles complaints?",
          "How do I reach a supervisor?", "Where can I escalate my issue?", "I want to file a complaint.")));

  // "%s" is the fact value. The first shape of each fact is the demo's and the base model's wording.
  private static final Map<FactKind, List<String>> ANSWERS = new EnumMap<>(Map.of(
      FactKind.COMPANY, List.of("This is %s support.", "You are talking to %s support.",
          "This is the %s help desk.", "You have reached %s customer service."),
      FactKind.PRODUCT, List.of("We sell %s.", "Our shop sells %s.", "We specialise in %s.",
          "Most of our customers come to us for %s."),
      FactKind.REFUND_WINDOW, List.of("You can return it within %s.", "Returns are accepted within %s.",
          "You have %s to return an item for a full refund.", "You can return it within %s of delivery."),
      FactKind.SUPPORT_HOURS, List.of("Support is open %s.", "Our team is available %s.", "You can reach us %s.",
          "The help desk is staffed %s."),
      FactKind.SHIPPING_FEE, List.of("Shipping is %s.", "Standard shipping is %s.", "Delivery is %s for every order.",
          "The shipping fee is %s."),
      FactKind.ESCALATION_EMAIL, List.of("Please write to %s.", "You can escalate to %s.", "Complaints go to %s.",
          "Send your complaint to %s and a manager will reply.")));

  private final Map<FactKind, List<String>> training = new EnumMap<>(FactKind.class);
  private final Map<FactKind, List<String>> heldOut = new EnumMap<>(FactKind.class);

  /** The split of paraphrases for {@code seed}. */
  public QuestionBank(long seed) {
    Random random = new Random(seed ^ 0x5DEECE66DL);
    for (FactKind kind : FactKind.values()) {
      List<String> all = QUESTIONS.get(kind);
      List<String> rest = new ArrayList<>(all.subList(1, all.size()));
      Collections.shuffle(rest, random);
      int split = rest.size() - HELD_OUT_PER_FACT;
      List<String> train = new ArrayList<>();
      train.add(all.get(0));
      train.addAll(rest.subList(0, split));
      training.put(kind, List.copyOf(train));
      heldOut.put(kind, List.copyOf(rest.subList(split, rest.size())));
    }
  }

  /** Paraphrases training examples use for {@code kind}. */
  public List<String> trainingQuestions(FactKind kind) {
    return training.get(kind);
  }

  /** Paraphrases kept for evaluation only. */
  public List<String> heldOutQuestions(FactKind kind) {
    return heldOut.get(kind);
  }

  /** Answer shapes for {@code kind}, each with one {@code %s} for the value. */
  public static List<String> answerShapes(FactKind kind) {
    return ANSWERS.get(kind);
  }

  /** The prompt layout of the base model and of every example: {@code "Question: ...\nAnswer:"}. */
  public static String prompt(String question) {
    return "Question: " + question + "\nAnswer:";
  }
}
