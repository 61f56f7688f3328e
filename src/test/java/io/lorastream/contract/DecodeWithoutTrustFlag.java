package io.lorastream.contract;

/**
 * Run in a JVM started without {@code -Dorg.apache.avro.SERIALIZABLE_PACKAGES}: decodes a record
 * and exits 0, or prints the failure and exits 1.
 */
public final class DecodeWithoutTrustFlag {
  private DecodeWithoutTrustFlag() {}

  public static void main(String[] args) {
    try {
      AvroCodec.TRAINING_EXAMPLE.decode(
          AvroCodec.TRAINING_EXAMPLE.encode(SampleRecords.example("acme", "1")));
      System.exit(0);
    } catch (Throwable e) {
      e.printStackTrace();
      System.exit(1);
    }
  }
}
