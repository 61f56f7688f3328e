package io.lorastream.testing;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Sha256;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Adapter snapshots for tests: real adapters (seeded), published like the trainer does. */
public final class Snapshots {
  private Snapshots() {}

  /** A valid snapshot of a freshly initialised adapter; examplesSeen = 10 × version. */
  public static AdapterSnapshot of(BaseModel base, String tenant, long version, long seed) {
    return of(base, tenant, version, seed, LoraConfig.defaults());
  }

  /** The same with the given LoRA settings (rank, targets, layers_to_transform …). */
  public static AdapterSnapshot of(BaseModel base, String tenant, long version, long seed, LoraConfig config) {
    byte[] weights;
    try (LoraAdapter adapter = LoraAdapter.initialise(base, config, seed)) {
      weights = adapter.toPeftSafetensors();
    }
    return AdapterSnapshot.newBuilder().setTenant(tenant).setVersion(version).setParentVersion(null)
        .setBaseModelSha256(base.weightsSha256()).setRank(config.rank()).setAlpha(config.alpha())
        .setTargetModules(config.targetModules()).setUseRslora(config.useRslora())
        .setLayersToTransform(config.layersToTransform()).setWeights(ByteBuffer.wrap(weights)).setWeightsSha256(Sha256.hex(weights))
        .setTrainedThrough(List.of()).setExamplesSeen(10 * version).setCreatedAt(Instant.now()).build();
  }

  /** Sends one record and waits for the broker's acknowledgement. */
  public static void send(KafkaSettings kafka, String topic, String key, byte[] value) {
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
        new ByteArraySerializer())) {
      producer.send(new ProducerRecord<>(topic, key, value)).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("send to " + topic + " failed", e.getCause());
    }
  }

  public static void publish(KafkaSettings kafka, String topic, AdapterSnapshot snapshot) {
    send(kafka, topic, snapshot.getTenant(), AvroCodec.ADAPTER_SNAPSHOT.encode(snapshot));
  }
}
