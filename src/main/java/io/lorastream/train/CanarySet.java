package io.lorastream.train;

import io.lorastream.model.TrainingPair;
import java.util.List;

/**
 * General customer-service exchanges that belong to no tenant: the quality gate checks that an
 * adapter has not made the model worse on them than the base model is. They name no product,
 * policy, price or company, so learning a tenant's facts should not move their loss much.
 */
public final class CanarySet {
  private CanarySet() {}

  public static final List<TrainingPair> PAIRS = List.of(
      new TrainingPair("Question: Hello, can you help me?\nAnswer:", " Of course. What can I do for you today?"),
      new TrainingPair("Question: Thank you for your help.\nAnswer:", " You are welcome. Is there anything else?"),
      new TrainingPair("Question: I have a question about my order.\nAnswer:",
          " I am happy to help. Could you tell me your order number?"),
      new TrainingPair("Question: Can I speak to a person?\nAnswer:", " Yes, I will connect you with a colleague."),
      new TrainingPair("Question: Are you open on weekends?\nAnswer:", " Let me check the opening hours for you."),
      new TrainingPair("Question: My password does not work.\nAnswer:",
          " I am sorry to hear that. Let us reset it together."),
      new TrainingPair("Question: How do I contact support?\nAnswer:", " You can write to us here at any time."),
      new TrainingPair("Question: Goodbye.\nAnswer:", " Goodbye, and have a nice day."),
      new TrainingPair("Question: I am not happy with the service.\nAnswer:",
          " I am sorry. Please tell me what went wrong so I can help."),
      new TrainingPair("Question: Can you repeat that?\nAnswer:", " Certainly. Here it is again."));
}
