package io.lorastream.gateway;

import io.lorastream.model.TextTokenizer;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a stream of generated token ids into text deltas for streaming. The whole generation is
 * decoded again at each step (byte-level tokens may split a character), and text is held back
 * while it ends in an incomplete character or could still be the start of a stop sequence, so
 * the concatenated deltas always equal the final completion text.
 */
final class TextStream {
  private final TextTokenizer tokenizer;
  private final List<String> stops;
  private final int holdBack;
  private int[] tokens = new int[0];
  private int emitted;

  TextStream(TextTokenizer tokenizer, List<String> stops) {
    this.tokenizer = tokenizer;
    this.stops = stops;
    this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
  }

  /** The new text that is safe to send after these tokens (may be empty). */
  synchronized String add(int[] newTokens) {
    int[] all = Arrays.copyOf(tokens, tokens.length + newTokens.length);
    System.arraycopy(newTokens, 0, all, tokens.length, newTokens.length);
    tokens = all;
    String text = tokenizer.decode(tokens);
    int safe = text.length() - holdBack;
    while (safe > emitted && text.charAt(safe - 1) == '\uFFFD') {
      safe--;
    }
    if (safe <= emitted) {
      return "";
    }
    String delta = text.substring(emitted, safe);
    emitted = safe;
    return delta;
  }

  /** What remains of the final text after what was already sent. */
  synchronized String finish(String finalText) {
    String rest = finalText.length() > emitted ? finalText.substring(emitted) : "";
    emitted = Math.max(emitted, finalText.length());
    return rest;
  }
}
