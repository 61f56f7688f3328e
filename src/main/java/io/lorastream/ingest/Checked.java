package io.lorastream.ingest;

import io.lorastream.avro.TrainingExample;

/**
 * One raw record after decoding and validation: either a valid {@code example}, or a
 * {@code rejection} ({@code "code: explanation"}) with the {@code original} bytes for the DLQ.
 */
record Checked(TrainingExample example, String rejection, byte[] original) {
  static Checked valid(TrainingExample example) {
    return new Checked(example, null, null);
  }

  static Checked rejected(String reason, byte[] original) {
    return new Checked(null, reason, original);
  }

  boolean isRejected() {
    return rejection != null;
  }
}
