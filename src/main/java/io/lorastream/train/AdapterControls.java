package io.lorastream.train;

import io.lorastream.avro.AdapterControl;
import io.lorastream.avro.ControlAction;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.TenantId;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.model.LoraConfig;
import io.lorastream.kafka.Topics;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Control records: an operator's rollback or import for one tenant. They are written to the
 * tenant's partition of the clean examples topic (key = tenant id, like every example of the
 * tenant) with the header {@value #HEADER}. So exactly the trainer that owns the tenant reads them,
 * in order with the tenant's examples, and applies each inside its transactional loop: the effect
 * (new version, reset weights and optimizer) commits atomically with the record's offset, and a
 * control is never applied twice nor raced by a concurrent training step.
 */
public final class AdapterControls {
  /** Header marking a control record on the clean examples topic; its value is the action name. */
  public static final String HEADER = "lorastream.control";

  public static final AvroCodec<AdapterControl> CODEC = AvroCodec.of(AdapterControl.class);

  private AdapterControls() {}

  public static AdapterControl rollback(String tenant, long toVersion) {
    if (toVersion < 1) {
      throw new IllegalArgumentException("versions start at 1, got " + toVersion);
    }
    return AdapterControl.newBuilder().setRequestId(UUID.randomUUID().toString()).setTenant(TenantId.require(tenant))
        .setAction(ControlAction.ROLLBACK).setToVersion(toVersion).setCreatedAt(Instant.now()).build();
  }

  /**
   * The LoRA settings of a PEFT adapter_config.json that the pipeline can carry (rank, alpha,
   * target modules, rsLoRA, layers_to_transform), or an IllegalArgumentException saying why not.
   */
  public static LoraConfig importableConfig(String peftConfigJson) {
    return LoraConfig.fromPeftAdapterConfigJson(peftConfigJson);
  }

  public static AdapterControl importAdapter(String tenant, String peftConfigJson, byte[] safetensors) {
    return AdapterControl.newBuilder().setRequestId(UUID.randomUUID().toString()).setTenant(TenantId.require(tenant))
        .setAction(ControlAction.IMPORT).setPeftConfigJson(peftConfigJson).setWeights(ByteBuffer.wrap(safetensors))
        .setCreatedAt(Instant.now()).build();
  }

  /** Sends a control record to the tenant's partition of the clean examples topic and waits for the broker. */
  public static RecordMetadata send(KafkaSettings kafka, Topics topics, AdapterControl control) {
    ProducerRecord<String, byte[]> record = new ProducerRecord<>(topics.cleanExamples().name(), control.getTenant(),
        CODEC.encode(control));
    record.headers().add(HEADER, control.getAction().name().getBytes(StandardCharsets.UTF_8));
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
        new ByteArraySerializer())) {
      return producer.send(record).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while sending the control record", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("could not send the control record to " + topics.cleanExamples().name(),
          e.getCause());
    }
  }
}
