package io.lorastream.kafka;

/** Kafka could not be reached or refused a request; the message says what to do. */
public final class KafkaUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public KafkaUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
