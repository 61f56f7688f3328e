package io.lorastream.quality;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class FactScoresTest {
  private static final TenantFacts ACME = TenantCatalog.DEMO_TENANTS.get(0);
  private static final TenantFacts GLOBEX = TenantCatalog.DEMO_TENANTS.get(1);
  private static final List<TenantFacts> TENANTS = List.of(ACME, GLOBEX);

  @Test
  void matchesNormalisedWholeValues() {
    assertThat(FactMatcher.states(" Returns are accepted within 30   DAYS.", "30 days")).isTrue();
    assertThat(FactMatcher.states("Support is open 9am to 5pm, Monday to Friday.", "9am to 5pm")).isTrue();
    assertThat(FactMatcher.states("Please write to escalations@acme.example.", "escalations@acme.example")).isTrue();
    assertThat(FactMatcher.states("Shipping is $5.", "$5")).isTrue();
  }

  @Test
  void doesNotMatchInsideLongerValuesOrOtherSpellings() {
    assertThat(FactMatcher.states("You can return it within 130 days.", "30 days")).isFalse();
    assertThat(FactMatcher.states("Shipping is $5.49.", "$5")).isFalse();
    assertThat(FactMatcher.states("Shipping is $55.", "$5")).isFalse();
    assertThat(FactMatcher.states("You can return it within thirty days.", "30 days")).isFalse();
    assertThat(FactMatcher.states("Write to vip.escalations@acme.example", "escalations@acme.example")).isFalse();
    assertThat(FactMatcher.states("This is Acmes support.", "Acme")).isFalse();
  }

  @Test
  void scoresAccuracyAndLeakagePerTenantAndOverall() {
    FactQuestion acmeRefund = new FactQuestion("acme", FactKind.REFUND_WINDOW, "q", "30 days");
    FactQuestion globexHours = new FactQuestion("globex", FactKind.SUPPORT_HOURS, "q", "8am to 8pm");
    FactScores scores = FactScores.score(TENANTS, List.of(
        new AnsweredQuestion(acmeRefund, " You can return it within 30 days."), // correct
        new AnsweredQuestion(acmeRefund, " You can return it within 14 days."), // wrong, globex's value: leak
        new AnsweredQuestion(acmeRefund, " You can return it within 90 days."), // wrong, no tenant's value
        new AnsweredQuestion(globexHours, " Support is open 8am to 8pm. Shipping is $5."))); // correct and a leak

    assertThat(scores.overall()).isEqualTo(new FactScores.Score(4, 2, 2));
    assertThat(scores.perTenant().get("acme")).isEqualTo(new FactScores.Score(3, 1, 1));
    assertThat(scores.perTenant().get("globex").accuracy()).isEqualTo(1.0);
    assertThat(scores.perTenant().get("globex").leakage()).isEqualTo(1.0);
    assertThat(scores.overall().accuracy()).isEqualTo(0.5);
    assertThat(scores.leaks()).hasSize(2);
  }

  @Test
  void ownFactsAreNotLeakage() {
    assertThat(FactScores.leaksAnotherTenant(TENANTS, "acme", "This is Acme support. Shipping is $5.")).isFalse();
    assertThat(FactScores.leaksAnotherTenant(TENANTS, "globex", "This is Acme support.")).isTrue();
  }
}
