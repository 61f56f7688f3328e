package io.lorastream.model.pretrain;

import io.lorastream.model.ByteLevelBpe;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;

/**
 * Learns byte-level BPE merges from text, as GPT-2 did: split with the ByteLevel pre-tokenizer's
 * pattern, start from single bytes, and repeatedly merge the most frequent adjacent pair. Ties go
 * to the lexicographically smallest pair, so the merges depend on the text alone.
 */
public final class BpeTrainer {
  private BpeTrainer() {}

  /**
   * Merges for a vocabulary of {@code vocabSize} ids (specials and bytes included), in priority
   * order as {@link ByteLevelBpe#writeTokenizerJson} takes them. Stops early when no pair occurs
   * twice.
   */
  public static List<String> train(List<String> texts, int vocabSize) {
    if (vocabSize < ByteLevelBpe.FIRST_MERGE_ID) {
      throw new IllegalArgumentException(
          "vocabSize must hold the specials and 256 bytes (" + ByteLevelBpe.FIRST_MERGE_ID + "), got "
              + vocabSize);
    }
    char[] byteChars = ByteLevelBpe.bytesToUnicode();
    // Distinct pre-tokenized pieces with their counts; each piece as its current symbols.
    Map<String, Integer> pieceCounts = new LinkedHashMap<>();
    for (String text : texts) {
      Matcher m = ByteLevelBpe.PRE_TOKENIZER.matcher(text);
      while (m.find()) {
        pieceCounts.merge(m.group(), 1, Integer::sum);
      }
    }
    List<List<String>> words = new ArrayList<>(pieceCounts.size());
    int[] counts = new int[pieceCounts.size()];
    int w = 0;
    for (Map.Entry<String, Integer> e : pieceCounts.entrySet()) {
      List<String> symbols = new ArrayList<>();
      for (byte b : e.getKey().getBytes(StandardCharsets.UTF_8)) {
        symbols.add(String.valueOf(byteChars[b & 0xFF]));
      }
      words.add(symbols);
      counts[w++] = e.getValue();
    }

    List<String> merges = new ArrayList<>();
    java.util.Set<String> vocab = new java.util.HashSet<>();
    int size = ByteLevelBpe.FIRST_MERGE_ID;
    while (size < vocabSize) {
      Map<String, Long> pairs = new HashMap<>();
      for (int i = 0; i < words.size(); i++) {
        List<String> s = words.get(i);
        for (int j = 0; j + 1 < s.size(); j++) {
          pairs.merge(s.get(j) + ' ' + s.get(j + 1), (long) counts[i], Long::sum);
        }
      }
      String best = null;
      long bestCount = 1; // a pair seen once is not worth a token
      for (Map.Entry<String, Long> e : pairs.entrySet()) {
        long c = e.getValue();
        if (c > bestCount || (c == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
          best = e.getKey();
          bestCount = c;
        }
      }
      if (best == null) {
        break;
      }
      merges.add(best);
      int space = best.indexOf(' ');
      String left = best.substring(0, space);
      String right = best.substring(space + 1);
      String joined = left + right;
      if (vocab.add(joined)) {
        size++;
      }
      for (List<String> s : words) {
        for (int j = 0; j + 1 < s.size(); j++) {
          if (s.get(j).equals(left) && s.get(j + 1).equals(right)) {
            s.set(j, joined);
            s.remove(j + 1);
          }
        }
      }
    }
    return merges;
  }
}
