package io.lorastream.quality;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.model.TrainingPair;
import io.lorastream.model.pretrain.CustomerServiceCorpus;
import io.lorastream.model.pretrain.FactWordings;
import io.lorastream.model.pretrain.GeneralExchanges;
import io.lorastream.train.CanarySet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CustomerServiceDatasetTest {
  private final CustomerServiceDataset data = new CustomerServiceDataset(20, 7L);

  @Test
  void sameSeedGivesSameTenantsExamplesAndQuestions() {
    CustomerServiceDataset again = new CustomerServiceDataset(20, 7L);
    assertThat(again.tenants()).isEqualTo(data.tenants());
    for (TenantFacts t : data.tenants()) {
      assertThat(again.examples(t, 50)).isEqualTo(data.examples(t, 50));
      assertThat(again.heldOut(t)).isEqualTo(data.heldOut(t));
    }
    assertThat(again.canary()).isEqualTo(data.canary());
  }

  @Test
  void anotherSeedGivesOtherTenantsAndExamples() {
    CustomerServiceDataset other = new CustomerServiceDataset(20, 8L);
    assertThat(other.tenants().subList(3, 20)).isNotEqualTo(data.tenants().subList(3, 20));
    assertThat(other.examples(other.tenants().get(0), 50)).isNotEqualTo(data.examples(data.tenants().get(0), 50));
  }

  @Test
  void demoTenantsComeFirstWithTheirDocumentedFacts() {
    assertThat(data.tenants()).hasSize(20);
    assertThat(data.tenants().subList(0, 3)).extracting(TenantFacts::tenant).containsExactly("acme", "globex", "initech");
    assertThat(data.tenants().get(0).refundWindow()).isEqualTo("30 days");
    assertThat(data.tenants().get(1).supportHours()).isEqualTo("8am to 8pm");
    assertThat(data.tenants().get(2).shippingFee()).isEqualTo("$12");
  }

  @Test
  void heldOutParaphrasesNeverAppearInTrainingExamples() {
    for (TenantFacts t : data.tenants()) {
      Set<String> trainedPrompts = new HashSet<>();
      data.examples(t, 1000).forEach(e -> trainedPrompts.add(e.prompt()));
      List<FactQuestion> heldOut = data.heldOut(t);
      assertThat(heldOut).hasSize(FactKind.values().length * QuestionBank.HELD_OUT_PER_FACT);
      assertThat(heldOut).extracting(FactQuestion::prompt).doesNotContainAnyElementsOf(trainedPrompts);
    }
  }

  @Test
  void everyTrainingAnswerStatesItsTenantsFactAndNoOtherTenants() {
    for (TenantFacts t : data.tenants()) {
      for (LabelledExample e : data.examples(t, 60)) {
        assertThat(FactMatcher.states(e.completion(), t.value(e.fact()))).as(e.completion()).isTrue();
        assertThat(FactScores.leaksAnotherTenant(data.tenants(), t.tenant(), e.completion())).as(e.completion()).isFalse();
      }
    }
  }

  @Test
  void factValuesAreDisjointAcrossTenants() {
    List<TenantFacts> all = TenantCatalog.tenants(TenantCatalog.MAX_TENANTS, 7L);
    Set<String> ids = new HashSet<>();
    for (TenantFacts t : all) {
      assertThat(ids.add(t.tenant())).isTrue();
      for (String value : t.values().values()) {
        assertThat(FactScores.leaksAnotherTenant(all, t.tenant(), value)).as(t.tenant() + ": " + value).isFalse();
      }
    }
  }

  @Test
  void noTenantFactOccursInThePretrainingCorpus() {
    List<TenantFacts> all = TenantCatalog.tenants(TenantCatalog.MAX_TENANTS, 7L);
    for (String document : new CustomerServiceCorpus(42L).documents(1000)) {
      assertThat(FactScores.leaksAnotherTenant(all, "nobody", document)).as(document).isFalse();
    }
  }

  @Test
  void canaryCarriesNoTenantFact() {
    List<TenantFacts> all = TenantCatalog.tenants(TenantCatalog.MAX_TENANTS, 7L);
    data.canary().forEach(p ->
        assertThat(FactScores.leaksAnotherTenant(all, "nobody", p.prompt() + p.completion())).isFalse());
    assertThat(data.canary()).hasSizeGreaterThan(20);
  }

  @Test
  void theEvaluationMeasuresForgettingOnTheGatesOwnCanarySet() {
    assertThat(data.canary()).isEqualTo(CanarySet.PAIRS);
  }

  @Test
  void rehearsalExchangesCarryNoTenantFactNoFactQuestionAndNoCanaryText() {
    List<TenantFacts> all = TenantCatalog.tenants(TenantCatalog.MAX_TENANTS, 7L);
    List<TrainingPair> pool = GeneralExchanges.rehearsalPool(1L, 300);
    Set<String> canaryText = new HashSet<>();
    data.canary().forEach(p -> {
      canaryText.add(p.prompt());
      canaryText.add(p.completion());
    });
    Set<String> factPrompts = new HashSet<>();
    FactWordings.allQuestions().forEach(q -> factPrompts.add(QuestionBank.prompt(q)));

    assertThat(pool).hasSize(300).doesNotHaveDuplicates();
    assertThat(GeneralExchanges.rehearsalPool(1L, 300)).isEqualTo(pool);
    for (TrainingPair p : pool) {
      assertThat(FactScores.leaksAnotherTenant(all, "nobody", p.prompt() + p.completion())).isFalse();
      assertThat(canaryText).doesNotContain(p.prompt(), p.completion());
      assertThat(factPrompts).doesNotContain(p.prompt());
      assertThat(p.completion()).doesNotContain("@");
    }
  }

  @Test
  void refusesTenantCountsOutsideThePools() {
    assertThatThrownBy(() -> new CustomerServiceDataset(0, 7L)).hasMessageContaining("tenant count");
    assertThatThrownBy(() -> new CustomerServiceDataset(TenantCatalog.MAX_TENANTS + 1, 7L))
        .hasMessageContaining("1.." + TenantCatalog.MAX_TENANTS);
  }
}
