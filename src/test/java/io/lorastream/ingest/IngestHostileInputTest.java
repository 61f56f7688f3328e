package io.lorastream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kind of hostile record ingest knows of, in one table: each ends in the DLQ with its own
 * reason code, unchanged, and counted under that code in {@code lorastream_ingest_rejected_total}
 * (duplicates are dropped and counted as {@code duplicate}, not dead-lettered). Other tests
 * ({@link IngestTopologyTest}) check the limits exactly; this one checks the attacks.
 */
class IngestHostileInputTest {
  private static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");
  /** Hostile settings: a small rate limit and one removed tenant, so both can be hit in a few records. */
  private static final IngestSettings SETTINGS = IngestSettings.defaults()
      .withEventTimeBounds(Duration.ofHours(24), Duration.ofDays(30))
      .withRemovedTenants(Set.of("gone"))
      .withTenantRate(1, 3);

  @TempDir
  Path stateDir;

  private final Topics topics = new Topics();
  private final Metrics metrics = Metrics.create();
  private TopologyTestDriver driver;
  private TestInputTopic<String, byte[]> examples;
  private TestOutputTopic<String, TrainingExample> clean;
  private TestOutputTopic<String, byte[]> dlq;

  private void startDriver() {
    StreamsBuilder builder = new StreamsBuilder();
    IngestTopology.build(builder, topics, SETTINGS, metrics);
    Properties props = IngestService.streamsProperties(KafkaSettings.of("127.0.0.1:9"), SETTINGS, stateDir);
    driver = new TopologyTestDriver(builder.build(props), props, NOW);
    examples = driver.createInputTopic(topics.examples().name(), new StringSerializer(), new ByteArraySerializer(),
        NOW, Duration.ZERO);
    clean = driver.createOutputTopic(topics.cleanExamples().name(), new StringDeserializer(),
        topics.cleanExamples().valueSerde().deserializer());
    dlq = driver.createOutputTopic(topics.dlq().name(), new StringDeserializer(), new ByteArrayDeserializer());
  }

  @AfterEach
  void stop() {
    if (driver != null) {
      driver.close();
    }
  }

  /** One attack: records sent first to set it up, then the hostile record and its expected outcome. */
  record Attack(String name, List<KeyedBytes> setUp, KeyedBytes hostile, String expected) {
    @Override
    public String toString() {
      return name + " -> " + expected;
    }
  }

  record KeyedBytes(String key, byte[] value) {}

  static Stream<Arguments> attacks() {
    byte[] valid = encode(example("acme", "q-1").build());
    byte[] garbled = valid.clone();
    Arrays.fill(garbled, 10, garbled.length, (byte) 0xFF);
    byte[] unknownSchema = valid.clone();
    unknownSchema[9] ^= 0x01;
    return Stream.of(
        attack("null value (tombstone)", "acme", null, "null"),
        attack("zero bytes", "acme", new byte[0], "empty"),
        attack("JSON instead of Avro", "acme", "{\"prompt\": \"hi\"}".getBytes(StandardCharsets.UTF_8), "bad-magic"),
        attack("wrong second magic byte", "acme", withByte(valid, 1, (byte) 0x02), "bad-magic"),
        attack("header cut short", "acme", Arrays.copyOf(valid, 7), "truncated"),
        attack("body cut short", "acme", Arrays.copyOf(valid, valid.length - 5), "truncated"),
        attack("garbled body (0xFF bytes)", "acme", garbled, "corrupt"),
        attack("trailing garbage", "acme", Arrays.copyOf(valid, valid.length + 4), "corrupt"),
        attack("unknown schema fingerprint", "acme", unknownSchema, "unknown-schema"),
        attack("no record key", null, valid, "missing-key"),
        attack("key of another tenant", "globex", valid, "key-mismatch"),
        rule("tenant '../x'", "../x", b -> b.setTenant("../x"), "invalid-tenant"),
        rule("tenant with a space", "ac me", b -> b.setTenant("ac me"), "invalid-tenant"),
        rule("upper-case tenant", "ACME", b -> b.setTenant("ACME"), "invalid-tenant"),
        rule("1,000-character tenant", "t".repeat(1000), b -> b.setTenant("t".repeat(1000)), "invalid-tenant"),
        rule("tenant 'base'", "base", b -> b.setTenant("base"), "invalid-tenant"),
        rule("10 MB prompt", "acme", b -> b.setPrompt("p".repeat(10_000_000)), "prompt-too-long"),
        attack("prompt bytes not UTF-8", "acme", promptBytes((byte) 0xC3, (byte) 0x28, (byte) 0xA0, (byte) 0xA1,
            (byte) 0xE2, (byte) 0x28, (byte) 0xA1, (byte) 0xF0, (byte) 0x28, (byte) 0x8C), "invalid-utf8"),
        attack("prompt with an encoded surrogate (ED A0 80)", "acme", promptBytes((byte) 0x41, (byte) 0x42,
            (byte) 0x43, (byte) 0x44, (byte) 0x45, (byte) 0x46, (byte) 0x47, (byte) 0xED, (byte) 0xA0, (byte) 0x80),
            "invalid-utf8"),
        rule("NaN weight", "acme", b -> b.setWeight(Float.NaN), "invalid-weight"),
        rule("negative weight", "acme", b -> b.setWeight(-1f), "invalid-weight"),
        rule("huge weight", "acme", b -> b.setWeight(1e30f), "invalid-weight"),
        rule("infinite weight", "acme", b -> b.setWeight(Float.NEGATIVE_INFINITY), "invalid-weight"),
        rule("event time a year ahead", "acme", b -> b.setEventTime(NOW.plus(Duration.ofDays(365))),
            "future-event-time"),
        rule("event time 31 days ago", "acme", b -> b.setEventTime(NOW.minus(Duration.ofDays(31))),
            "stale-event-time"),
        rule("event time at the epoch", "acme", b -> b.setEventTime(Instant.EPOCH), "stale-event-time"),
        rule("removed tenant", "gone", b -> b.setTenant("gone"), "tenant-removed"),
        new Attack("same id twice", List.of(new KeyedBytes("acme", valid)), new KeyedBytes("acme", valid),
            "duplicate"),
        new Attack("flood beyond the burst", flood("acme", 3), new KeyedBytes("acme",
            encode(example("acme", "flood-3").build())), "rate-limited"))
        .map(Arguments::of);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("attacks")
  void hostileRecordGetsItsOwnReasonAndIsCounted(Attack attack) {
    startDriver();
    for (KeyedBytes r : attack.setUp()) {
      examples.pipeInput(r.key(), r.value());
    }
    assertThat(clean.readRecordsToList()).as("the set-up records pass").hasSize(attack.setUp().size());

    examples.pipeInput(attack.hostile().key(), attack.hostile().value());

    assertThat(clean.isEmpty()).as("nothing of the hostile record reaches the clean topic").isTrue();
    if (attack.expected().equals("duplicate")) {
      assertThat(dlq.isEmpty()).isTrue();
      assertThat(metrics.ingestExamples.labelValues("duplicate").getLongValue()).isEqualTo(1);
      return;
    }
    TestRecord<String, byte[]> dead = dlq.readRecord();
    assertThat(dead.key()).isEqualTo(attack.hostile().key());
    assertThat(dead.value()).isEqualTo(attack.hostile().value());
    assertThat(reason(dead)).startsWith(attack.expected() + ": ").doesNotContain("\n");
    assertThat(reason(dead).length()).as("the reason stays one short line").isLessThan(400);
    assertThat(dlq.isEmpty()).isTrue();
    assertThat(metrics.ingestRejected.labelValues(attack.expected()).getLongValue()).isEqualTo(1);
    assertThat(metrics.ingestExamples.labelValues("rejected").getLongValue()).isEqualTo(1);
    assertThat(new String(metrics.scrape("text/plain").body(), StandardCharsets.UTF_8))
        .contains("lorastream_ingest_rejected_total{reason=\"" + attack.expected() + "\"} 1.0");
  }

  @Test
  void floodIsCutToTheRateInRecordTimeAndAQuietTenantIsNotAffected() {
    startDriver();
    // 3 at once (the burst), then one per second passes: 13 examples over 10 s → 3 + 10 pass.
    for (int i = 0; i < 13; i++) {
      examples.pipeInput("acme", encode(example("acme", "a-" + i).build()), NOW);
    }
    for (int s = 1; s <= 10; s++) {
      driver.advanceWallClockTime(Duration.ofSeconds(1));
      examples.pipeInput("acme", encode(example("acme", "b-" + s).build()), NOW.plusSeconds(s));
      examples.pipeInput("acme", encode(example("acme", "c-" + s).build()), NOW.plusSeconds(s));
    }
    examples.pipeInput("globex", encode(example("globex", "g-1").build()), NOW.plusSeconds(10));

    List<TrainingExample> passed = clean.readValuesToList();
    assertThat(passed.stream().filter(e -> e.getTenant().equals("acme"))).hasSize(3 + 10);
    assertThat(passed).anySatisfy(e -> assertThat(e.getTenant()).isEqualTo("globex"));
    assertThat(metrics.ingestRejected.labelValues("rate-limited").getLongValue()).isEqualTo(10 + 10);
    // Nothing is lost: every refused example is in the DLQ with its original bytes.
    assertThat(dlq.readRecordsToList()).hasSize(20);
  }

  @Test
  void timestampsInTheFutureBuyNoTokens() {
    startDriver();
    for (int i = 0; i < 3; i++) {
      examples.pipeInput("acme", encode(example("acme", "a-" + i).build()), NOW);
    }
    // A producer stamping records an hour ahead does not refill its bucket: the wall clock is still NOW.
    examples.pipeInput("acme", encode(example("acme", "x").build()), NOW.plus(Duration.ofHours(1)));
    assertThat(clean.readRecordsToList()).hasSize(3);
    assertThat(reason(dlq.readRecord())).startsWith("rate-limited: ");
  }

  private static Attack attack(String name, String key, byte[] value, String expected) {
    return new Attack(name, List.of(), new KeyedBytes(key, value), expected);
  }

  private static Attack rule(String name, String key, Consumer<TrainingExample.Builder> change, String expected) {
    TrainingExample.Builder builder = example("acme", "q-1");
    change.accept(builder);
    return attack(name, key, encode(builder.build()), expected);
  }

  private static List<KeyedBytes> flood(String tenant, int n) {
    return IntStream.range(0, n)
        .mapToObj(i -> new KeyedBytes(tenant, encode(example(tenant, "flood-" + i).build()))).toList();
  }

  /** A valid record whose 10 prompt bytes are replaced, length kept, by {@code bad}. */
  private static byte[] promptBytes(byte... bad) {
    String marker = "PROMPTMARK";
    byte[] bytes = encode(example("acme", "q-1").setPrompt(marker).build());
    byte[] needle = marker.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i + needle.length <= bytes.length; i++) {
      if (Arrays.equals(bytes, i, i + needle.length, needle, 0, needle.length)) {
        System.arraycopy(bad, 0, bytes, i, bad.length);
        return bytes;
      }
    }
    throw new IllegalStateException("marker not found");
  }

  private static byte[] withByte(byte[] bytes, int index, byte value) {
    byte[] copy = bytes.clone();
    copy[index] = value;
    return copy;
  }

  static TrainingExample.Builder example(String tenant, String id) {
    return TrainingExample.newBuilder().setId(id).setTenant(tenant).setPrompt("Question: refund window?\nAnswer:")
        .setCompletion(" 30 days.").setWeight(1f).setEventTime(NOW).setMetadata(Map.of());
  }

  private static byte[] encode(TrainingExample example) {
    return AvroCodec.TRAINING_EXAMPLE.encode(example);
  }

  private static String reason(TestRecord<String, byte[]> record) {
    Header header = record.headers().lastHeader(Topics.ERROR_HEADER);
    assertThat(header).as("the %s header", Topics.ERROR_HEADER).isNotNull();
    return new String(header.value(), StandardCharsets.UTF_8);
  }
}
