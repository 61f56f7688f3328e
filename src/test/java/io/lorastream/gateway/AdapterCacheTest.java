package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.Bytes;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.Snapshots;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterCacheTest {
  @TempDir
  static Path modelDir;
  static BaseModel base;

  @TempDir
  Path dir;

  private final Metrics metrics = Metrics.create();

  @BeforeAll
  static void load() {
    TinyModelFactory.create(modelDir, 4);
    base = BaseModel.load(modelDir);
  }

  @AfterAll
  static void close() {
    base.close();
  }

  private ServedAdapter onDisk(String tenant, long seed) throws Exception {
    AdapterSnapshot snapshot = Snapshots.of(base, tenant, 1, seed);
    byte[] weights = Bytes.of(snapshot.getWeights());
    Path file = Files.write(dir.resolve(tenant + "@1.safetensors"), weights);
    return new ServedAdapter(snapshot, LoraConfig.defaults(), file, weights.length);
  }

  @Test
  void keepsWithinBudgetEvictingTheLeastRecentlyUsedAndReloadsFromDisk() throws Exception {
    ServedAdapter a = onDisk("a", 1);
    ServedAdapter b = onDisk("b", 2);
    ServedAdapter c = onDisk("c", 3);
    try (AdapterCache cache = new AdapterCache(base, 2 * a.weightsBytes(), metrics)) {
      for (ServedAdapter s : new ServedAdapter[] {a, b, a, c}) {
        cache.acquire(s);
        cache.release(s);
      }
      // a was used after b, so b is the one evicted when c arrives.
      assertThat(cache.residentCount()).isEqualTo(2);
      assertThat(cache.residentBytes()).isLessThanOrEqualTo(2 * a.weightsBytes());
      assertThat(metrics.gatewayColdLoads.get()).isEqualTo(3.0);
      cache.acquire(a);
      cache.release(a);
      assertThat(metrics.gatewayColdLoads.get()).isEqualTo(3.0);
      LoraAdapter reloaded = cache.acquire(b);
      assertThat(metrics.gatewayColdLoads.get()).isEqualTo(4.0);
      assertThat(reloaded.toPeftSafetensors()).isEqualTo(Files.readAllBytes(b.weightsFile()));
      cache.release(b);
    }
  }

  @Test
  void neverEvictsAnAdapterInUse() throws Exception {
    ServedAdapter a = onDisk("a", 1);
    ServedAdapter b = onDisk("b", 2);
    try (AdapterCache cache = new AdapterCache(base, a.weightsBytes(), metrics)) {
      LoraAdapter inUse = cache.acquire(a);
      cache.acquire(b);
      assertThat(cache.residentCount()).isEqualTo(2);
      assertThat(inUse.toPeftSafetensors()).isEqualTo(Files.readAllBytes(a.weightsFile()));
      cache.release(b);
      cache.release(a);
    }
  }

  @Test
  void forgottenAdapterLeavesMemoryOnceUnusedAndDisk() throws Exception {
    ServedAdapter a = onDisk("a", 1);
    try (AdapterCache cache = new AdapterCache(base, 1 << 20, metrics)) {
      cache.acquire(a);
      cache.forget(a);
      assertThat(cache.residentCount()).isEqualTo(1);
      cache.release(a);
      assertThat(cache.residentCount()).isZero();
      assertThat(a.weightsFile()).doesNotExist();
      assertThatThrownBy(() -> cache.acquire(a)).hasMessageContaining("no longer on disk");
    }
  }
}
