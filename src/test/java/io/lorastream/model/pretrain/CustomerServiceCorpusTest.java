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
}
