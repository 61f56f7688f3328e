package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
  @TempDir Path tmp;

  @Test
  void f32RoundTripsThroughBytesAndFiles() throws Exception {
    try (NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> tensors = new LinkedHashMap<>();
      tensors.put("z.last", manager.create(new float[] {1f, -2.5f, 3e-8f, Float.MAX_VALUE}, new Shape(2, 2)));
      tensors.put("a.first", manager.create(new float[] {0.1f, 0.2f, 0.3f}, new Shape(3)));
      tensors.put("m.scalar", manager.create(new float[] {42f}, new Shape()));
      byte[] bytes = SafeTensors.toBytes(tensors);

      Map<String, NDArray> back = SafeTensors.fromBytes(bytes, manager);
      assertThat(back.keySet()).containsExactly("a.first", "m.scalar", "z.last");
      for (String key : tensors.keySet()) {
        assertThat(back.get(key).getShape()).isEqualTo(tensors.get(key).getShape());
        assertThat(back.get(key).toFloatArray()).containsExactly(tensors.get(key).toFloatArray());
      }
      Path file = tmp.resolve("t.safetensors");
      SafeTensors.write(file, tensors);
      assertThat(Files.readAllBytes(file)).isEqualTo(bytes);
      assertThat(SafeTensors.read(file, manager).get("z.last").toFloatArray())
          .containsExactly(tensors.get("z.last").toFloatArray());

      // Key order of the input does not matter: the bytes are canonical.
      Map<String, NDArray> reversed = new LinkedHashMap<>();
      reversed.put("m.scalar", tensors.get("m.scalar"));
      reversed.put("a.first", tensors.get("a.first"));
      reversed.put("z.last", tensors.get("z.last"));
      assertThat(SafeTensors.toBytes(reversed)).isEqualTo(bytes);
      long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
      assertThat(headerLength % 8).isZero();
    }
  }

  @Test
  void readsHandWrittenF16AndBf16Files() throws Exception {
    // Values exact in F16, with their bit patterns (Float.floatToFloat16 needs Java 20).
    float[] values = {1f, -2f, 0.5f, 65504f, -0.0999755859375f, 3.140625f};
    short[] f16Bits = {0x3C00, (short) 0xC000, 0x3800, 0x7BFF, (short) 0xAE66, 0x4248};
    ByteBuffer f16 = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer bf16 = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < values.length; i++) {
      f16.putShort(f16Bits[i]);
      bf16.putShort((short) (Float.floatToIntBits(values[i]) >>> 16));
    }
    String header =
        "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"half\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
            + "\"brain\":{\"dtype\":\"BF16\",\"shape\":[3,2],\"data_offsets\":[12,24]}}";
    byte[] headerBytes = header.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length).array());
    out.write(headerBytes);
    out.write(f16.array());
    out.write(bf16.array());
    Path file = tmp.resolve("mixed.safetensors");
    Files.write(file, out.toByteArray());

    try (NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> tensors = SafeTensors.read(file, manager);
      NDArray half = tensors.get("half");
      assertThat(half.getDataType()).isEqualTo(DataType.FLOAT16);
      assertThat(half.getShape()).isEqualTo(new Shape(2, 3));
      float[] expectedHalf = new float[values.length];
      float[] expectedBf16 = new float[values.length];
      for (int i = 0; i < values.length; i++) {
        expectedHalf[i] = values[i];
        expectedBf16[i] = Float.intBitsToFloat(Float.floatToIntBits(values[i]) & 0xFFFF0000);
      }
      assertThat(half.toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(expectedHalf);
      NDArray brain = tensors.get("brain");
      assertThat(brain.getDataType()).isEqualTo(DataType.FLOAT32);
      assertThat(brain.getShape()).isEqualTo(new Shape(3, 2));
      assertThat(brain.toFloatArray()).containsExactly(expectedBf16);
      assertThat(SafeTensors.fromBytes(out.toByteArray(), manager).get("brain").toFloatArray())
          .containsExactly(expectedBf16);
      // Both survive the file being replaced after loading (the data was copied).
      Files.write(file, new byte[0]);
      assertThat(half.toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(expectedHalf);
    }
  }

  @Test
  void rejectsTruncatedDataAndUnknownDtypes() throws Exception {
    try (NDManager manager = NDManager.newBaseManager()) {
      byte[] good = SafeTensors.toBytes(Map.of("w", manager.ones(new Shape(4))));
      byte[] truncated = java.util.Arrays.copyOf(good, good.length - 4);
      assertThatThrownBy(() -> SafeTensors.fromBytes(truncated, manager))
          .isInstanceOf(ModelLoadException.class)
          .hasMessageContaining("'w'");
      String header = "{\"i\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length()).array());
      out.write(header.getBytes(StandardCharsets.US_ASCII));
      out.write(0);
      assertThatThrownBy(() -> SafeTensors.fromBytes(out.toByteArray(), manager))
          .hasMessageContaining("dtype I8");
    }
  }
}
