package io.lorastream.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.avro.TrainingExample;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Properties of the wire contract, over generated inputs: the codec round-trips every valid record
 * and meets any bytes with a {@link CodecException} or a record, never another exception; the
 * tenant id and example validators accept exactly the documented language, checked against a
 * second, independent statement of it.
 */
class ContractProperties {
  private static final AvroCodec<TrainingExample> CODEC = AvroCodec.TRAINING_EXAMPLE;
  private static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");

  @Property(tries = 300)
  void everyValidExampleRoundTrips(@ForAll("examples") TrainingExample example) {
    assertThat(CODEC.decode(CODEC.encode(example))).isEqualTo(example);
  }

  @Property(tries = 1000)
  void arbitraryBytesDecodeOrFailWithAReason(@ForAll @Size(max = 300) byte[] bytes) {
    assertDecodesOrFailsWithReason(bytes);
  }

  @Property(tries = 1000)
  void arbitraryBodiesBehindAValidHeaderDecodeOrFailWithAReason(@ForAll @Size(max = 300) byte[] body) {
    byte[] valid = CODEC.encode(SampleRecords.example("acme", "ex-1"));
    byte[] bytes = new byte[AvroCodec.HEADER_LENGTH + body.length];
    System.arraycopy(valid, 0, bytes, 0, AvroCodec.HEADER_LENGTH);
    System.arraycopy(body, 0, bytes, AvroCodec.HEADER_LENGTH, body.length);
    assertDecodesOrFailsWithReason(bytes);
  }

  @Property(tries = 1000)
  void flippedBytesOfAValidRecordDecodeOrFailWithAReason(@ForAll("examples") TrainingExample example,
      @ForAll int position, @ForAll byte mask) {
    byte[] bytes = CODEC.encode(example);
    bytes[Math.floorMod(position, bytes.length)] ^= mask;
    assertDecodesOrFailsWithReason(bytes);
  }

  @Property(tries = 2000)
  void tenantIdsAreExactlyTheDocumentedLanguage(@ForAll("tenantLike") String id) {
    boolean documented = id.length() >= 1 && id.length() <= 63
        && isLowerOrDigit(id.charAt(0))
        && id.chars().allMatch(c -> isLowerOrDigit((char) c) || c == '_' || c == '-')
        && !id.equals("base");
    assertThat(TenantId.isValid(id)).as("'%s'", id).isEqualTo(documented);
    if (documented) {
      assertThat(TenantId.require(id)).isEqualTo(id);
    } else {
      assertThatThrownBy(() -> TenantId.require(id)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageNotContaining("\n");
    }
  }

  @Property(tries = 300)
  void exampleRulesAcceptExactlyTheDocumentedExamples(@ForAll("roughExamples") TrainingExample example) {
    assertThat(ExampleRules.violation(example.getTenant(), example, NOW).isEmpty())
        .as("%s", example.toString().substring(0, Math.min(300, example.toString().length())))
        .isEqualTo(documentedAcceptable(example));
  }

  /** The rules as the javadoc and README state them, written without looking at the code's checks. */
  private static boolean documentedAcceptable(TrainingExample e) {
    boolean tenant = e.getTenant().matches("[a-z0-9][a-z0-9_-]{0,62}") && !e.getTenant().equals("base");
    boolean id = !e.getId().isBlank() && utf8(e.getId()) <= 256;
    boolean prompt = !e.getPrompt().isEmpty() && e.getPrompt().length() <= 16_384 && utf8(e.getPrompt()) <= 32_768;
    boolean completion = !e.getCompletion().isEmpty() && e.getCompletion().length() <= 16_384
        && utf8(e.getCompletion()) <= 32_768;
    boolean text = wellFormed(e.getId()) && wellFormed(e.getPrompt()) && wellFormed(e.getCompletion());
    boolean weight = e.getWeight() > 0f && e.getWeight() <= 10f; // false for NaN
    int metaBytes = e.getMetadata().entrySet().stream().mapToInt(m -> utf8(m.getKey()) + utf8(m.getValue())).sum();
    boolean metadata = e.getMetadata().size() <= 32 && metaBytes <= 4096;
    boolean time = !e.getEventTime().isAfter(NOW.plus(Duration.ofDays(1)));
    return tenant && id && prompt && completion && text && weight && metadata && time;
  }

  private static boolean wellFormed(String s) {
    return s.indexOf('\uFFFD') < 0 && StandardCharsets.UTF_8.newEncoder().canEncode(s);
  }

  private static int utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }

  private static boolean isLowerOrDigit(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  }

  private static void assertDecodesOrFailsWithReason(byte[] bytes) {
    try {
      assertThat(CODEC.decode(bytes)).isNotNull();
    } catch (CodecException e) {
      assertThat(e.reason()).isNotNull();
      assertThat(e.dlqReason()).startsWith(e.reason().slug() + ": ").doesNotContain("\n");
    }
  }

  @Provide
  Arbitrary<TrainingExample> examples() {
    Arbitrary<String> text = Arbitraries.strings().ofMaxLength(200)
        .filter(s -> ExampleRules.firstMalformedChar(s) < 0);
    Arbitrary<String> shortText = Arbitraries.strings().ofMaxLength(20).filter(s -> ExampleRules.firstMalformedChar(s) < 0);
    Arbitrary<Map<String, String>> metadata = Arbitraries.maps(shortText, shortText).ofMaxSize(5);
    return Combinators.combine(text, text, text, text, Arbitraries.floats(), Arbitraries.longs()
            .between(-10_000_000_000_000L, 10_000_000_000_000L), metadata)
        .as((id, tenant, prompt, completion, weight, millis, meta) -> TrainingExample.newBuilder().setId(id)
            .setTenant(tenant).setPrompt(prompt).setCompletion(completion).setWeight(weight)
            .setEventTime(Instant.ofEpochMilli(millis)).setMetadata(meta).build())
        .filter(e -> !Float.isNaN(e.getWeight())); // NaN != NaN would fail equals, not the codec
  }

  @Provide
  Arbitrary<String> tenantLike() {
    Arbitrary<String> alphabet = Arbitraries.strings().withChars("abz09_-A. /é\n\u0000").ofMinLength(0).ofMaxLength(70);
    return Arbitraries.oneOf(alphabet, Arbitraries.strings().withChars("az09_-").ofMinLength(60).ofMaxLength(66),
        Arbitraries.of("base", "acme", "../x", "ACME", "a b", "-a", "_a", "a".repeat(1000)));
  }

  @Provide
  Arbitrary<TrainingExample> roughExamples() {
    Arbitrary<String> texts = Arbitraries.oneOf(
        Arbitraries.strings().ofMaxLength(30),
        Arbitraries.strings().withChars("a é€\uD83D\uDE00").ofMaxLength(30),
        Arbitraries.of("", " ", "\uFFFD", "a\uD800", "\uDC00b"),
        Arbitraries.integers().between(16_000, 16_500).map("a"::repeat),
        Arbitraries.integers().between(10_800, 11_000).map("€"::repeat),
        Arbitraries.integers().between(250, 260).map("x"::repeat));
    Arbitrary<String> tenants = Arbitraries.oneOf(tenantLike(), Arbitraries.of("acme", "globex"));
    Arbitrary<Float> weights = Arbitraries.oneOf(Arbitraries.floats().between(-1f, 12f),
        Arbitraries.of(Float.NaN, Float.POSITIVE_INFINITY, 0f, 10f, Math.nextUp(10f), Float.MIN_VALUE));
    Arbitrary<Long> offsetsMs = Arbitraries.longs().between(-Duration.ofDays(400).toMillis(),
        Duration.ofDays(2).toMillis());
    Arbitrary<Map<String, String>> metadata = Arbitraries.integers().between(0, 40).flatMap(n ->
        Arbitraries.integers().between(0, 200).map(len -> {
          Map<String, String> m = new HashMap<>();
          for (int i = 0; i < n; i++) {
            m.put("k" + i, "v".repeat(len));
          }
          return m;
        }));
    return Combinators.combine(texts, tenants, texts, texts, weights, offsetsMs, metadata)
        .as((id, tenant, prompt, completion, weight, offset, meta) -> TrainingExample.newBuilder().setId(id)
            .setTenant(tenant).setPrompt(prompt).setCompletion(completion).setWeight(weight)
            .setEventTime(NOW.plusMillis(offset)).setMetadata(meta).build());
  }
}
