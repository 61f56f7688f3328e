package io.lorastream.quality;

import io.lorastream.model.pretrain.FactWordings;
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
 * <p>The wordings are {@link FactWordings}, which the base model was pretrained on with made-up
 * shops' values: what is held out is only the tenant's examples, not the English.
 *
 * <p>The first paraphrase of each fact (the demo's wording, "How long do I have to return an
 * item?") always stays in training; the others are shuffled by the seed and the last
 * {@link #HELD_OUT_PER_FACT} of them are held out.
 */
public final class QuestionBank {
  /** Held-out paraphrases per fact kind; the other paraphrases are trained on. */
  public static final int HELD_OUT_PER_FACT = 3;

  // The wordings are shared with the pretraining corpus, which knows them all with its own values.
  private static final Map<FactKind, List<String>> QUESTIONS = new EnumMap<>(Map.of(
      FactKind.COMPANY, FactWordings.COMPANY_QUESTIONS,
      FactKind.PRODUCT, FactWordings.PRODUCT_QUESTIONS,
      FactKind.REFUND_WINDOW, FactWordings.REFUND_WINDOW_QUESTIONS,
      FactKind.SUPPORT_HOURS, FactWordings.SUPPORT_HOURS_QUESTIONS,
      FactKind.SHIPPING_FEE, FactWordings.SHIPPING_FEE_QUESTIONS,
      FactKind.ESCALATION_EMAIL, FactWordings.ESCALATION_EMAIL_QUESTIONS));

  // "%s" is the fact value. The first shape of each fact is the demo's wording.
  private static final Map<FactKind, List<String>> ANSWERS = new EnumMap<>(Map.of(
      FactKind.COMPANY, FactWordings.COMPANY_ANSWERS,
      FactKind.PRODUCT, FactWordings.PRODUCT_ANSWERS,
      FactKind.REFUND_WINDOW, FactWordings.REFUND_WINDOW_ANSWERS,
      FactKind.SUPPORT_HOURS, FactWordings.SUPPORT_HOURS_ANSWERS,
      FactKind.SHIPPING_FEE, FactWordings.SHIPPING_FEE_ANSWERS,
      FactKind.ESCALATION_EMAIL, FactWordings.ESCALATION_EMAIL_ANSWERS));

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
