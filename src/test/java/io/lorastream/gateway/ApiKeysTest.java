package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiKeysTest {
  @TempDir
  Path dir;

  @Test
  void fileKeepsOnlyHashesAndAuthenticatesTheKeys() throws Exception {
    String acme = ApiKeys.newKey();
    String admin = ApiKeys.newKey();
    Path file = dir.resolve("keys.json");
    ApiKeys.of(List.of(ApiKeys.entry("acme-app", "acme", acme), ApiKeys.entry("ops", null, admin))).write(file);

    String stored = Files.readString(file);
    assertThat(stored).doesNotContain(acme).doesNotContain(admin).contains("acme-app");

    ApiKeys keys = ApiKeys.load(file);
    assertThat(keys.authenticate(acme)).hasValue(new Principal("acme-app", "acme", false));
    assertThat(keys.authenticate(admin)).hasValue(new Principal("ops", null, true));
    assertThat(keys.authenticate(acme + "x")).isEmpty();
    assertThat(keys.authenticate("")).isEmpty();
    assertThat(keys.authenticate(null)).isEmpty();
  }

  @Test
  void principalReachesOnlyItsTenantUnlessAdmin() {
    assertThat(new Principal("k", "acme", false).mayAccess("acme")).isTrue();
    assertThat(new Principal("k", "acme", false).mayAccess("globex")).isFalse();
    assertThat(new Principal("k", null, true).mayAccess("globex")).isTrue();
  }

  @Test
  void refusesAMalformedFile() throws Exception {
    Path file = dir.resolve("bad.json");
    Files.writeString(file, "{\"keys\": [{\"id\": \"x\", \"tenant\": \"acme\", \"sha256\": \"abc\"}]}");
    assertThatThrownBy(() -> ApiKeys.load(file)).hasMessageContaining("64-hex sha256");
    Files.writeString(file, "{\"keys\": [{\"id\": \"x\", \"sha256\": \"" + "a".repeat(64) + "\"}]}");
    assertThatThrownBy(() -> ApiKeys.load(file)).hasMessageContaining("either a tenant or");
  }
}
