package io.lorastream.quality;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * The few gateway routes the evaluation uses, over real HTTP: greedy completions, the model list
 * and an adapter's PEFT zip. A 429 or 503 is retried after its {@code Retry-After}; any other
 * error status fails with the gateway's JSON error message.
 */
public final class GatewayClient {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_RETRIES = 20;

  private final URI base;
  private final String apiKey;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  /** @param base the gateway's root, e.g. {@code http://localhost:8080} */
  public GatewayClient(URI base, String apiKey) {
    String text = base.toString();
    this.base = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
    if (!"http".equals(this.base.getScheme()) && !"https".equals(this.base.getScheme())) {
      throw new IllegalArgumentException("gateway URL must start with http:// or https://, got " + base);
    }
    this.apiKey = apiKey;
  }

  /** A completion and the adapter version that produced it (0 for the base model). */
  public record Answer(String text, long adapterVersion) {}

  /** Greedy completion of {@code prompt} by {@code model} (a tenant id or "base"). */
  public Answer complete(String model, String prompt, int maxTokens) {
    ObjectNode body = JSON.createObjectNode().put("model", model).put("prompt", prompt)
        .put("max_tokens", maxTokens).put("temperature", 0);
    body.putArray("stop").add("\n");
    JsonNode reply = json(send(HttpRequest.newBuilder(base.resolve("/v1/completions"))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.toString()))));
    return new Answer(reply.path("choices").path(0).path("text").asText(),
        reply.path("adapter").path("version").asLong(0));
  }

  /** {@code GET /v1/models}: tenant → examples seen by its served adapter. */
  public Map<String, Long> examplesSeen() {
    JsonNode reply = json(send(HttpRequest.newBuilder(base.resolve("/v1/models")).GET()));
    Map<String, Long> out = new HashMap<>();
    for (JsonNode model : reply.path("data")) {
      if (model.has("examples_seen")) {
        out.put(model.path("id").asText(), model.path("examples_seen").asLong());
      }
    }
    return out;
  }

  /** {@code GET /v1/adapters/{tenant}}: the SHA-256 of the base model the tenant's newest adapter was trained on. */
  public String adapterBaseModelSha256(String tenant) {
    return json(send(HttpRequest.newBuilder(base.resolve("/v1/adapters/" + tenant)).GET()))
        .path("base_model_sha256").asText();
  }

  /** {@code GET /v1/adapters/{tenant}/peft}, unzipped: file name → bytes. */
  public Map<String, byte[]> peftFolder(String tenant) {
    byte[] zip = send(HttpRequest.newBuilder(base.resolve("/v1/adapters/" + tenant + "/peft")).GET());
    Map<String, byte[]> files = new HashMap<>();
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
      for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        files.put(e.getName(), in.readAllBytes());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("adapter zip of " + tenant + " is unreadable", e);
    }
    return files;
  }

  private byte[] send(HttpRequest.Builder request) {
    request.header("Authorization", "Bearer " + apiKey).timeout(Duration.ofMinutes(2));
    for (int attempt = 0; ; attempt++) {
      HttpResponse<byte[]> response;
      try {
        response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
      } catch (IOException e) {
        throw new UncheckedIOException("gateway " + base + " unreachable: " + e.getMessage(), e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
      int status = response.statusCode();
      if (status / 100 == 2) {
        return response.body();
      }
      if ((status == 429 || status == 503) && attempt < MAX_RETRIES) {
        pause(response.headers().firstValue("Retry-After").map(Long::parseLong).orElse(1L));
        continue;
      }
      throw new GatewayException(status, errorMessage(response.body()));
    }
  }

  private static String errorMessage(byte[] body) {
    try {
      return JSON.readTree(body).path("error").path("message").asText(new String(body));
    } catch (IOException e) {
      return new String(body);
    }
  }

  private static JsonNode json(byte[] body) {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException("gateway answered with invalid JSON", e);
    }
  }

  private static void pause(long seconds) {
    try {
      Thread.sleep(Math.max(1, Math.min(seconds, 10)) * 1000L);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** An error status the gateway answered with, and its message. */
  public static final class GatewayException extends RuntimeException {
    private final int status;

    GatewayException(int status, String message) {
      super("gateway answered " + status + ": " + message);
      this.status = status;
    }

    public int status() {
      return status;
    }
  }
}
