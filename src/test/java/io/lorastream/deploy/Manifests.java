package io.lorastream.deploy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The Kubernetes manifests under {@code deploy/}, read as YAML documents. */
final class Manifests {
  static final Path DEPLOY = Path.of("deploy");
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  static final ObjectMapper JSON = new ObjectMapper();

  /** One YAML document of one file. */
  record Doc(Path file, JsonNode node) {
    String kind() {
      return node.path("kind").asText();
    }

    String name() {
      return node.path("metadata").path("name").asText();
    }
  }

  private Manifests() {}

  static List<Path> files() {
    try (Stream<Path> paths = Files.walk(DEPLOY)) {
      return paths.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static List<Doc> read(Path file) {
    List<Doc> docs = new ArrayList<>();
    // One value per YAML document; a document may be a list (a JSON patch).
    try (JsonParser parser = YAML.getFactory().createParser(file.toFile())) {
      while (parser.nextToken() != null) {
        JsonNode node = YAML.readTree(parser);
        if (node != null && !node.isNull() && !node.isMissingNode()) {
          docs.add(new Doc(file, node));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot parse " + file + ": " + e.getMessage(), e);
    }
    return docs;
  }

  /** Every document of the base, i.e. what {@code kubectl kustomize deploy/base} starts from. */
  static List<Doc> base() {
    return files().stream().filter(f -> f.startsWith(DEPLOY.resolve("base")))
        .flatMap(f -> read(f).stream()).toList();
  }

  static List<Doc> ofKind(String kind) {
    return base().stream().filter(d -> d.kind().equals(kind)).toList();
  }
}
