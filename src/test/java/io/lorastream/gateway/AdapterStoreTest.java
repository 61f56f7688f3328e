package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.metrics.Metrics;
import io.lorastream.contract.Sha256;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.Snapshots;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterStoreTest {
  @TempDir
  static Path modelDir;
  static BaseModel base;

  @BeforeAll
  static void load() {
    TinyModelFactory.create(modelDir, 3);
    base = BaseModel.load(modelDir);
  }

  @AfterAll
  static void close() {
    base.close();
  }

  @TempDir
  Path adapterDir;

  private final List<ServedAdapter> retired = new ArrayList<>();
  private final List<ServedAdapter> verified = new ArrayList<>();
  private final List<LoraConfig> verifiedConfigs = new ArrayList<>();
  private final Metrics metrics = Metrics.create();
  private AdapterStore store;

  @BeforeEach
  void createStore() {
    store = new AdapterStore(base, metrics, new AdapterEvents() {
      @Override
      public void verified(ServedAdapter served, LoraAdapter adapter) {
        verified.add(served);
        verifiedConfigs.add(adapter.config());
        adapter.close();
      }

      @Override
      public void dropped(ServedAdapter served) {
        retired.add(served);
      }
    }, adapterDir, 2);
  }

  private static AdapterSnapshot snapshot(String tenant, long version, String baseSha, long seed) {
    return AdapterSnapshot.newBuilder(Snapshots.of(base, tenant, version, seed)).setBaseModelSha256(baseSha).build();
  }

  @Test
  void servesTheNewestVersionKeepsTheLastTwoAndRetiresOlderOnes() throws Exception {
    assertThat(store.apply(snapshot("acme", 1, base.weightsSha256(), 1))).isTrue();
    assertThat(store.apply(snapshot("acme", 2, base.weightsSha256(), 2))).isTrue();
    assertThat(retired).isEmpty();
    assertThat(store.apply(snapshot("acme", 3, base.weightsSha256(), 3))).isTrue();
    assertThat(store.get("acme")).hasValueSatisfying(a -> assertThat(a.version()).isEqualTo(3));
    assertThat(store.get("acme", 2)).isPresent();
    assertThat(store.get("acme", 1)).isEmpty();
    assertThat(retired).extracting(ServedAdapter::version).containsExactly(1L);
    assertThat(store.get("acme").orElseThrow().snapshot().getWeights().remaining())
        .as("served facts do not keep a second copy of the weights").isZero();
    ServedAdapter newest = store.get("acme").orElseThrow();
    assertThat(Sha256.hex(Files.readAllBytes(newest.weightsFile()))).isEqualTo(newest.snapshot().getWeightsSha256());
  }

  @Test
  void rejectsSnapshotForAnotherBaseModelAndKeepsServingThePrevious() {
    store.apply(snapshot("acme", 1, base.weightsSha256(), 1));
    assertThat(store.apply(snapshot("acme", 2, "0".repeat(64), 2))).isFalse();
    assertThat(store.get("acme")).hasValueSatisfying(a -> assertThat(a.version()).isEqualTo(1));
    assertThat(metrics.gatewaySnapshotsRejected.labelValues("foreign-base").get()).isEqualTo(1.0);
  }

  @Test
  void rejectsSnapshotWhoseWeightsDoNotMatchTheirDigest() {
    store.apply(snapshot("acme", 1, base.weightsSha256(), 1));
    AdapterSnapshot corrupt = snapshot("acme", 2, base.weightsSha256(), 2);
    byte[] weights = corrupt.getWeights().array().clone();
    weights[weights.length - 1] ^= 0x01;
    corrupt.setWeights(ByteBuffer.wrap(weights));
    assertThat(store.apply(corrupt)).isFalse();
    assertThat(store.get("acme")).hasValueSatisfying(a -> assertThat(a.version()).isEqualTo(1));
    assertThat(metrics.gatewaySnapshotsRejected.labelValues("digest-mismatch").get()).isEqualTo(1.0);
    assertThat(verified).hasSize(1);
  }

  @Test
  void loadsASnapshotLimitedToSomeLayersWithThoseLayersOnly() {
    LoraConfig layerOne = new LoraConfig(4, 8f, List.of("q_proj"), 0f, false, List.of(1));
    assertThat(store.apply(Snapshots.of(base, "acme", 1, 7, layerOne))).isTrue();
    assertThat(verifiedConfigs).singleElement().satisfies(c -> {
      assertThat(c.layersToTransform()).containsExactly(1);
      assertThat(c.transforms(0)).isFalse();
    });
  }

  @Test
  void rejectsAnOlderVersion() {
    store.apply(snapshot("acme", 3, base.weightsSha256(), 1));
    assertThat(store.apply(snapshot("acme", 2, base.weightsSha256(), 2))).isFalse();
    assertThat(store.get("acme")).hasValueSatisfying(a -> assertThat(a.version()).isEqualTo(3));
  }

  @Test
  void tombstoneRemovesTheTenant() {
    store.apply(snapshot("acme", 1, base.weightsSha256(), 1));
    store.remove("acme");
    assertThat(store.get("acme")).isEmpty();
    assertThat(retired).hasSize(1);
  }
}
