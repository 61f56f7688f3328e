package io.lorastream.cli;

/** Entry point of the {@code ./lorastream} launcher. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.out.println("lorastream");
  }
}
