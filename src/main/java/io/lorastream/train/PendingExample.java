package io.lorastream.train;

import io.lorastream.avro.TrainingExample;
import org.apache.kafka.common.TopicPartition;

/**
 * A consumed example waiting in its tenant's buffer, with where it came from.
 *
 * @param waitingSinceMillis when its wait for a micro-batch began ({@link ContinualTrainer#waitingSince})
 */
record PendingExample(TopicPartition partition, long offset, TrainingExample example, long waitingSinceMillis) {}
