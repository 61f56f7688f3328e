package io.lorastream.model;

/** A base model, adapter or tensor file that cannot be used; the message says which part and why. */
public class ModelLoadException extends RuntimeException {
  public ModelLoadException(String message) {
    super(message);
  }

  public ModelLoadException(String message, Throwable cause) {
    super(message, cause);
  }
}
