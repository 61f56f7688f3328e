package io.lorastream.kafka;

import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/** A producer send as a CompletableFuture that completes when the broker acknowledges the record. */
public final class Sends {
  private Sends() {}

  public static <K, V> CompletableFuture<RecordMetadata> acked(Producer<K, V> producer, ProducerRecord<K, V> record) {
    CompletableFuture<RecordMetadata> acked = new CompletableFuture<>();
    producer.send(record, (metadata, error) -> {
      if (error != null) {
        acked.completeExceptionally(error);
      } else {
        acked.complete(metadata);
      }
    });
    return acked;
  }
}
