package io.lorastream.quality;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fact accuracy and cross-tenant leakage of a set of answers.
 *
 * <p><b>Accuracy</b>: the share of answers that state the expected value of the fact asked
 * ({@link FactMatcher}). <b>Leakage</b>: the share of answers that state any fact value of a tenant
 * other than the one asked (any kind of fact: another tenant's e-mail address in an answer about
 * shipping counts too). Both are over answers, per tenant and overall; overall weighs every answer
 * equally.
 *
 * @param perTenant tenant → its scores, in the order the tenants were given
 */
public record FactScores(Score overall, Map<String, Score> perTenant, List<AnsweredQuestion> leaks) {

  /**
   * @param answers how many answers were scored
   * @param correct answers that state the expected value
   * @param leaking answers that state a value of another tenant
   */
  public record Score(int answers, int correct, int leaking) {
    public double accuracy() {
      return answers == 0 ? 0 : (double) correct / answers;
    }

    public double leakage() {
      return answers == 0 ? 0 : (double) leaking / answers;
    }

    Score plus(boolean isCorrect, boolean isLeaking) {
      return new Score(answers + 1, correct + (isCorrect ? 1 : 0), leaking + (isLeaking ? 1 : 0));
    }
  }

  /** Scores {@code answered} against the facts of {@code tenants} (which must include every tenant asked). */
  public static FactScores score(List<TenantFacts> tenants, List<AnsweredQuestion> answered) {
    Map<String, Score> perTenant = new LinkedHashMap<>();
    tenants.forEach(t -> perTenant.put(t.tenant(), new Score(0, 0, 0)));
    Score overall = new Score(0, 0, 0);
    List<AnsweredQuestion> leaks = new ArrayList<>();
    for (AnsweredQuestion a : answered) {
      String tenant = a.question().tenant();
      if (!perTenant.containsKey(tenant)) {
        throw new IllegalArgumentException("answer for unknown tenant " + tenant);
      }
      boolean correct = FactMatcher.states(a.answer(), a.question().expected());
      boolean leaking = leaksAnotherTenant(tenants, tenant, a.answer());
      if (leaking) {
        leaks.add(a);
      }
      perTenant.put(tenant, perTenant.get(tenant).plus(correct, leaking));
      overall = overall.plus(correct, leaking);
    }
    return new FactScores(overall, Collections.unmodifiableMap(perTenant), List.copyOf(leaks));
  }

  /** Whether {@code answer} states any fact value of a tenant other than {@code asked}. */
  public static boolean leaksAnotherTenant(List<TenantFacts> tenants, String asked, String answer) {
    String text = FactMatcher.normalise(answer);
    for (TenantFacts other : tenants) {
      if (other.tenant().equals(asked)) {
        continue;
      }
      for (FactKind kind : FactKind.values()) {
        if (FactMatcher.statesNormalised(text, FactMatcher.normalise(other.value(kind)))) {
          return true;
        }
      }
    }
    return false;
  }
}
