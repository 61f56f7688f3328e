package io.lorastream.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.bench.ExampleLedger.CleanRecord;
import io.lorastream.bench.ExampleLedger.SnapshotFacts;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Accounting and freshness on hand-made offsets: partition 0 holds acme's and globex's examples interleaved. */
class ExampleLedgerTest {
  /** acme a0..a3 at offsets 0, 2, 4, 6 (a2 holdout), globex g0, g1 at 1, 3; event times 1000 + 100 i. */
  private static ExampleLedger ledger() {
    ExampleLedger ledger = new ExampleLedger();
    String[][] rows = {{"acme", "a0"}, {"globex", "g0"}, {"acme", "a1"}, {"globex", "g1"}, {"acme", "a2"},
        {"acme", "a3"}};
    long[] offsets = {0, 1, 2, 3, 4, 6};
    for (int i = 0; i < rows.length; i++) {
      ledger.produced(rows[i][0], rows[i][1], 1000 + 100L * i);
      ledger.cleaned(new CleanRecord(rows[i][0], rows[i][1], 0, offsets[i], rows[i][1].equals("a2")));
    }
    return ledger;
  }

  private static SnapshotFacts snapshot(String tenant, long version, long nextOffset, long seen, long at) {
    return new SnapshotFacts(tenant, version, Map.of(0, nextOffset), seen, 1f, null, at);
  }

  @Test
  void everyExampleOnceIsExact() {
    ExampleLedger ledger = ledger();
    ledger.published(snapshot("acme", 1, 1, 1, 5000)); // a0
    ledger.published(snapshot("acme", 2, 7, 3, 6000)); // a1, a3 (a2 is holdout)
    ledger.published(snapshot("globex", 1, 4, 2, 5500)); // g0, g1
    assertThat(ledger.drained()).isTrue();
    ExampleLedger.Accounting a = ledger.account();
    assertThat(a.exact()).as(a.problems().toString()).isTrue();
    assertThat(a.produced()).isEqualTo(6);
    assertThat(a.holdout()).isEqualTo(1);
    assertThat(a.trainable()).isEqualTo(5);
  }

  @Test
  void anExampleBeyondTheNewestOffsetsIsUntrained() {
    ExampleLedger ledger = ledger();
    ledger.published(snapshot("acme", 1, 3, 2, 5000)); // a0, a1; a3 at offset 6 never covered
    ledger.published(snapshot("globex", 1, 4, 2, 5500));
    assertThat(ledger.drained()).isFalse();
    ExampleLedger.Accounting a = ledger.account();
    assertThat(a.untrained()).isEqualTo(1);
    assertThat(a.lost()).isZero();
    assertThat(a.duplicated()).isZero();
    assertThat(a.exact()).isFalse();
  }

  @Test
  void aSnapshotThatSawMoreThanItsOffsetsCoverCountsDuplicates() {
    ExampleLedger ledger = ledger();
    ledger.published(snapshot("acme", 1, 7, 5, 5000)); // covers 3 trainable, claims 5
    ledger.published(snapshot("globex", 1, 4, 2, 5500));
    ExampleLedger.Accounting a = ledger.account();
    assertThat(a.duplicated()).isEqualTo(2);
    assertThat(a.inconsistentSnapshots()).isEqualTo(1);
    assertThat(a.problems()).anyMatch(p -> p.contains("acme v1: examplesSeen 5"));
  }

  @Test
  void examplesMissingFromOrRepeatedInTheCleanTopicAreCounted() {
    ExampleLedger ledger = ledger();
    ledger.produced("acme", "a9", 2000); // never reaches the clean topic
    ledger.cleaned(new CleanRecord("globex", "g1", 0, 7, false)); // g1 written twice
    ledger.published(snapshot("acme", 1, 7, 3, 5000));
    ledger.published(snapshot("globex", 1, 8, 3, 5500)); // trains both copies of g1
    ExampleLedger.Accounting a = ledger.account();
    assertThat(a.lost()).isEqualTo(1);
    assertThat(a.duplicated()).isEqualTo(1);
    assertThat(a.inconsistentSnapshots()).isZero();
  }

  @Test
  void freshnessRunsToTheFirstServedVersionThatCoversTheExample() {
    ExampleLedger ledger = ledger();
    ledger.published(snapshot("acme", 1, 1, 1, 5000)); // a0
    ledger.published(snapshot("acme", 2, 7, 3, 6000)); // a1, a3
    ledger.published(snapshot("globex", 1, 4, 2, 5500));
    ledger.served("acme", 1, 5100);
    ledger.served("acme", 1, 5200); // the same version again: the first sighting counts
    ledger.served("acme", 3, 7000); // v2 was never seen on its own: v3 covers what v2 did
    // globex never served

    ExampleLedger.Freshness f = ledger.freshness(0, Long.MAX_VALUE);
    // a0 (event 1000) served at 5100; a1 (1200) and a3 (1500) at 7000; holdout a2 left out.
    assertThat(f.millis()).containsExactlyInAnyOrder(4100, 5800, 5500);
    assertThat(f.unserved()).isEqualTo(2);
    assertThat(ledger.freshness(1100, 1400).millis()).containsExactly(5800);
  }
}
