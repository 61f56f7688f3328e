package io.lorastream.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The byte-level BPE layout of lorastream's own tokenizers, written as a Hugging Face
 * {@code tokenizer.json}: ids 0-2 are {@code <unk> <s> </s>}, ids 3-258 the 256 bytes (as GPT-2's
 * printable unicode stand-ins), and id 259 + i the result of merge i. Any UTF-8 text round-trips
 * exactly, with or without merges.
 */
public final class ByteLevelBpe {
  public static final String[] SPECIAL_TOKENS = {"<unk>", "<s>", "</s>"};
  /** Id of the first byte token; the first merged token follows the 256 bytes. */
  public static final int FIRST_BYTE_ID = SPECIAL_TOKENS.length;
  public static final int FIRST_MERGE_ID = FIRST_BYTE_ID + 256;

  /**
   * The split the ByteLevel pre-tokenizer makes before merging (GPT-2's pattern, with
   * {@code use_regex}): merges never cross these pieces.
   */
  public static final Pattern PRE_TOKENIZER =
      Pattern.compile(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

  private ByteLevelBpe() {}

  /**
   * Writes {@code tokenizer.json}.
   *
   * @param merges pairs of symbols {@code "left right"} in priority order, each symbol a byte
   *     stand-in string; merged strings that are already in the vocabulary keep their id
   */
  public static void writeTokenizerJson(Path file, List<String> merges) throws IOException {
    List<Map<String, Object>> added = new ArrayList<>();
    Map<String, Object> vocab = new LinkedHashMap<>();
    for (int id = 0; id < SPECIAL_TOKENS.length; id++) {
      Map<String, Object> token = new LinkedHashMap<>();
      token.put("id", id);
      token.put("content", SPECIAL_TOKENS[id]);
      token.put("single_word", false);
      token.put("lstrip", false);
      token.put("rstrip", false);
      token.put("normalized", false);
      token.put("special", true);
      added.add(token);
      vocab.put(SPECIAL_TOKENS[id], id);
    }
    char[] byteChars = bytesToUnicode();
    for (int b = 0; b < 256; b++) {
      vocab.put(String.valueOf(byteChars[b]), FIRST_BYTE_ID + b);
    }
    for (String merge : merges) {
      int space = merge.indexOf(' ');
      if (space <= 0 || space != merge.lastIndexOf(' ') || space == merge.length() - 1) {
        throw new IllegalArgumentException("merge must be two symbols 'left right': '" + merge + "'");
      }
      String left = merge.substring(0, space);
      String right = merge.substring(space + 1);
      if (!vocab.containsKey(left) || !vocab.containsKey(right)) {
        throw new IllegalArgumentException("merge '" + merge + "' uses a symbol not made yet");
      }
      vocab.putIfAbsent(left + right, vocab.size());
    }
    Map<String, Object> byteLevel = new LinkedHashMap<>();
    byteLevel.put("type", "ByteLevel");
    byteLevel.put("add_prefix_space", false);
    byteLevel.put("trim_offsets", true);
    byteLevel.put("use_regex", true);

    Map<String, Object> model = new LinkedHashMap<>();
    model.put("type", "BPE");
    model.put("dropout", null);
    model.put("unk_token", null);
    model.put("continuing_subword_prefix", null);
    model.put("end_of_word_suffix", null);
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", false);
    model.put("vocab", vocab);
    model.put("merges", merges);

    Map<String, Object> root = new LinkedHashMap<>();
    root.put("version", "1.0");
    root.put("truncation", null);
    root.put("padding", null);
    root.put("added_tokens", added);
    root.put("normalizer", null);
    root.put("pre_tokenizer", byteLevel);
    root.put("post_processor", null);
    root.put("decoder", byteLevel);
    root.put("model", model);
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), root);
  }

  /** GPT-2's reversible map from bytes to printable unicode characters. */
  public static char[] bytesToUnicode() {
    char[] out = new char[256];
    boolean[] printable = new boolean[256];
    for (int b = '!'; b <= '~'; b++) {
      printable[b] = true;
    }
    for (int b = 0xA1; b <= 0xAC; b++) {
      printable[b] = true;
    }
    for (int b = 0xAE; b <= 0xFF; b++) {
      printable[b] = true;
    }
    int next = 0;
    for (int b = 0; b < 256; b++) {
      out[b] = printable[b] ? (char) b : (char) (256 + next++);
    }
    return out;
  }
}
