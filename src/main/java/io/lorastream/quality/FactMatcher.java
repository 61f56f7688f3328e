package io.lorastream.quality;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Whether an answer states a fact value: exact match after normalisation, on whole words.
 *
 * <p>Both texts are lower-cased and every run of whitespace becomes one space. The value must then
 * occur in the answer with a word boundary on each side: the character before it is not a letter,
 * digit, {@code $}, {@code @} or {@code .}, and the character after it is not a letter, digit or
 * {@code @}, nor a {@code .} followed by a letter or digit. So "30 days" is found in "Returns are
 * accepted within 30 days." but not in "130 days"; "$5" not in "$5.49" nor "$55"; "9am to 5pm" in
 * "Support is open 9am to 5pm, Monday to Friday." An answer that spells a value differently
 * ("thirty days", "$5.00") does not count.
 */
public final class FactMatcher {
  private static final Pattern WHITESPACE = Pattern.compile("\\s+");

  private FactMatcher() {}

  /** Whether {@code answer} states {@code value} (see the class comment for what counts). */
  public static boolean states(String answer, String value) {
    return statesNormalised(normalise(answer), normalise(value));
  }

  /** {@link #states} on texts already {@link #normalise normalised} (to normalise a long answer once). */
  static boolean statesNormalised(String text, String fact) {
    if (fact.isEmpty()) {
      throw new IllegalArgumentException("fact value is blank");
    }
    for (int at = text.indexOf(fact); at >= 0; at = text.indexOf(fact, at + 1)) {
      if (boundaryBefore(text, at) && boundaryAfter(text, at + fact.length())) {
        return true;
      }
    }
    return false;
  }

  /** Lower case, whitespace runs to one space, trimmed. */
  static String normalise(String s) {
    return WHITESPACE.matcher(s.toLowerCase(Locale.ROOT)).replaceAll(" ").trim();
  }

  private static boolean boundaryBefore(String text, int at) {
    if (at == 0) {
      return true;
    }
    char c = text.charAt(at - 1);
    return !(Character.isLetterOrDigit(c) || c == '$' || c == '@' || c == '.');
  }

  private static boolean boundaryAfter(String text, int end) {
    if (end == text.length()) {
      return true;
    }
    char c = text.charAt(end);
    if (Character.isLetterOrDigit(c) || c == '@') {
      return false;
    }
    return !(c == '.' && end + 1 < text.length() && Character.isLetterOrDigit(text.charAt(end + 1)));
  }
}
