package io.lorastream.model.pretrain;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Fixed-length training rows cut from tokenized documents: a row starts at a randomly drawn
 * document and packs {@code [bos] doc [eos]} after {@code [bos] doc [eos]} until it holds
 * {@code length + 1} tokens (inputs are the first {@code length}, targets the last). Rows are drawn
 * from a seeded Java random source, so batch n is the same on every run.
 */
public final class PackedBatches {
  private final List<int[]> documents; // token ids without bos/eos
  private final int bos;
  private final int eos;
  private final int length;
  private final SplittableRandom random;

  public PackedBatches(List<int[]> documents, int bos, int eos, int length, long seed) {
    if (documents.isEmpty()) {
      throw new IllegalArgumentException("no documents to train on");
    }
    if (length < 2) {
      throw new IllegalArgumentException("rows need at least 2 tokens, got " + length);
    }
    this.documents = documents;
    this.bos = bos;
    this.eos = eos;
    this.length = length;
    this.random = new SplittableRandom(seed);
  }

  public int length() {
    return length;
  }

  /** {@code rows} rows of {@code length + 1} tokens, flattened: (rows, length + 1). */
  public long[] next(int rows) {
    long[] out = new long[rows * (length + 1)];
    for (int r = 0; r < rows; r++) {
      int filled = 0;
      int doc = random.nextInt(documents.size());
      while (filled < length + 1) {
        int[] ids = documents.get(doc);
        out[r * (length + 1) + filled++] = bos;
        for (int i = 0; i < ids.length && filled < length + 1; i++) {
          out[r * (length + 1) + filled++] = ids[i];
        }
        if (filled < length + 1) {
          out[r * (length + 1) + filled++] = eos;
        }
        doc = (doc + 1) % documents.size();
      }
    }
    return out;
  }
}
