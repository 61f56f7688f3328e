package io.lorastream.model.pretrain;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.model.ByteLevelBpe;
import io.lorastream.model.TextTokenizer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTrainerTest {
  @TempDir Path tmp;

  @Test
  void learnsFrequentPairsFirstAndDeterministically() {
    List<String> texts = List.of("the theme then", "the other", "the thing");
    List<String> merges = BpeTrainer.train(texts, ByteLevelBpe.FIRST_MERGE_ID + 3);
    assertThat(merges).hasSize(3).isEqualTo(BpeTrainer.train(texts, ByteLevelBpe.FIRST_MERGE_ID + 3));
    assertThat(merges.get(0)).isEqualTo("t h");
  }

  @Test
  void learnedTokenizerLoadsInHuggingFaceTokenizersAndRoundTrips() throws Exception {
    List<String> corpus = new CustomerServiceCorpus(3).documents(2_000);
    List<String> merges = BpeTrainer.train(corpus, 512);
    assertThat(merges).hasSizeGreaterThanOrEqualTo(512 - ByteLevelBpe.FIRST_MERGE_ID);
    Path file = tmp.resolve("tokenizer.json");
    ByteLevelBpe.writeTokenizerJson(file, merges);
    try (TextTokenizer tok = TextTokenizer.load(file, 1, 2)) {
      assertThat(tok.vocabSize()).isEqualTo(512);
      String question = "Question: How long do I have to return an item?\nAnswer: You can return it within 30 days.";
      int[] ids = tok.encode(question);
      assertThat(ids.length).as("merges shorten the text").isLessThan(question.length() / 2);
      for (String text : List.of(question, corpus.get(0), "  two  spaces\tand\nnewlines ",
          "naïve café – 東京 😀", "<unk> is a special token? $12.50!", "")) {
        if (text.contains("<unk>")) {
          continue; // written specials are encoded as their ids and skipped on decode
        }
        assertThat(tok.decode(tok.encode(text))).isEqualTo(text);
      }
    }
  }
}
