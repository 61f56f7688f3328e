package io.lorastream.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.TrainingExample;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class MicroBatcherTest {
  private static final TopicPartition P0 = new TopicPartition("examples", 0);
  private static final TopicPartition P1 = new TopicPartition("examples", 1);

  private static PendingExample example(String tenant, TopicPartition partition, long offset, long waitingSince) {
    TrainingExample e = TrainingExample.newBuilder().setId(tenant + offset).setTenant(tenant).setPrompt("p")
        .setCompletion("c").setWeight(1f).setEventTime(Instant.EPOCH).setMetadata(Map.of()).build();
    return new PendingExample(partition, offset, e, waitingSince);
  }

  @Test
  void batchIsReadyWhenFullOrOld() {
    MicroBatcher batcher = new MicroBatcher(3, Duration.ofMillis(100));
    batcher.add(example("a", P0, 0, 0));
    batcher.add(example("a", P0, 1, 0));
    assertThat(batcher.takeReady(50)).isEmpty();
    batcher.add(example("a", P0, 2, 10));
    List<MicroBatch> full = batcher.takeReady(50);
    assertThat(full).singleElement().satisfies(b -> assertThat(b.examples()).extracting(PendingExample::offset)
        .containsExactly(0L, 1L, 2L));

    batcher.add(example("b", P0, 3, 1000));
    assertThat(batcher.takeReady(1099)).isEmpty();
    assertThat(batcher.takeReady(1100)).singleElement().extracting(MicroBatch::tenant).isEqualTo("b");
  }

  @Test
  void busyTenantCannotStarveOthers() {
    MicroBatcher batcher = new MicroBatcher(2, Duration.ofMillis(100));
    for (int i = 0; i < 10; i++) {
      batcher.add(example("busy", P0, i, 0));
    }
    batcher.add(example("quiet", P1, 0, 0));
    // Each round serves every ready tenant once: the quiet tenant trains in the first round.
    List<MicroBatch> round = batcher.takeReady(200);
    assertThat(round).extracting(MicroBatch::tenant).containsExactlyInAnyOrder("busy", "quiet");
    assertThat(round).filteredOn(b -> b.tenant().equals("busy")).singleElement()
        .satisfies(b -> assertThat(b.examples()).hasSize(2));
  }

  @Test
  void oldestOffsetLimitsWhatMayBeCommitted() {
    MicroBatcher batcher = new MicroBatcher(2, Duration.ofMillis(100));
    batcher.add(example("a", P0, 5, 0));
    batcher.add(example("b", P0, 7, 0));
    batcher.add(example("b", P0, 8, 0));
    assertThat(batcher.takeReady(0)).extracting(MicroBatch::tenant).containsExactly("b");
    assertThat(batcher.oldestOffset(P0)).hasValue(5);
    assertThat(batcher.oldestOffset(P1)).isEmpty();
    batcher.drop(List.of(P0));
    assertThat(batcher.oldestOffset(P0)).isEmpty();
    assertThat(batcher.bufferedCount()).isZero();
  }

  @Test
  void anExampleWaitsFromItsRecordTimeButNotBeforeThePartitionWasTakenNorAfterItWasRead() {
    // Written at 1000, read at 1400 after a cycle kept the trainer busy: its wait began at 1000.
    assertThat(ContinualTrainer.waitingSince(1000, 0, 1400)).isEqualTo(1000);
    // A backlog from before the trainer took the partition at 5000 waits from then.
    assertThat(ContinualTrainer.waitingSince(1000, 5000, 5200)).isEqualTo(5000);
    // A writer's clock ahead of the trainer's: the wait begins when the record was read.
    assertThat(ContinualTrainer.waitingSince(9000, 0, 1400)).isEqualTo(1400);

    MicroBatcher batcher = new MicroBatcher(8, Duration.ofMillis(250));
    batcher.add(example("a", P0, 0, ContinualTrainer.waitingSince(1000, 0, 1400)));
    assertThat(batcher.takeReady(1400)).as("waited 400 ms on the topic: ready when read").hasSize(1);
  }
}
