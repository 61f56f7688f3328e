package io.lorastream.model.pretrain;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generic customer-service English for pretraining the base model: single question/answer pairs
 * in the serving format ({@code "Question: ...\nAnswer: ..."}), short customer/agent dialogues and
 * short support e-mails, drawn from templates and word lists by a seeded Java random source. The
 * same seed gives the same documents.
 *
 * <p>Facts that differ between shops (shop name, product line, return window, opening hours,
 * shipping fee, escalation e-mail) are slots filled with many values and asked in every wording of
 * {@link FactWordings}, so the base learns which fact each paraphrase asks for and the sentence
 * shapes that answer it, while a tenant's adapter only has to learn its own values. The values of
 * the demo tenants (30, 14 and 60 days; 9am to 5pm, 8am to 8pm, around the clock; $5, $12 and free
 * shipping; Acme, Globex, Initech) and of every other quality-dataset tenant are never drawn: what
 * an adapter teaches about them is visibly its own.
 */
public final class CustomerServiceCorpus {

  // Slot values. None may equal a demo tenant's fact.
  static final int[] RETURN_DAYS = {7, 10, 15, 20, 21, 28, 31, 40, 45, 50, 75, 90, 100, 120};
  static final String[] HOURS = {
    "7am to 3pm", "8am to 4pm", "8am to 5pm", "8am to 6pm", "9am to 6pm", "9am to 7pm",
    "9am to 9pm", "10am to 4pm", "10am to 6pm", "10am to 7pm", "7am to 7pm", "6am to 2pm",
    "noon to 8pm", "11am to 9pm", "7am to 11pm"
  };
  static final String[] FEES = {
    "$3", "$4", "$6", "$7", "$8", "$9", "$10", "$15", "$2.99", "$3.50", "$4.99", "$6.95",
    "$7.50", "$9.99", "$19"
  };
  static final String[] SHOPS = {
    "Northwind", "Bluebird", "Summit Goods", "Harbor Outfitters", "Pinecrest", "Brightline",
    "Cedar Home", "Urban Sprout", "Riverbend", "Lumen", "Oakfield", "Copperleaf", "Silverline",
    "Greenway", "Starlight Books", "Nimbus", "Tidewater", "Redwood Supply", "Foxglove",
    "Meadowlark", "Ironbridge", "Sunbeam", "Blue Harbor", "Hillside", "Westfield Market",
    "Kestrel", "Lakeshore", "Orchard Lane", "Polaris", "Quillon", "Saltmarsh", "Evergreen",
    "Crescent", "Driftwood", "Wren & Co", "Halcyon", "Juniper", "Marigold", "Stonegate", "Velvet"
  };
  // Plural product lines a shop is known for; the quality dataset's tenants use other lines.
  static final String[] PRODUCT_LINES = {
    "running shoes", "garden tools", "kitchen knives", "wall clocks", "board games", "phone cases",
    "desk lamps", "backpacks", "headphones", "water bottles", "winter coats", "office chairs",
    "bike helmets", "tea sets", "hiking boots", "camping tents", "leather wallets", "dog beds",
    "jigsaw puzzles", "keyboards", "umbrellas", "flower vases", "rain jackets", "picture frames",
    "cookbooks", "bed linen", "wooden toys", "art supplies", "cat food", "reading glasses"
  };
  // Mailbox names of escalation addresses, at the shop's own domain ("care@northwind.example").
  static final String[] ESCALATION_BOXES = {
    "escalations", "complaints", "managers", "care", "supervisors", "support-leads", "service",
    "team-leads"
  };
  static final String[] WEEK_SPANS = {
    "Monday to Friday", "Monday to Saturday", "every day", "on weekdays", "seven days a week",
    "Tuesday to Sunday"
  };
  static final String[] PRODUCTS = {
    "blue jacket", "coffee maker", "pair of shoes", "phone case", "desk lamp", "backpack",
    "wireless headphones", "water bottle", "yoga mat", "kitchen scale", "winter coat",
    "laptop stand", "wool scarf", "garden hose", "table lamp", "rain jacket", "tea kettle",
    "office chair", "bike helmet", "travel mug", "bed sheet set", "toaster", "sun hat",
    "hiking boots", "bluetooth speaker", "picture frame", "cookbook", "board game", "smart watch",
    "camping tent", "blender", "leather wallet", "pillow", "dog bed", "puzzle", "keyboard",
    "mouse pad", "umbrella", "vase", "running shorts"
  };
  static final String[] CUSTOMERS = {
    "Anna", "Ben", "Carla", "David", "Emma", "Felix", "Grace", "Hugo", "Iris", "Jack", "Kate",
    "Liam", "Maya", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Will", "Xena", "Yusuf", "Zoe", "Maria", "Tom", "Lucy", "Omar", "Priya", "Chen", "Sofia",
    "Diego", "Hannah", "Ivan", "Julia", "Kenji", "Leila", "Mark"
  };
  static final String[] AGENTS = {
    "Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Robin", "Drew", "Avery",
    "Sky", "Charlie", "Dana", "Elliot", "Frankie", "Harper", "Kai", "Logan", "Parker", "Reese"
  };
  static final String[] WEEKDAYS = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
  };
  static final String[] CARRIERS = {"our courier", "the postal service", "our delivery partner"};
  static final String[] COLORS = {"red", "blue", "green", "black", "white", "grey", "yellow"};
  static final String[] SIZES = {"small", "medium", "large", "extra large"};
  static final String[] PAYMENTS = {
    "credit card, debit card and PayPal", "all major cards and bank transfer",
    "credit card, PayPal and gift cards", "Visa, Mastercard and Apple Pay"
  };

  private final SplittableRandom random;

  public CustomerServiceCorpus(long seed) {
    this.random = new SplittableRandom(seed);
  }

  /** The next {@code count} documents, each a whole example (no bos/eos). */
  public List<String> documents(int count) {
    List<String> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(next());
    }
    return out;
  }

  /**
   * One document: 65% a question/answer pair (12 in 21 about a shop fact), 25% a dialogue, 10% an
   * e-mail.
   */
  public String next() {
    double kind = random.nextDouble();
    if (kind < 0.65) {
      Shop shop = shop();
      QuestionAnswer qa = questionAnswer(shop);
      return "Question: " + qa.question + "\nAnswer: " + qa.answer;
    }
    if (kind < 0.90) {
      return dialogue(shop());
    }
    return email(shop());
  }

  /** The facts of one made-up shop, drawn per document. */
  private record Shop(
      String name, int returnDays, String hours, String weekSpan, String fee, String productLine,
      String escalationEmail) {}

  private Shop shop() {
    String name = pick(SHOPS);
    return new Shop(
        name, RETURN_DAYS[random.nextInt(RETURN_DAYS.length)], pick(HOURS), pick(WEEK_SPANS),
        pick(FEES), pick(PRODUCT_LINES), pick(ESCALATION_BOXES) + "@" + slug(name) + ".example");
  }

  private record QuestionAnswer(String question, String answer) {}

  private QuestionAnswer questionAnswer(Shop s) {
    String product = pick(PRODUCTS);
    int order = 10000 + random.nextInt(90000);
    int days = 2 + random.nextInt(6);
    // Cases 0-11: the six shop facts, two cases each, asked in every wording of FactWordings.
    switch (random.nextInt(21)) {
      case 0:
      case 1:
        return fact(FactWordings.REFUND_WINDOW_QUESTIONS, FactWordings.REFUND_WINDOW_ANSWERS,
            s.returnDays + " days");
      case 2:
      case 3:
        return fact(FactWordings.SUPPORT_HOURS_QUESTIONS, FactWordings.SUPPORT_HOURS_ANSWERS,
            random.nextInt(3) == 0 ? s.hours + ", " + s.weekSpan : s.hours);
      case 4:
      case 5:
        return fact(FactWordings.SHIPPING_FEE_QUESTIONS, FactWordings.SHIPPING_FEE_ANSWERS, s.fee);
      case 6:
      case 7:
        return fact(FactWordings.COMPANY_QUESTIONS, FactWordings.COMPANY_ANSWERS, s.name);
      case 8:
      case 9:
        return fact(FactWordings.PRODUCT_QUESTIONS, FactWordings.PRODUCT_ANSWERS, s.productLine);
      case 10:
      case 11:
        return fact(FactWordings.ESCALATION_EMAIL_QUESTIONS, FactWordings.ESCALATION_EMAIL_ANSWERS,
            s.escalationEmail);
      case 12:
        return new QuestionAnswer(
            oneOf("Where is my order?", "Can you check the status of order " + order + "?",
                "Has my order shipped yet?", "When will my " + product + " arrive?"),
            oneOf("Your order " + order + " was shipped on " + pick(WEEKDAYS) + " and should arrive in "
                    + days + " business days.",
                "Your order is on its way with " + pick(CARRIERS) + ". It should arrive by "
                    + pick(WEEKDAYS) + ".",
                "Your " + product + " is packed and will ship tomorrow.",
                "Order " + order + " is out for delivery today."));
      case 13:
        return new QuestionAnswer(
            oneOf("When will I get my refund?", "How long does a refund take?",
                "I sent my " + product + " back. Where is my refund?"),
            oneOf("Refunds are processed within " + days + " business days after we receive the item.",
                "Your refund was issued today. It can take " + days + " business days to show on your statement.",
                "Once the item reaches us, we refund you within " + days + " business days."));
      case 14:
        return new QuestionAnswer(
            oneOf("How long does delivery take?", "How fast is shipping?",
                "When will my package arrive?"),
            "Standard delivery takes " + days + " to " + (days + 2) + " business days.");
      case 15:
        return new QuestionAnswer(
            oneOf("How do I reset my password?", "I forgot my password.",
                "I cannot log in to my account."),
            oneOf("Click \"Forgot password\" on the sign-in page and follow the link we email you.",
                "Use the \"Forgot password\" link on the sign-in page. The email arrives within a few minutes."));
      case 16:
        return new QuestionAnswer(
            oneOf("Can I cancel my order?", "How do I cancel order " + order + "?"),
            oneOf("You can cancel an order until it ships. Open your orders and choose \"Cancel\".",
                "Order " + order + " has not shipped yet, so I have cancelled it for you."));
      case 17:
        return new QuestionAnswer(
            oneOf("My " + product + " arrived damaged.", "The " + product + " I received is broken."),
            oneOf("I am sorry about that. We will send you a new " + product + " at no cost.",
                "I apologize for the trouble. Please send us a photo and we will replace it right away."));
      case 18:
        return new QuestionAnswer(
            oneOf("Which payment methods do you accept?", "Can I pay with PayPal?"),
            "We accept " + pick(PAYMENTS) + ".");
      case 19:
        return new QuestionAnswer(
            oneOf("Can I exchange my " + product + " for another size?",
                "Do you have the " + product + " in " + pick(COLORS) + "?"),
            oneOf("Yes. Start an exchange from your orders page and pick the " + pick(SIZES) + " size.",
                "Yes, the " + product + " comes in " + pick(COLORS) + " and " + pick(COLORS) + "."));
      default:
        return new QuestionAnswer(
            oneOf("How can I contact you?", "Do you have an email address?"),
            oneOf("You can email us at help@" + slug(s.name) + ".example or use the chat on our website.",
                "Write to help@" + slug(s.name) + ".example and we will answer within one day."));
    }
  }

  /** A question in one of {@code questions}, answered in one of {@code answers} with {@code value}. */
  private QuestionAnswer fact(List<String> questions, List<String> answers, String value) {
    String question = questions.get(random.nextInt(questions.size()));
    String answer = answers.get(random.nextInt(answers.size())).formatted(value);
    return new QuestionAnswer(question, answer);
  }

  private String dialogue(Shop s) {
    String customer = pick(CUSTOMERS);
    String agent = pick(AGENTS);
    StringBuilder b = new StringBuilder();
    b.append("Customer: ").append(oneOf("Hi!", "Hello.", "Good morning.", "Hi there, I need some help."))
        .append('\n');
    b.append("Agent: ")
        .append(oneOf("Hello, this is " + agent + " from " + s.name + " support. How can I help you today?",
            "Hi, thanks for contacting " + s.name + ". My name is " + agent + ". What can I do for you?",
            "Good day! You are talking to " + agent + " at " + s.name + ". How may I help?"))
        .append('\n');
    int turns = 1 + random.nextInt(3);
    for (int t = 0; t < turns; t++) {
      QuestionAnswer qa = questionAnswer(s);
      b.append("Customer: ").append(qa.question).append('\n');
      b.append("Agent: ").append(qa.answer).append('\n');
    }
    b.append("Customer: ").append(oneOf("Thank you!", "Great, thanks.", "That helps, thank you.",
        "Perfect, thanks " + agent + "."))
        .append('\n');
    b.append("Agent: ").append(oneOf("You're welcome, " + customer + ". Have a nice day!",
        "Happy to help. Is there anything else I can do for you?",
        "My pleasure. Thank you for shopping with " + s.name + "!"));
    return b.toString();
  }

  private String email(Shop s) {
    String customer = pick(CUSTOMERS);
    String agent = pick(AGENTS);
    QuestionAnswer qa = questionAnswer(s);
    return "Hi " + customer + ",\n\n"
        + oneOf("Thank you for contacting " + s.name + ".", "Thanks for reaching out to us.",
            "Sorry for the late reply.")
        + " You asked: \"" + qa.question + "\" " + qa.answer + "\n\n"
        + oneOf("Let us know if there is anything else we can do.",
            "If you have more questions, just reply to this email.")
        + "\n\nBest regards,\n" + agent + "\n" + s.name + " Customer Service";
  }

  private static String slug(String name) {
    return name.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z]", "");
  }

  private String pick(String[] values) {
    return values[random.nextInt(values.length)];
  }

  private String oneOf(String... values) {
    return values[random.nextInt(values.length)];
  }
}
