package io.lorastream.train;

import io.lorastream.avro.TrainingExample;
import org.apache.kafka.common.TopicPartition;

/** A consumed example waiting in its tenant's buffer, with where it came from. */
record PendingExample(TopicPartition partition, long offset, TrainingExample example, long receivedAtMillis) {}
