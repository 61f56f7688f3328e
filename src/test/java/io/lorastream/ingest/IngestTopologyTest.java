package io.lorastream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Splits;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link IngestTopology#build} driven record by record, with the configuration the service runs. */
class IngestTopologyTest {
  /** Wall clock of the driver and timestamp of the first record. */
  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");
  private static final Duration WINDOW = IngestSettings.DEFAULT_DEDUPE_WINDOW;

  @TempDir
  Path stateDir;

  private final Topics topics = new Topics();
  private final Metrics metrics = Metrics.create();
  private TopologyTestDriver driver;
  private TestInputTopic<String, byte[]> examples;
  private TestOutputTopic<String, TrainingExample> clean;
  private TestOutputTopic<String, byte[]> dlq;

  @BeforeEach
  void start() {
    IngestSettings settings = IngestSettings.defaults();
    StreamsBuilder builder = new StreamsBuilder();
    IngestTopology.build(builder, topics, settings, metrics);
    Properties props = IngestService.streamsProperties(KafkaSettings.of("127.0.0.1:9"), settings, stateDir);
    assertThat(props.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG)).isEqualTo(StreamsConfig.EXACTLY_ONCE_V2);
    driver = new TopologyTestDriver(builder.build(props), props, NOW);
    examples = driver.createInputTopic(topics.examples().name(), new StringSerializer(), new ByteArraySerializer(),
        NOW, Duration.ZERO);
    clean = driver.createOutputTopic(topics.cleanExamples().name(), new StringDeserializer(),
        topics.cleanExamples().valueSerde().deserializer());
    dlq = driver.createOutputTopic(topics.dlq().name(), new StringDeserializer(), new ByteArrayDeserializer());
  }

  @AfterEach
  void stop() {
    driver.close();
  }

  @Test
  void validExampleReachesTheCleanTopicWithItsSplitTagAndTenantKey() {
    TrainingExample example = example("acme", "q-1").build();
    examples.pipeInput("acme", encode(example));

    TestRecord<String, TrainingExample> out = clean.readRecord();
    assertThat(out.key()).isEqualTo("acme");
    Map<String, String> expectedMetadata = new HashMap<>(example.getMetadata());
    expectedMetadata.put(Splits.KEY, Splits.assign("acme", "q-1", IngestSettings.DEFAULT_HOLDOUT_SHARE));
    assertThat(out.value()).isEqualTo(TrainingExample.newBuilder(example).setMetadata(expectedMetadata).build());
    assertThat(clean.isEmpty()).isTrue();
    assertThat(dlq.isEmpty()).isTrue();
    assertThat(count("accepted")).isEqualTo(1);
    assertThat(count("rejected")).isZero();
  }

  @Test
  void splitTagSetByTheProducerIsOverwritten() {
    // An id whose hash puts it in train: a producer must not be able to hide it from training.
    String id = trainId("acme");
    examples.pipeInput("acme", encode(example("acme", id).setMetadata(Map.of(Splits.KEY, Splits.HOLDOUT)).build()));

    assertThat(Splits.of(clean.readValue())).isEqualTo(Splits.TRAIN);
  }

  static Stream<Arguments> undecodable() {
    byte[] valid = encode(example("acme", "q-1").build());
    byte[] unknownSchema = valid.clone();
    unknownSchema[5] ^= 0x5A;
    byte[] trailing = Arrays.copyOf(valid, valid.length + 1);
    return Stream.of(
        Arguments.of("empty", new byte[0]),
        Arguments.of("bad-magic", "{\"not\": \"avro\"}".getBytes(StandardCharsets.UTF_8)),
        Arguments.of("truncated", Arrays.copyOf(valid, 6)),
        Arguments.of("truncated", Arrays.copyOf(valid, valid.length - 3)),
        Arguments.of("unknown-schema", unknownSchema),
        Arguments.of("corrupt", trailing));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("undecodable")
  void undecodableBytesGoToTheDlqUnchangedWithTheCodecReason(String slug, byte[] bytes) {
    examples.pipeInput("acme", bytes);

    TestRecord<String, byte[]> dead = dlq.readRecord();
    assertThat(dead.key()).isEqualTo("acme");
    assertThat(dead.value()).isEqualTo(bytes);
    assertThat(reason(dead)).startsWith(slug + ": ");
    assertThat(clean.isEmpty()).isTrue();
    assertThat(rejected(slug)).isEqualTo(1);
    assertThat(count("rejected")).isEqualTo(1);
  }

  @Test
  void nullValueGoesToTheDlqAsNull() {
    examples.pipeInput("acme", (byte[]) null);

    TestRecord<String, byte[]> dead = dlq.readRecord();
    assertThat(dead.value()).isNull();
    assertThat(reason(dead)).startsWith("null: ");
  }

  static Stream<Arguments> violations() {
    String euro11k = "€".repeat(11_000); // 11,000 chars but 33,000 UTF-8 bytes
    Map<String, String> manyEntries = new HashMap<>();
    for (int i = 0; i < 33; i++) {
      manyEntries.put("k" + i, "v");
    }
    return Stream.of(
        violation("invalid-tenant", "Bad Tenant", b -> b.setTenant("Bad Tenant")),
        violation("invalid-tenant", "base", b -> b.setTenant("base")),
        violation("key-mismatch", "globex", b -> { }),
        violation("missing-key", null, b -> { }),
        violation("missing-id", "acme", b -> b.setId(" ")),
        violation("id-too-long", "acme", b -> b.setId("x".repeat(257))),
        violation("empty-prompt", "acme", b -> b.setPrompt("")),
        violation("empty-completion", "acme", b -> b.setCompletion("")),
        violation("prompt-too-long", "acme", b -> b.setPrompt("a".repeat(16_385))),
        violation("prompt-too-long", "acme", b -> b.setPrompt(euro11k)),
        violation("completion-too-long", "acme", b -> b.setCompletion("a".repeat(16_385))),
        violation("completion-too-long", "acme", b -> b.setCompletion(euro11k)),
        violation("invalid-weight", "acme", b -> b.setWeight(Float.NaN)),
        violation("invalid-weight", "acme", b -> b.setWeight(Float.POSITIVE_INFINITY)),
        violation("invalid-weight", "acme", b -> b.setWeight(0f)),
        violation("invalid-weight", "acme", b -> b.setWeight(10.5f)),
        violation("metadata-too-large", "acme", b -> b.setMetadata(manyEntries)),
        violation("metadata-too-large", "acme", b -> b.setMetadata(Map.of("notes", "n".repeat(5_000)))),
        violation("future-event-time", "acme",
            b -> b.setEventTime(NOW.plus(Duration.ofDays(1)).plusSeconds(1))));
  }

  private static Arguments violation(String code, String key, Consumer<TrainingExample.Builder> change) {
    TrainingExample.Builder builder = example("acme", "q-1");
    change.accept(builder);
    return Arguments.of(code, key, builder.build());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("violations")
  void ruleViolationGoesToTheDlqWithItsReasonCode(String code, String key, TrainingExample example) {
    byte[] bytes = encode(example);
    examples.pipeInput(key, bytes);

    TestRecord<String, byte[]> dead = dlq.readRecord();
    assertThat(dead.key()).isEqualTo(key);
    assertThat(dead.value()).isEqualTo(bytes);
    assertThat(reason(dead)).startsWith(code + ": ");
    assertThat(clean.isEmpty()).isTrue();
    assertThat(rejected(code)).isEqualTo(1);
  }

  @Test
  void examplesAtTheLimitsAreAccepted() {
    Map<String, String> fullMetadata = new HashMap<>();
    for (int i = 0; i < 32; i++) {
      fullMetadata.put(String.format("k%02d", i), "v".repeat(125)); // 32 × (3 + 125) = 4,096 bytes
    }
    examples.pipeInput("acme", encode(example("acme", "x".repeat(256))
        .setPrompt("é".repeat(16_384)) // 32,768 bytes
        .setCompletion("a".repeat(16_384))
        .setWeight(10f)
        .setMetadata(fullMetadata)
        .setEventTime(NOW.plus(Duration.ofHours(23)))
        .build()));

    assertThat(dlq.isEmpty()).as("dead letters: %s", dlq.isEmpty() ? "" : reason(dlq.readRecord())).isTrue();
    assertThat(clean.getQueueSize()).isEqualTo(1);
  }

  @Test
  void deadLetterKeepsProducerHeadersAndCarriesOneReason() {
    RecordHeaders headers = new RecordHeaders();
    headers.add("trace-id", "t-42".getBytes(StandardCharsets.UTF_8));
    headers.add(Topics.ERROR_HEADER, "stale".getBytes(StandardCharsets.UTF_8));
    examples.pipeInput(new TestRecord<>("acme", new byte[] {1, 2, 3}, headers, NOW));

    TestRecord<String, byte[]> dead = dlq.readRecord();
    assertThat(dead.headers().headers(Topics.ERROR_HEADER)).hasSize(1);
    assertThat(reason(dead)).startsWith("bad-magic: ");
    assertThat(new String(dead.headers().lastHeader("trace-id").value(), StandardCharsets.UTF_8)).isEqualTo("t-42");
  }

  @Test
  void duplicateWithinTheWindowIsDroppedAndCountedNotDeadLettered() {
    byte[] bytes = encode(example("acme", "q-1").build());
    examples.pipeInput("acme", bytes, NOW);
    examples.pipeInput("acme", bytes, NOW.plus(WINDOW).minusMillis(1));
    // A late copy (an older timestamp) is a duplicate as well.
    examples.pipeInput("acme", bytes, NOW.minus(Duration.ofHours(1)));

    assertThat(clean.readRecordsToList()).hasSize(1);
    assertThat(dlq.isEmpty()).isTrue();
    assertThat(count("duplicate")).isEqualTo(2);
    assertThat(count("accepted")).isEqualTo(1);
  }

  @Test
  void sameIdOfAnotherTenantIsNotADuplicate() {
    examples.pipeInput("acme", encode(example("acme", "q-1").build()));
    examples.pipeInput("globex", encode(example("globex", "q-1").build()));

    assertThat(clean.readKeyValuesToList()).extracting(kv -> kv.key).containsExactly("acme", "globex");
  }

  @Test
  void duplicateAfterTheWindowIsAcceptedAgainAndStartsANewWindow() {
    byte[] bytes = encode(example("acme", "q-1").build());
    Instant again = NOW.plus(WINDOW);
    examples.pipeInput("acme", bytes, NOW);
    examples.pipeInput("acme", bytes, again);
    examples.pipeInput("acme", bytes, again.plus(WINDOW).minusMillis(1));

    assertThat(clean.readRecordsToList()).extracting(TestRecord::getRecordTime).containsExactly(NOW, again);
    assertThat(count("duplicate")).isEqualTo(1);
  }

  @Test
  void futureEventTimeIsJudgedAgainstTheWallClock() {
    TrainingExample inTwoDays = example("acme", "q-1").setEventTime(NOW.plus(Duration.ofDays(2))).build();
    examples.pipeInput("acme", encode(inTwoDays));
    assertThat(reason(dlq.readRecord())).startsWith("future-event-time: ");

    driver.advanceWallClockTime(Duration.ofDays(1).plusHours(1));
    TrainingExample sameTimeNewId = TrainingExample.newBuilder(inTwoDays).setId("q-2").build();
    examples.pipeInput("acme", encode(sameTimeNewId));
    assertThat(clean.readValue().getId()).isEqualTo("q-2");
  }

  @Test
  void holdoutIsATenthOfIdsAndAgreesWithSplits() {
    int n = 10_000;
    for (int i = 0; i < n; i++) {
      examples.pipeInput("acme", encode(example("acme", "id-" + i).build()));
    }
    List<TrainingExample> out = clean.readValuesToList();
    assertThat(out).hasSize(n);
    long holdout = out.stream().filter(Splits::isHoldout).count();
    assertThat(holdout / (double) n).isBetween(0.085, 0.115);
    assertThat(out).allSatisfy(e -> assertThat(Splits.of(e))
        .isEqualTo(Splits.assign(e.getTenant(), e.getId(), IngestSettings.DEFAULT_HOLDOUT_SHARE)));
    assertThat(count("accepted")).isEqualTo(n);
  }

  static TrainingExample.Builder example(String tenant, String id) {
    return TrainingExample.newBuilder().setId(id).setTenant(tenant).setPrompt("Question: refund window?\nAnswer:")
        .setCompletion(" 30 days.").setWeight(1f).setEventTime(NOW).setMetadata(Map.of("source", "test"));
  }

  /** An id of {@code tenant} that the default share puts in train. */
  static String trainId(String tenant) {
    for (int i = 0; ; i++) {
      if (Splits.assign(tenant, "id-" + i, IngestSettings.DEFAULT_HOLDOUT_SHARE).equals(Splits.TRAIN)) {
        return "id-" + i;
      }
    }
  }

  private static byte[] encode(TrainingExample example) {
    return AvroCodec.TRAINING_EXAMPLE.encode(example);
  }

  private static String reason(TestRecord<String, byte[]> record) {
    Header header = record.headers().lastHeader(Topics.ERROR_HEADER);
    assertThat(header).as("the %s header", Topics.ERROR_HEADER).isNotNull();
    return new String(header.value(), StandardCharsets.UTF_8);
  }

  private long count(String outcome) {
    return metrics.ingestExamples.labelValues(outcome).getLongValue();
  }

  private long rejected(String reason) {
    return metrics.ingestRejected.labelValues(reason).getLongValue();
  }
}
