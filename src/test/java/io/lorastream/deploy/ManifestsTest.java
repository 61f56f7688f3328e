package io.lorastream.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

class ManifestsTest {

  @Test
  void everyManifestParsesAndNamesItsKind() {
    List<Path> files = Manifests.files();
    assertThat(files).isNotEmpty();
    for (Path file : files) {
      List<Manifests.Doc> docs = Manifests.read(file);
      assertThat(docs).as("documents in %s", file).isNotEmpty();
      for (Manifests.Doc doc : docs) {
        if (file.getFileName().toString().equals("kustomization.yaml")) {
          assertThat(doc.kind()).isEqualTo("Kustomization");
        } else if (doc.node().isObject()) {
          assertThat(doc.node().path("apiVersion").asText()).as("apiVersion in %s", file).isNotEmpty();
          assertThat(doc.kind()).as("kind in %s", file).isNotEmpty();
          assertThat(doc.name()).as("metadata.name in %s", file).isNotEmpty();
        }
      }
    }
  }

  @Test
  void kustomizationsListExistingFiles() throws Exception {
    for (Path file : Manifests.files()) {
      if (!file.getFileName().toString().equals("kustomization.yaml")) {
        continue;
      }
      JsonNode k = Manifests.read(file).get(0).node();
      List<String> refs = new ArrayList<>();
      k.path("resources").forEach(r -> refs.add(r.asText()));
      k.path("patches").forEach(p -> refs.add(p.path("path").asText()));
      for (String ref : refs) {
        assertThat(Files.exists(file.getParent().resolve(ref).normalize())).as("%s in %s", ref, file).isTrue();
      }
    }
    Set<String> listed = StreamSupport.stream(
            Manifests.read(Manifests.DEPLOY.resolve("base/kustomization.yaml")).get(0).node().path("resources").spliterator(),
            false)
        .map(JsonNode::asText).collect(Collectors.toSet());
    try (var paths = Files.list(Manifests.DEPLOY.resolve("base"))) {
      Set<String> present = paths.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml")).collect(Collectors.toSet());
      assertThat(listed).as("base resources").isEqualTo(present);
    }
  }

  @Test
  void kafkaRunsInKraftModeWithANodePool() {
    JsonNode kafka = Manifests.ofKind("Kafka").get(0).node();
    assertThat(kafka.at("/metadata/annotations/strimzi.io~1kraft").asText()).isEqualTo("enabled");
    assertThat(kafka.at("/metadata/annotations/strimzi.io~1node-pools").asText()).isEqualTo("enabled");
    assertThat(kafka.at("/spec/kafka/version").asText()).startsWith("4.");
    assertThat(kafka.at("/spec/zookeeper").isMissingNode()).isTrue();
    JsonNode pool = Manifests.ofKind("KafkaNodePool").get(0).node();
    assertThat(pool.at("/metadata/labels/strimzi.io~1cluster").asText()).isEqualTo(kafka.at("/metadata/name").asText());
    assertThat(pool.at("/spec/roles").toString()).contains("controller", "broker");
  }

  @Test
  void trainerAsksForAGpuAndTheGatewayForItsProbesAndKeys() {
    JsonNode trainer = deployment("lorastream-trainer").at("/spec/template/spec/containers/0");
    assertThat(trainer.at("/resources/requests/nvidia.com~1gpu").asInt()).isEqualTo(1);
    assertThat(env(trainer, "LORASTREAM_DEVICE")).isEqualTo("gpu");

    JsonNode gateway = deployment("lorastream-gateway").at("/spec/template/spec/containers/0");
    assertThat(gateway.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
    assertThat(gateway.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/healthz");
    assertThat(gateway.at("/ports/0/containerPort").asInt()).isEqualTo(8080);
    List<String> args = new ArrayList<>();
    gateway.path("args").forEach(a -> args.add(a.asText()));
    assertThat(args).containsSubsequence("gateway", "--api-keys");
    String keysFile = args.get(args.indexOf("--api-keys") + 1);
    String mountPath = gateway.at("/volumeMounts/0/mountPath").asText();
    assertThat(keysFile).startsWith(mountPath + "/");
    JsonNode secret = Manifests.ofKind("Secret").get(0).node();
    assertThat(secret.at("/stringData").has(keysFile.substring(mountPath.length() + 1))).isTrue();
  }

  @Test
  void cpuOverlayRemovesTheGpu() {
    JsonNode patch = Manifests.read(Manifests.DEPLOY.resolve("overlays/cpu/trainer-cpu.yaml")).get(0).node();
    String text = patch.toString();
    assertThat(text).contains("/resources/requests/nvidia.com~1gpu", "/resources/limits/nvidia.com~1gpu",
        "/nodeSelector", "/tolerations");
    boolean setsCpu = false;
    for (JsonNode op : patch) {
      if (op.at("/value/name").asText().equals("LORASTREAM_DEVICE")) {
        assertThat(op.at("/value/value").asText()).isEqualTo("cpu");
        // The patch replaces env[0] by index: that must be LORASTREAM_DEVICE in the base.
        JsonNode trainer = deployment("lorastream-trainer").at("/spec/template/spec/containers/0");
        assertThat(op.path("path").asText()).endsWith("/env/0");
        assertThat(trainer.at("/env/0/name").asText()).isEqualTo("LORASTREAM_DEVICE");
        setsCpu = true;
      }
    }
    assertThat(setsCpu).isTrue();
  }

  private static JsonNode deployment(String name) {
    return Manifests.ofKind("Deployment").stream().filter(d -> d.name().equals(name)).findFirst().orElseThrow().node();
  }

  private static String env(JsonNode container, String name) {
    for (JsonNode e : container.path("env")) {
      if (e.path("name").asText().equals(name)) {
        return e.path("value").asText();
      }
    }
    return null;
  }
}
