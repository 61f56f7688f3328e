package io.lorastream.model.pretrain;

import java.util.List;

/**
 * The English wordings of the six customer-service facts a shop states (company name, product
 * line, refund window, support hours, shipping fee, escalation e-mail): the ways a customer asks
 * for each and the answer shapes that carry it, each shape with one {@code %s} for the value.
 *
 * <p>The pretraining corpus uses every wording, so the base model knows which fact each
 * paraphrase asks for; the quality dataset ({@code io.lorastream.quality.QuestionBank}) asks
 * tenants' facts in the same wordings and holds some of them out of the tenants' training
 * examples. The first question and first answer shape of each fact are the demo's wording.
 */
public final class FactWordings {
  public static final List<String> COMPANY_QUESTIONS = List.of(
      "Who am I talking to?", "Which company is this?", "Who is this?", "What company are you?",
      "What is the name of your company?", "Which shop am I chatting with?", "Who runs this store?",
      "What is this business called?", "Whose support line is this?");
  public static final List<String> COMPANY_ANSWERS = List.of(
      "This is %s support.", "You are talking to %s support.", "This is the %s help desk.",
      "You have reached %s customer service.");

  public static final List<String> PRODUCT_QUESTIONS = List.of(
      "What do you sell?", "What kind of products do you have?", "What does your shop sell?",
      "What can I buy from you?", "What is your main product?", "What are you known for?",
      "What products do you offer?", "What do you make?", "What is in your catalog?");
  public static final List<String> PRODUCT_ANSWERS = List.of(
      "We sell %s.", "Our shop sells %s.", "We specialise in %s.",
      "Most of our customers come to us for %s.");

  public static final List<String> REFUND_WINDOW_QUESTIONS = List.of(
      "How long do I have to return an item?", "How many days do I have to return something?",
      "What is your return policy?", "Is there a deadline for returns?", "How long is the return window?",
      "Until when can I send an item back?", "How much time do I get to return a purchase?",
      "Can I return something I bought a while ago?", "When does the return period end?");
  public static final List<String> REFUND_WINDOW_ANSWERS = List.of(
      "You can return it within %s.", "Returns are accepted within %s.",
      "You have %s to return an item for a full refund.", "You can return it within %s of delivery.");

  public static final List<String> SUPPORT_HOURS_QUESTIONS = List.of(
      "When is support open?", "What are your opening hours?", "What time does customer service open?",
      "When can I reach your team?", "What are your support hours?", "When are you available?",
      "At what times can I call you?", "Is your help desk open now?", "When does your support team work?");
  public static final List<String> SUPPORT_HOURS_ANSWERS = List.of(
      "Support is open %s.", "Our team is available %s.", "You can reach us %s.",
      "The help desk is staffed %s.");

  public static final List<String> SHIPPING_FEE_QUESTIONS = List.of(
      "How much is shipping?", "What does delivery cost?", "Do you charge for shipping?",
      "How much do you charge for delivery?", "What is the shipping fee?", "Is shipping included in the price?",
      "How much will postage be?", "What does it cost to ship my order?", "Are there delivery charges?");
  public static final List<String> SHIPPING_FEE_ANSWERS = List.of(
      "Shipping is %s.", "Standard shipping is %s.", "Delivery is %s for every order.",
      "The shipping fee is %s.");

  public static final List<String> ESCALATION_EMAIL_QUESTIONS = List.of(
      "Who can I complain to?", "How do I escalate a problem?", "Where do I send a complaint?",
      "Can I talk to a manager?", "What is your escalation address?", "Who handles complaints?",
      "How do I reach a supervisor?", "Where can I escalate my issue?", "I want to file a complaint.");
  public static final List<String> ESCALATION_EMAIL_ANSWERS = List.of(
      "Please write to %s.", "You can escalate to %s.", "Complaints go to %s.",
      "Send your complaint to %s and a manager will reply.");

  private FactWordings() {}

  /** Every question wording of every fact. */
  public static List<String> allQuestions() {
    return java.util.stream.Stream.of(COMPANY_QUESTIONS, PRODUCT_QUESTIONS, REFUND_WINDOW_QUESTIONS,
        SUPPORT_HOURS_QUESTIONS, SHIPPING_FEE_QUESTIONS, ESCALATION_EMAIL_QUESTIONS).flatMap(List::stream).toList();
  }
}
