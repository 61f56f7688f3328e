package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * {@code {name: {dtype, shape, data_offsets: [begin, end]}}} and raw little-endian data.
 *
 * <p>Files are memory-mapped tensor by tensor (each mapping stays under 2 GiB, the file need not)
 * and each tensor is copied into engine memory.
 * F32 and F16 load as they are; BF16 is widened to F32 in Java because BF16 NDArrays crash the
 * PyTorch engine here. Written files hold F32 with the keys sorted, so equal maps give equal bytes.
 */
public final class SafeTensors {
  public static final String SINGLE_FILE = "model.safetensors";
  public static final String INDEX_FILE = "model.safetensors.index.json";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  private SafeTensors() {}

  /** One tensor's entry in the header; offsets are relative to the start of the data section. */
  public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
    public Shape djlShape() {
      return new Shape(shape);
    }
  }

  // ---- reading ---------------------------------------------------------------------------

  /** The header of a file, in the file's order, without touching the tensor data. */
  public static Map<String, TensorInfo> readHeader(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return parseHeader(headerBytes(ch, file), file.toString(), ch.size() - 8 - headerLength(ch, file));
    } catch (IOException e) {
      throw new ModelLoadException("cannot read safetensors file " + file + ": " + e.getMessage(), e);
    }
  }

  /** Every tensor of one file as an NDArray on {@code manager}. */
  public static Map<String, NDArray> read(Path file, NDManager manager) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long headerLength = headerLength(ch, file);
      long dataStart = 8 + headerLength;
      Map<String, TensorInfo> header =
          parseHeader(headerBytes(ch, file), file.toString(), ch.size() - dataStart);
      for (TensorInfo info : header.values()) {
        ByteBuffer data =
            ch.map(FileChannel.MapMode.READ_ONLY, dataStart + info.begin(), info.end() - info.begin());
        // The engine wraps a direct buffer without copying; copy so that the arrays never read a
        // file that may later be replaced or truncated (that would crash the JVM with SIGBUS).
        NDArray array = toNdArray(info, data, manager, file.toString());
        if (!info.dtype().equals("BF16")) { // BF16 was already widened into a fresh buffer
          NDArray mapped = array;
          array = mapped.duplicate();
          mapped.close();
        }
        out.put(info.name(), array);
      }
      return out;
    } catch (IOException e) {
      out.values().forEach(NDArray::close);
      throw new ModelLoadException("cannot read safetensors file " + file + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      out.values().forEach(NDArray::close);
      throw e;
    }
  }

  /** Every tensor of an in-memory safetensors file, copied onto {@code manager}. */
  public static Map<String, NDArray> fromBytes(byte[] bytes, NDManager manager) {
    ByteBuffer all = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (bytes.length < 8) {
      throw new ModelLoadException("safetensors bytes too short: " + bytes.length);
    }
    long headerLength = all.getLong(0);
    if (headerLength < 2 || headerLength > bytes.length - 8L) {
      throw new ModelLoadException("safetensors header length " + headerLength + " is invalid");
    }
    int dataStart = 8 + (int) headerLength;
    byte[] header = new byte[(int) headerLength];
    all.get(8, header);
    Map<String, TensorInfo> infos = parseHeader(header, "safetensors bytes", bytes.length - dataStart);
    Map<String, NDArray> out = new LinkedHashMap<>();
    try {
      for (TensorInfo info : infos.values()) {
        int length = (int) (info.end() - info.begin());
        ByteBuffer data = ByteBuffer.allocateDirect(length).order(ByteOrder.LITTLE_ENDIAN);
        data.put(0, bytes, dataStart + (int) info.begin(), length);
        out.put(info.name(), toNdArray(info, data, manager, "safetensors bytes"));
      }
    } catch (RuntimeException e) {
      out.values().forEach(NDArray::close);
      throw e;
    }
    return out;
  }

  /**
   * The weight files of a model directory: {@code model.safetensors}, or the shards listed by
   * {@code model.safetensors.index.json} in file-name order ({@code model-00001-of-0000N} first).
   */
  public static List<Path> modelFiles(Path dir) {
    Path index = dir.resolve(INDEX_FILE);
    if (Files.isRegularFile(index)) {
      try {
        JsonNode weightMap = JSON.readTree(index.toFile()).path("weight_map");
        if (!weightMap.isObject() || weightMap.isEmpty()) {
          throw new ModelLoadException(index + " has no weight_map");
        }
        java.util.TreeSet<String> shards = new java.util.TreeSet<>();
        weightMap.elements().forEachRemaining(n -> shards.add(n.asText()));
        List<Path> files = new ArrayList<>();
        for (String shard : shards) {
          Path p = dir.resolve(shard).normalize();
          if (!p.startsWith(dir.normalize()) || !Files.isRegularFile(p)) {
            throw new ModelLoadException(index + " names shard '" + shard + "' which is missing");
          }
          files.add(p);
        }
        return files;
      } catch (IOException e) {
        throw new ModelLoadException("cannot read " + index + ": " + e.getMessage(), e);
      }
    }
    Path single = dir.resolve(SINGLE_FILE);
    if (!Files.isRegularFile(single)) {
      throw new ModelLoadException("no " + SINGLE_FILE + " or " + INDEX_FILE + " in " + dir);
    }
    return List.of(single);
  }

  private static long headerLength(FileChannel ch, Path file) throws IOException {
    ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    if (ch.read(len, 0) != 8) {
      throw new ModelLoadException(file + " is too short to be a safetensors file");
    }
    long n = len.getLong(0);
    if (n < 2 || n > MAX_HEADER_BYTES || n > ch.size() - 8) {
      throw new ModelLoadException(file + ": safetensors header length " + n + " is invalid");
    }
    return n;
  }

  private static byte[] headerBytes(FileChannel ch, Path file) throws IOException {
    int n = (int) headerLength(ch, file);
    ByteBuffer header = ByteBuffer.allocate(n);
    while (header.hasRemaining()) {
      if (ch.read(header, 8 + header.position()) < 0) {
        throw new ModelLoadException(file + ": truncated safetensors header");
      }
    }
    return header.array();
  }

  private static Map<String, TensorInfo> parseHeader(byte[] header, String source, long dataLength) {
    JsonNode root;
    try {
      root = JSON.readTree(new String(header, StandardCharsets.UTF_8).trim());
    } catch (IOException e) {
      throw new ModelLoadException(source + ": safetensors header is not JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new ModelLoadException(source + ": safetensors header is not a JSON object");
    }
    Map<String, TensorInfo> out = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("__metadata__")) {
        continue;
      }
      JsonNode t = e.getValue();
      String dtype = t.path("dtype").asText("");
      JsonNode shapeNode = t.path("shape");
      JsonNode offsets = t.path("data_offsets");
      if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
        throw new ModelLoadException(source + ": malformed header entry for '" + e.getKey() + "'");
      }
      long[] shape = new long[shapeNode.size()];
      long elements = 1;
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shapeNode.get(i).asLong();
        elements *= shape[i];
      }
      long begin = offsets.get(0).asLong();
      long end = offsets.get(1).asLong();
      long expected = elements * bytesPerElement(dtype, e.getKey(), source);
      if (begin < 0 || end < begin || end > dataLength || end - begin != expected) {
        throw new ModelLoadException(
            source + ": tensor '" + e.getKey() + "' has data_offsets [" + begin + ", " + end
                + "] that do not fit " + dtype + " " + new Shape(shape) + " in " + dataLength
                + " data bytes");
      }
      out.put(e.getKey(), new TensorInfo(e.getKey(), dtype, shape, begin, end));
    }
    return out;
  }

  private static int bytesPerElement(String dtype, String name, String source) {
    switch (dtype) {
      case "F32":
        return 4;
      case "F16":
      case "BF16":
        return 2;
      default:
        throw new ModelLoadException(
            source + ": tensor '" + name + "' has dtype " + dtype + "; only F32, F16 and BF16 load");
    }
  }

  private static NDArray toNdArray(TensorInfo info, ByteBuffer data, NDManager manager, String source) {
    data.order(ByteOrder.LITTLE_ENDIAN).position(0);
    Shape shape = info.djlShape();
    switch (info.dtype()) {
      case "F32":
        return manager.create(data, shape, DataType.FLOAT32);
      case "F16":
        return manager.create(data, shape, DataType.FLOAT16);
      case "BF16":
        return manager.create(widenBf16(data), shape, DataType.FLOAT32);
      default:
        throw new ModelLoadException(source + ": unsupported dtype " + info.dtype());
    }
  }

  /** BF16 is the upper half of an F32: shift each 16-bit pattern left by 16. */
  static ByteBuffer widenBf16(ByteBuffer bf16) {
    int n = bf16.remaining() / 2;
    ByteBuffer out = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
    FloatBuffer floats = out.asFloatBuffer();
    for (int i = 0; i < n; i++) {
      floats.put(i, Float.intBitsToFloat((bf16.getShort(2 * i) & 0xFFFF) << 16));
    }
    return out;
  }

  // ---- writing ---------------------------------------------------------------------------

  /** An F32 safetensors file of {@code tensors}, keys sorted; equal inputs give equal bytes. */
  public static byte[] toBytes(Map<String, NDArray> tensors) {
    TreeMap<String, NDArray> sorted = new TreeMap<>(tensors);
    return f32Bytes(shapesOf(sorted), (key, out, at) -> copyLittleEndian(sorted.get(key), out, at));
  }

  /** {@code shape.size()} floats of {@code data} from {@code offset} on: one tensor of a flat array. */
  public record FloatSlice(float[] data, int offset, Shape shape) {
    public FloatSlice {
      if (offset < 0 || offset + shape.size() > data.length) {
        throw new IllegalArgumentException("a slice of " + shape.size() + " floats from " + offset
            + " does not fit in " + data.length);
      }
    }

    /** Copies the slice as little-endian F32 into {@code out} at {@code at}; returns the bytes written. */
    int copyInto(byte[] out, int at) {
      int n = Math.toIntExact(shape.size());
      ByteBuffer.wrap(out, at, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(data, offset, n);
      return n * 4;
    }
  }

  /**
   * As {@link #toBytes} for tensors held as slices of Java arrays (keys sorted; equal inputs
   * give equal bytes, the same bytes as the tensors themselves would give).
   */
  public static byte[] slicesToBytes(Map<String, FloatSlice> slices) {
    TreeMap<String, Shape> shapes = new TreeMap<>();
    slices.forEach((key, slice) -> shapes.put(key, slice.shape()));
    return f32Bytes(shapes, (key, out, at) -> slices.get(key).copyInto(out, at));
  }

  /** Writes one tensor's data into a file's bytes at {@code at}; returns the bytes written. */
  @FunctionalInterface
  private interface TensorData {
    int copy(String key, byte[] out, int at);
  }

  /**
   * A file of F32 tensors of {@code shapes}, in key order, as one array of the exact size, each
   * tensor's data copied into it once ({@code data}): these are written for every tenant on every
   * training step (weights, optimizer state).
   */
  private static byte[] f32Bytes(TreeMap<String, Shape> shapes, TensorData data) {
    byte[] header = header(shapes);
    long size = header.length;
    for (Shape shape : shapes.values()) {
      size += shape.size() * 4L;
    }
    if (size > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("tensors of " + size + " bytes do not fit in one array; write a file");
    }
    byte[] out = Arrays.copyOf(header, (int) size);
    int at = header.length;
    for (String key : shapes.keySet()) {
      at += data.copy(key, out, at);
    }
    return out;
  }

  /** Copies {@code array}'s values as little-endian F32 into {@code out} at {@code at}; returns the bytes written. */
  private static int copyLittleEndian(NDArray array, byte[] out, int at) {
    if (array.getDataType() == DataType.FLOAT32 && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
      ByteBuffer data = array.toByteBuffer(); // the tensor's bytes in native order
      int n = data.remaining();
      data.get(out, at, n);
      return n;
    }
    float[] values = floats(array);
    ByteBuffer.wrap(out, at, values.length * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(values);
    return values.length * 4;
  }

  /** Writes {@link #toBytes} to a file. */
  public static void write(Path file, Map<String, NDArray> tensors) {
    try (OutputStream out =
        new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
      TreeMap<String, NDArray> sorted = new TreeMap<>(tensors);
      out.write(header(shapesOf(sorted)));
      for (NDArray array : sorted.values()) {
        float[] values = floats(array);
        ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        out.write(buf.array());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  private static TreeMap<String, Shape> shapesOf(TreeMap<String, NDArray> sorted) {
    TreeMap<String, Shape> shapes = new TreeMap<>();
    sorted.forEach((key, array) -> shapes.put(key, array.getShape()));
    return shapes;
  }

  /**
   * The 8-byte little-endian header length and the JSON header of {@code sorted} as F32 tensors in
   * that order, padded with spaces so the data section starts 8-byte aligned, as the reference
   * writer does.
   */
  private static byte[] header(TreeMap<String, Shape> sorted) throws UncheckedIOException {
    ObjectNode header = JSON.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long offset = 0;
    for (Map.Entry<String, Shape> e : sorted.entrySet()) {
      long bytes = e.getValue().size() * 4L;
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", "F32");
      var shape = t.putArray("shape");
      for (long d : e.getValue().getShape()) {
        shape.add(d);
      }
      t.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(header);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int padded = (json.length + 7) / 8 * 8;
    byte[] out = new byte[8 + padded];
    ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
    System.arraycopy(json, 0, out, 8, json.length);
    Arrays.fill(out, 8 + json.length, out.length, (byte) ' ');
    return out;
  }

  private static float[] floats(NDArray array) {
    if (array.getDataType() == DataType.FLOAT32) {
      return array.toFloatArray();
    }
    try (NDArray f32 = array.toType(DataType.FLOAT32, true)) {
      return f32.toFloatArray();
    }
  }
}
