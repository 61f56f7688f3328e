package io.lorastream.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
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
 * The per-row LoRA term of a decode batch computed by {@code liblorastream_kernels.so}
 * (src/main/native/row_lora.c) straight from {@link LoraSlots}' stack: one pass over each row's
 * factors, added into the base projection's output in place, where libtorch runs two batched
 * products (one small matrix-vector product per row each) and an add.
 *
 * <p>Where the library is: the system property {@code lorastream.kernels} (a path, or {@code off}),
 * else {@code native/liblorastream_kernels.so} beside the folder or jar this class came from
 * ({@code target/native} in a build, {@code /app/native} in the image). Without it, or for arrays
 * not in F32 on the CPU, {@link RowLora} keeps libtorch's products; results agree to float
 * rounding.
 */
final class NativeRowLora {
  private static final Logger log = LoggerFactory.getLogger(NativeRowLora.class);
  static final String LIBRARY = "liblorastream_kernels.so";
  /** The largest rank the kernel takes (MAX_RANK in row_lora.c). */
  static final int MAX_RANK = 256;
  private static final boolean LOADED = load();

  private NativeRowLora() {}

  /** True when the library is loaded. */
  static boolean available() {
    return LOADED;
  }

  /** True when the kernel can work on this array: F32 on the CPU. */
  static boolean fits(NDArray array) {
    return array.getDataType() == DataType.FLOAT32 && array.getDevice().getDeviceType().equals(Device.Type.CPU);
  }

  /**
   * The native memory of a contiguous F32 CPU array (no copy); the buffer is valid while the
   * array is open.
   */
  static ByteBuffer memory(NDArray array) {
    return JniUtils.getByteBuffer((PtNDArray) array, true);
  }

  /**
   * {@code y[b, t, :] += (x[b, t, :] Aᵀ_b) (s·B_b)ᵀ} for every row b, whose factors are in slot b
   * of {@code slots}.
   *
   * @param y (rows, tokens, out) F32, contiguous, written in place: a projection's fresh output
   * @param x (rows, tokens, in) F32 (copied first when not contiguous)
   * @param slots the rows' slots, {@code slotWidth} floats each, from {@link #memory}
   * @param aOffset float offset of Aᵀ (in, rank) in a slot
   * @param bOffset float offset of (s·B)ᵀ (rank, out) in a slot
   */
  static void addInto(NDArray y, NDArray x, ByteBuffer slots, long slotWidth, long aOffset, long bOffset,
      int rank) {
    long rows = y.getShape().get(0);
    long positions = y.getShape().size() / Math.max(1, y.getShape().tail());
    int in = Math.toIntExact(x.getShape().tail());
    int out = Math.toIntExact(y.getShape().tail());
    if (x.getShape().size() != positions * in || rank <= 0 || rank > MAX_RANK
        || slotWidth * rows * Float.BYTES > slots.capacity()) {
      throw new IllegalArgumentException("row LoRA shapes do not match: x " + x.getShape() + ", y " + y.getShape()
          + ", " + rows + " slots of " + slotWidth + " floats in " + slots.capacity() + " bytes");
    }
    addRowLora(memory(x), slots, slotWidth, aOffset, bOffset, memory(y), Math.toIntExact(rows),
        Math.toIntExact(positions / rows), in, rank, out);
  }

  private static native void addRowLora(ByteBuffer x, ByteBuffer slots, long slotWidth, long aOffset,
      long bOffset, ByteBuffer y, int rows, int tokens, int in, int rank, int out);

  private static boolean load() {
    String setting = System.getProperty("lorastream.kernels", "");
    if (setting.equals("off")) {
      log.info("per-row LoRA kernel off (-Dlorastream.kernels=off): libtorch's batched products instead");
      return false;
    }
    Optional<Path> library = setting.isEmpty() ? besideClasses() : Optional.of(Path.of(setting));
    if (library.isEmpty() || !Files.isReadable(library.get())) {
      log.info("{} not found{}: per-row LoRA through libtorch's batched products (build it with a C compiler "
          + "present, or set -Dlorastream.kernels)", LIBRARY, library.map(p -> " at " + p).orElse(""));
      return false;
    }
    try {
      System.load(library.get().toAbsolutePath().toString());
      log.info("per-row LoRA of decode batches through {}", library.get());
      return true;
    } catch (UnsatisfiedLinkError e) {
      log.warn("could not load {}: per-row LoRA through libtorch's batched products", library.get(), e);
      return false;
    }
  }

  /** {@code native/LIBRARY} in the folder holding this class's folder or jar. */
  private static Optional<Path> besideClasses() {
    try {
      var source = NativeRowLora.class.getProtectionDomain().getCodeSource();
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
