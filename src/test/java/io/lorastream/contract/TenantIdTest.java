package io.lorastream.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class TenantIdTest {

  @ParameterizedTest
  @ValueSource(strings = {"acme", "a", "0", "tenant-1", "tenant_2", "9lives", "a-b_c-0"})
  void acceptsLowerCaseLettersDigitsDashAndUnderscore(String id) {
    assertThat(TenantId.isValid(id)).isTrue();
    assertThat(TenantId.require(id)).isEqualTo(id);
  }

  @Test
  void acceptsSixtyThreeCharactersButNotSixtyFour() {
    assertThat(TenantId.isValid("a".repeat(63))).isTrue();
    assertThat(TenantId.isValid("a".repeat(64))).isFalse();
    assertThatThrownBy(() -> TenantId.require("a".repeat(64)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1 to 63 characters");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"", "../x", "a/b", "x y", " acme", "acme ", "Acme", "ACME", "-acme", "_acme",
          "acme.prod", "acmé", "a\nb", "a:b"})
  void rejectsIdsOutsideThePattern(String id) {
    assertThat(TenantId.isValid(id)).isFalse();
    assertThatThrownBy(() -> TenantId.require(id))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("invalid tenant id");
  }

  @Test
  void rejectsNullWithAClearMessage() {
    assertThat(TenantId.isValid(null)).isFalse();
    assertThatThrownBy(() -> TenantId.require(null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("tenant id is missing");
  }

  @Test
  void baseIsReservedForTheBaseModel() {
    assertThat(TenantId.BASE).isEqualTo("base");
    assertThat(TenantId.isValid(TenantId.BASE)).isFalse();
    assertThatThrownBy(() -> TenantId.require("base")).hasMessageContaining("reserved");
    assertThat(TenantId.isValid("base2")).isTrue();
  }
}
