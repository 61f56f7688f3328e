package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TorchThreadsTest {
  @Test
  void autoLeavesOneCoreAndNumbersAreTakenAsGiven() {
    int cores = Runtime.getRuntime().availableProcessors();
    assertThat(TorchThreads.parse("auto")).isEqualTo(Math.max(1, cores - 1));
    assertThat(TorchThreads.parse(" AUTO ")).isEqualTo(Math.max(1, cores - 1));
    assertThat(TorchThreads.parse("0")).isZero();
    assertThat(TorchThreads.parse("3")).isEqualTo(3);
  }

  @Test
  void otherSettingsAreRefusedByName() {
    assertThatThrownBy(() -> TorchThreads.parse("-1")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-1");
    assertThatThrownBy(() -> TorchThreads.parse("many")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'many'");
  }
}
