package io.lorastream.gateway;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Sends;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Produces examples received over HTTP to the examples topic (idempotent producer, acks=all). */
final class ExampleSink implements AutoCloseable {
  private final KafkaProducer<String, byte[]> producer;
  private final String topic;

  ExampleSink(KafkaSettings kafka, String topic) {
    this.producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(), new ByteArraySerializer());
    this.topic = topic;
  }

  /** Completes once the broker has acknowledged the example. */
  CompletableFuture<RecordMetadata> send(TrainingExample example) {
    return Sends.acked(producer,
        new ProducerRecord<>(topic, example.getTenant(), AvroCodec.TRAINING_EXAMPLE.encode(example)));
  }

  @Override
  public void close() {
    producer.close();
  }
}
