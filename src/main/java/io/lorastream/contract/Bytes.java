package io.lorastream.contract;

import java.nio.ByteBuffer;

/** Avro gives {@code bytes} fields as ByteBuffers; this copies one out without moving its position. */
public final class Bytes {
  private Bytes() {}

  public static byte[] of(ByteBuffer buffer) {
    ByteBuffer b = buffer.duplicate();
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }
}
