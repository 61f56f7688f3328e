package io.lorastream.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lorastream.contract.TenantId;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * API keys, stored as SHA-256 hashes only. A presented key is hashed and compared with every stored
 * hash in constant time (no early exit), so timing reveals neither the key nor which entry matched.
 *
 * <p>File format (JSON): {@code {"keys": [{"id": "acme-app", "tenant": "acme", "sha256": "<hex>"},
 * {"id": "ops", "admin": true, "sha256": "<hex>"}]}}.
 */
public final class ApiKeys {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();

  /** One stored key. */
  public record Entry(String id, String tenant, boolean admin, byte[] sha256) {}

  private final List<Entry> entries;

  private ApiKeys(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  public List<Entry> entries() {
    return entries;
  }

  public static ApiKeys of(List<Entry> entries) {
    return new ApiKeys(entries);
  }

  public static ApiKeys load(Path file) {
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read API keys file " + file + ": " + e.getMessage(), e);
    }
    List<Entry> entries = new ArrayList<>();
    JsonNode keys = root.path("keys");
    if (!keys.isArray()) {
      throw new IllegalArgumentException("API keys file " + file + " needs a \"keys\" array");
    }
    for (JsonNode k : keys) {
      String id = k.path("id").asText("");
      boolean admin = k.path("admin").asBoolean(false);
      String tenant = k.hasNonNull("tenant") ? k.get("tenant").asText() : null;
      String hash = k.path("sha256").asText("");
      if (id.isBlank() || !hash.matches("[0-9a-f]{64}")) {
        throw new IllegalArgumentException("API keys file " + file + ": every key needs an id and a 64-hex sha256");
      }
      if (admin == (tenant != null)) {
        throw new IllegalArgumentException("API keys file " + file + ": key '" + id
            + "' must have either a tenant or \"admin\": true");
      }
      if (tenant != null) {
        TenantId.require(tenant);
      }
      entries.add(new Entry(id, tenant, admin, HexFormat.of().parseHex(hash)));
    }
    return new ApiKeys(entries);
  }

  /** The principal of a presented key, or empty when no stored key matches. */
  public Optional<Principal> authenticate(String presentedKey) {
    if (presentedKey == null || presentedKey.isEmpty()) {
      return Optional.empty();
    }
    byte[] hash = sha256(presentedKey);
    Entry match = null;
    for (Entry e : entries) {
      if (MessageDigest.isEqual(hash, e.sha256()) && match == null) {
        match = e;
      }
    }
    return match == null ? Optional.empty() : Optional.of(new Principal(match.id(), match.tenant(), match.admin()));
  }

  /** A new random key: {@code ls-} and 43 URL-safe base64 characters (256 bits). */
  public static String newKey() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return "ls-" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** A stored entry for {@code key}: only its hash is kept. */
  public static Entry entry(String id, String tenantOrNull, String key) {
    if (tenantOrNull != null) {
      TenantId.require(tenantOrNull);
    }
    return new Entry(id, tenantOrNull, tenantOrNull == null, sha256(key));
  }

  /** Writes the hashes (never the keys) as a keys file. */
  public void write(Path file) {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode keys = root.putArray("keys");
    for (Entry e : entries) {
      ObjectNode k = keys.addObject().put("id", e.id());
      if (e.admin()) {
        k.put("admin", true);
      } else {
        k.put("tenant", e.tenant());
      }
      k.put("sha256", HexFormat.of().formatHex(e.sha256()));
    }
    try {
      Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static byte[] sha256(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
