package io.lorastream.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether MKL, inside libtorch's CPU build, may use the widest matrix kernels this processor
 * supports. MKL takes its generic AVX2 kernels on processors not made by Intel unless
 * {@code liblorastream_mkl.so} is preloaded (src/main/native/mkl_vendor.c); {@code ./lorastream}
 * and the test JVMs preload it. Measured on an AMD EPYC (Zen 5) core: 2.3× the fp32 GFLOP/s of a
 * training step's matrix product with it (docs/BENCHMARKS.md).
 */
public final class MklKernels {
  private static final Logger log = LoggerFactory.getLogger(MklKernels.class);
  /** The file name of the preloaded library; {@code LD_PRELOAD} names it with its folder. */
  public static final String LIBRARY = "liblorastream_mkl.so";
  private static final AtomicBoolean REPORTED = new AtomicBoolean();

  private MklKernels() {}

  /** True when this process was started with {@link #LIBRARY} preloaded. */
  public static boolean vendorCheckAnswered() {
    String preload = System.getenv("LD_PRELOAD");
    if (preload == null) {
      return false;
    }
    for (String entry : preload.split("[: ]")) {
      if (entry.endsWith("/" + LIBRARY) || entry.equals(LIBRARY)) {
        return Files.isReadable(Path.of(entry));
      }
    }
    return false;
  }

  /** The processor's vendor as Linux reports it ({@code GenuineIntel}, {@code AuthenticAMD}), if known. */
  public static Optional<String> cpuVendor() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("vendor_id")) {
          return Optional.of(line.substring(line.indexOf(':') + 1).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux, or /proc is not mounted: nothing to report.
    }
    return Optional.empty();
  }

  /**
   * Logs once per process which kernels MKL will choose, warning where it will not use the widest,
   * and which allocator serves libtorch's memory.
   */
  static void reportOnce() {
    if (!REPORTED.compareAndSet(false, true)) {
      return;
    }
    boolean tcmalloc = System.getenv().getOrDefault("LD_PRELOAD", "").contains("tcmalloc");
    log.info("native memory from {}", tcmalloc ? "tcmalloc (preloaded)"
        : "glibc's malloc (./lorastream preloads tcmalloc where it is installed; README, \"Freed memory kept for reuse\")");
    Optional<String> vendor = cpuVendor();
    if (vendorCheckAnswered()) {
      log.info("MKL picks its kernels by the processor's instruction sets ({} preloaded; CPU vendor {})", LIBRARY,
          vendor.orElse("unknown"));
    } else if (vendor.isPresent() && !vendor.get().equals("GenuineIntel")) {
      log.warn("CPU vendor {}: MKL will use its AVX2 kernels even where the CPU has AVX-512; start through "
          + "./lorastream, or set LD_PRELOAD to target/native/{} (README, \"Matrix kernels on AMD processors\")",
          vendor.get(), LIBRARY);
    }
  }
}
