package io.lorastream.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.lorastream.kafka.Topic;
import io.lorastream.kafka.Topics;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The KafkaTopic resources say exactly what {@link Topics} says. */
class KafkaTopicsTest {

  @Test
  void everyTopicHasAKafkaTopicWithItsPartitionsAndConfigs() {
    Map<String, JsonNode> resources = new HashMap<>();
    for (Manifests.Doc doc : Manifests.ofKind("KafkaTopic")) {
      JsonNode spec = doc.node().path("spec");
      String topicName = spec.path("topicName").asText(doc.name());
      assertThat(resources.put(topicName, doc.node())).as("second KafkaTopic for %s", topicName).isNull();
    }
    Map<String, Topic<?, ?>> topics = new Topics().all().stream()
        .collect(Collectors.toMap(Topic::name, Function.identity()));
    assertThat(resources.keySet()).isEqualTo(topics.keySet());

    for (Topic<?, ?> topic : topics.values()) {
      JsonNode resource = resources.get(topic.name());
      assertThat(resource.at("/spec/partitions").asInt()).as("partitions of %s", topic.name())
          .isEqualTo(topic.partitions());
      Map<String, String> configs = new TreeMap<>();
      resource.at("/spec/config").fields().forEachRemaining(e -> configs.put(e.getKey(), e.getValue().asText()));
      assertThat(configs).as("configs of %s", topic.name()).isEqualTo(new TreeMap<>(topic.configs()));
    }
  }

  @Test
  void resourceNamesAreDnsSafeAndBelongToTheCluster() {
    String cluster = Manifests.ofKind("Kafka").get(0).name();
    for (Manifests.Doc doc : Manifests.ofKind("KafkaTopic")) {
      assertThat(doc.name()).matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?").hasSizeLessThanOrEqualTo(63);
      assertThat(doc.name()).isEqualTo(doc.node().at("/spec/topicName").asText().replace('.', '-'));
      assertThat(doc.node().at("/metadata/labels/strimzi.io~1cluster").asText()).isEqualTo(cluster);
    }
  }
}
