package io.lorastream.kafka;

import io.lorastream.contract.AvroCodec;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka serde over an {@link AvroCodec}. A null value stays null both ways (a tombstone on a
 * compacted topic); any other undecodable value throws {@link io.lorastream.contract.CodecException}
 * so the caller can route the original bytes to the dead letter topic.
 */
public final class AvroSerde<T extends SpecificRecord> implements Serde<T> {
  private final AvroCodec<T> codec;

  public AvroSerde(AvroCodec<T> codec) {
    this.codec = codec;
  }

  public AvroCodec<T> codec() {
    return codec;
  }

  @Override
  public Serializer<T> serializer() {
    return (topic, record) -> record == null ? null : codec.encode(record);
  }

  @Override
  public Deserializer<T> deserializer() {
    return (topic, bytes) -> bytes == null ? null : codec.decode(bytes);
  }

  @Override
  public String toString() {
    return "AvroSerde[" + codec.type().getSimpleName() + "]";
  }
}
