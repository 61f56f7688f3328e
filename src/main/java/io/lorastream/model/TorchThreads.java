package io.lorastream.model;

import ai.djl.pytorch.jni.JniUtils;

/**
 * The number of threads libtorch uses within one operation (intra-op), for this whole process.
 * On a machine whose cores several busy processes share (trainer, gateway, broker), libtorch's
 * default of one thread per core makes each small operation wait for a thread that another
 * process holds: a lorastream-tiny training step measured about 7× slower with 2 threads than
 * with 1 on 2 shared cores (docs/BENCHMARKS.md).
 */
public final class TorchThreads {
  private TorchThreads() {}

  /**
   * Sets the intra-op thread count; call after the engine is loaded (e.g. after loading a base model).
   *
   * @param threads at least 1; 0 keeps libtorch's default
   */
  public static void use(int threads) {
    if (threads < 0) {
      throw new IllegalArgumentException("threads must be 0 (libtorch's default) or more, got " + threads);
    }
    if (threads > 0) {
      JniUtils.setNumThreads(threads);
    }
  }

  /** The setting that leaves one core to the rest of the process: {@link #parse}. */
  public static final String AUTO = "auto";

  /**
   * A thread setting as {@link #use} takes it: {@value #AUTO} is one less than the cores, at
   * least 1; otherwise a count of 0 (libtorch's default) or more.
   */
  public static int parse(String setting) {
    if (AUTO.equalsIgnoreCase(setting.trim())) {
      return Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
    }
    int threads;
    try {
      threads = Integer.parseInt(setting.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("torch threads must be " + AUTO + " or a number of 0 or more, got '"
          + setting + "'");
    }
    if (threads < 0) {
      throw new IllegalArgumentException("torch threads must be " + AUTO + " or a number of 0 or more, got " + threads);
    }
    return threads;
  }

  /** The intra-op thread count in effect. */
  public static int current() {
    return JniUtils.getNumThreads();
  }
}
