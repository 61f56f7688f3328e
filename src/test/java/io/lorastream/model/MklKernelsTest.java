package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The build makes {@code target/native/liblorastream_mkl.so} and the test JVMs run with it
 * preloaded (pom.xml), as {@code ./lorastream} runs every command: without it, MKL would use its
 * AVX2 kernels on AMD processors and every figure taken in tests and benchmarks would differ from
 * what the launcher runs.
 */
class MklKernelsTest {

  @Test
  void theTestJvmRunsWithTheLibraryPreloaded() {
    assertThat(Files.isReadable(Path.of("target/native", MklKernels.LIBRARY))).isTrue();
    assertThat(System.getenv("LD_PRELOAD")).contains(MklKernels.LIBRARY);
    assertThat(MklKernels.vendorCheckAnswered()).isTrue();
  }

  @Test
  void readsTheProcessorVendorFromLinux() {
    assertThat(MklKernels.cpuVendor()).hasValueSatisfying(v -> assertThat(v).isNotBlank());
  }
}
