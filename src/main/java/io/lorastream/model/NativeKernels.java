package io.lorastream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code liblorastream_kernels.so} (src/main/native: {@link NativeRowLora}, {@link
 * NativeAttention}, {@link NativeLayerOps}, {@link NativeAdamW}): whether it is loaded, and the
 * native memory of arrays it works on.
 *
 * <p>Where the library is: the system property {@code lorastream.kernels} (a path, or {@code off}),
 * else {@code native/liblorastream_kernels.so} beside the folder or jar this class came from
 * ({@code target/native} in a build, {@code /app/native} in the image). Without it libtorch's
 * operations do the same work.
 */
final class NativeKernels {
  private static final Logger log = LoggerFactory.getLogger(NativeKernels.class);
  static final String LIBRARY = "liblorastream_kernels.so";
  private static final boolean LOADED = load();

  private NativeKernels() {}

  /** True when the library is loaded. */
  static boolean available() {
    return LOADED;
  }

  /** True when the kernels can work on this array: F32 on the CPU. */
  static boolean fits(NDArray array) {
    return array.getDataType() == DataType.FLOAT32 && array.getDevice().getDeviceType().equals(Device.Type.CPU);
  }

  /** True when arrays this manager makes (F32, as the model's are) are on the CPU. */
  static boolean fits(NDManager manager) {
    return manager.getDevice().getDeviceType().equals(Device.Type.CPU);
  }

  /**
   * The native memory of a contiguous F32 CPU array (no copy; an array that is not contiguous is
   * copied first); the buffer is valid while the array is open.
   */
  static ByteBuffer memory(NDArray array) {
    return JniUtils.getByteBuffer((PtNDArray) array, true);
  }

  private static boolean load() {
    String setting = System.getProperty("lorastream.kernels", "");
    if (setting.equals("off")) {
      log.info("native kernels off (-Dlorastream.kernels=off): libtorch's operations instead");
      return false;
    }
    Optional<Path> library = setting.isEmpty() ? besideClasses() : Optional.of(Path.of(setting));
    if (library.isEmpty() || !Files.isReadable(library.get())) {
      log.info("{} not found{}: libtorch's operations instead (build it with a C compiler present, "
          + "or set -Dlorastream.kernels)", LIBRARY, library.map(p -> " at " + p).orElse(""));
      return false;
    }
    try {
      System.load(library.get().toAbsolutePath().toString());
      log.info("decode batches' per-row LoRA and attention, the element-wise parts of passes without gradients, "
          + "and AdamW updates, through {}", library.get());
      return true;
    } catch (UnsatisfiedLinkError e) {
      log.warn("could not load {}: libtorch's operations instead", library.get(), e);
      return false;
    }
  }

  /** {@code native/LIBRARY} in the folder holding this class's folder or jar. */
  private static Optional<Path> besideClasses() {
    try {
      var source = NativeKernels.class.getProtectionDomain().getCodeSource();
      if (source == null) {
        return Optional.empty();
      }
      Path classes = Path.of(source.getLocation().toURI());
      Path parent = classes.toAbsolutePath().getParent();
      return parent == null ? Optional.empty() : Optional.of(parent.resolve("native").resolve(LIBRARY));
    } catch (URISyntaxException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
