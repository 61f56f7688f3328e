package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * {@code POST /v1/completions} bodies of any shape: parsing either gives a request or an
 * {@link ApiException} with a 4xx status and a JSON body, never another exception (which the
 * gateway would answer with 500).
 */
class CompletionRequestProperties {
  private static final GatewaySettings LIMITS = new GatewaySettings("127.0.0.1", 0, 4096, 1000, 64, 8, 16, 8, 1000,
      1000, Path.of("unused"), 1 << 20, 2);
  private static final int VOCAB = 512;
  private static final List<String> FIELDS =
      List.of("model", "prompt", "max_tokens", "temperature", "top_p", "seed", "stop", "logprobs", "n", "stream");

  @Property(tries = 2000)
  void anyBodyParsesOrIsA4xxWithAJsonError(@ForAll("bodies") JsonObject body) {
    try {
      CompletionRequest request = CompletionRequest.parse(body, LIMITS, VOCAB);
      assertThat(request.params().maxTokens()).isBetween(1, LIMITS.maxTokensLimit());
    } catch (ApiException e) {
      assertThat(e.status).isBetween(400, 499);
      JsonObject error = e.body().getJsonObject("error");
      assertThat(error.getString("code")).isNotBlank();
      assertThat(error.getString("message")).isNotBlank();
    }
  }

  @Provide
  Arbitrary<JsonObject> bodies() {
    Arbitrary<Object> value = Arbitraries.lazyOf(
        () -> Arbitraries.of("acme", "base", "acme@1", "acme@x", "ACME", "@", "a@-1", "", "\uD800"),
        () -> Arbitraries.strings().ofMaxLength(20),
        () -> Arbitraries.integers().map(i -> (Object) i),
        () -> Arbitraries.longs().map(l -> (Object) l),
        () -> Arbitraries.doubles().map(d -> (Object) d),
        () -> Arbitraries.of(Double.NaN, Double.POSITIVE_INFINITY, -0.0, 1e308, 0.5, 2.0, 64, 65, 0, -1, 511, 512),
        () -> Arbitraries.of(true, false),
        () -> Arbitraries.just(null),
        () -> Arbitraries.integers().between(-2, 600).list().ofMaxSize(6).map(l -> (Object) new JsonArray(
            List.copyOf(l))),
        () -> Arbitraries.strings().ofMaxLength(4).list().ofMaxSize(6).map(l -> (Object) new JsonArray(List.copyOf(l))),
        () -> Arbitraries.just(new JsonObject().put("nested", new JsonArray().add(1))));
    return Arbitraries.maps(Arbitraries.oneOf(Arbitraries.of(FIELDS), Arbitraries.strings().ofMaxLength(5)), value)
        .ofMaxSize(8)
        .map(m -> {
          JsonObject body = new JsonObject();
          for (Map.Entry<String, Object> e : m.entrySet()) {
            body.put(e.getKey(), e.getValue());
          }
          return body;
        });
  }
}
