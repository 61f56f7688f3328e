package io.lorastream.model;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Text to token ids and back, from a local Hugging Face {@code tokenizer.json} (never downloaded).
 * {@link #encode} adds no special tokens: callers place bos/eos themselves.
 */
public final class TextTokenizer implements AutoCloseable {
  private final HuggingFaceTokenizer tokenizer;
  private final int bosId;
  private final int eosId;
  private final int vocabSize;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, int bosId, int eosId, int vocabSize) {
    this.tokenizer = tokenizer;
    this.bosId = bosId;
    this.eosId = eosId;
    this.vocabSize = vocabSize;
  }

  /** Loads {@code tokenizerJson}; bos and eos ids come from the model config. */
  public static TextTokenizer load(Path tokenizerJson, int bosId, int eosId) {
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new ModelLoadException("missing tokenizer file " + tokenizerJson);
    }
    int vocabSize;
    try {
      vocabSize = countTokens(new ObjectMapper().readTree(tokenizerJson.toFile()));
    } catch (IOException e) {
      throw new ModelLoadException("cannot read " + tokenizerJson + ": " + e.getMessage(), e);
    }
    try {
      HuggingFaceTokenizer tokenizer =
          HuggingFaceTokenizer.builder()
              .optTokenizerPath(tokenizerJson)
              .optAddSpecialTokens(false)
              .optTruncation(false)
              .optPadding(false)
              .build();
      return new TextTokenizer(tokenizer, bosId, eosId, vocabSize);
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException("cannot load tokenizer " + tokenizerJson + ": " + e.getMessage(), e);
    }
  }

  /** Highest id in the model vocabulary or the added tokens, plus one. */
  private static int countTokens(JsonNode root) {
    int max = -1;
    for (JsonNode id : root.path("model").path("vocab")) {
      max = Math.max(max, id.asInt());
    }
    for (JsonNode added : root.path("added_tokens")) {
      max = Math.max(max, added.path("id").asInt());
    }
    return max + 1;
  }

  /** Token ids of {@code text}, without special tokens. */
  public int[] encode(String text) {
    if (text.isEmpty()) {
      return new int[0];
    }
    Encoding encoding = tokenizer.encode(text, false, false);
    long[] ids = encoding.getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  /** Text of {@code ids}, special tokens (bos, eos, unk) skipped. */
  public String decode(int[] ids) {
    if (ids.length == 0) {
      return "";
    }
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      longs[i] = ids[i];
    }
    return tokenizer.decode(longs, true);
  }

  public int bosId() {
    return bosId;
  }

  public int eosId() {
    return eosId;
  }

  /** Number of ids the tokenizer knows (may be below the model's vocab_size). */
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
