package io.lorastream.model.pretrain;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class CustomerServiceCorpusTest {

  @Test
  void sameSeedGivesSameDocumentsAndAnotherSeedOthers() {
    assertThat(new CustomerServiceCorpus(7).documents(200))
        .isEqualTo(new CustomerServiceCorpus(7).documents(200))
        .isNotEqualTo(new CustomerServiceCorpus(8).documents(200));
  }

  @Test
  void neverStatesTheDemoTenantsFacts() {
    String text = String.join("\n", new CustomerServiceCorpus(42).documents(20_000));
    for (String fact : List.of("Acme", "Globex", "Initech", "30 days", "14 days", "60 days", "9am to 5pm",
        "8am to 8pm", "around the clock", "24/7", "is free", "free shipping", "Free shipping")) {
      assertThat(text).as("corpus mentions '%s'", fact).doesNotContain(fact);
    }
    assertThat(Pattern.compile("\\$(5|12)(?![0-9])").matcher(text).find())
        .as("corpus states a $5 or $12 price").isFalse();
  }

  @Test
  void teachesTheServingFormatWithVariedValues() {
    List<String> docs = new CustomerServiceCorpus(1).documents(5_000);
    assertThat(docs).anyMatch(d -> d.startsWith("Question: How long do I have to return an item?\nAnswer: "));
    long returnWindows = docs.stream()
        .filter(d -> d.contains("Answer: You can return it within "))
        .map(d -> d.replaceAll("(?s).*within (\\d+) days.*", "$1"))
        .distinct().count();
    assertThat(returnWindows).isGreaterThanOrEqualTo(10);
    assertThat(docs).anyMatch(d -> d.startsWith("Customer: ") && d.contains("\nAgent: "));
  }

  @Test
  void asksEveryFactInEveryWordingAndAnswersInEveryShape() {
    String text = String.join("\n", new CustomerServiceCorpus(3).documents(20_000));
    List<List<List<String>>> facts = List.of(
        List.of(FactWordings.COMPANY_QUESTIONS, FactWordings.COMPANY_ANSWERS),
        List.of(FactWordings.PRODUCT_QUESTIONS, FactWordings.PRODUCT_ANSWERS),
        List.of(FactWordings.REFUND_WINDOW_QUESTIONS, FactWordings.REFUND_WINDOW_ANSWERS),
        List.of(FactWordings.SUPPORT_HOURS_QUESTIONS, FactWordings.SUPPORT_HOURS_ANSWERS),
        List.of(FactWordings.SHIPPING_FEE_QUESTIONS, FactWordings.SHIPPING_FEE_ANSWERS),
        List.of(FactWordings.ESCALATION_EMAIL_QUESTIONS, FactWordings.ESCALATION_EMAIL_ANSWERS));
    for (List<List<String>> fact : facts) {
      for (String question : fact.get(0)) {
        assertThat(text).as("question '%s'", question).contains("Question: " + question + "\nAnswer: ");
      }
      for (String shape : fact.get(1)) {
        String[] around = shape.split("%s", -1);
        Pattern answer = Pattern.compile("Answer: " + Pattern.quote(around[0]) + "[^\n]+" + Pattern.quote(around[1]));
        assertThat(answer.matcher(text).find()).as("answer shape '%s'", shape).isTrue();
      }
    }
  }
}
