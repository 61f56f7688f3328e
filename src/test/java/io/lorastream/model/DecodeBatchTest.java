package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.testing.TestAdapters;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DecodeBatchTest {
  @TempDir static Path tmp;
  static BaseModel base;
  static CausalLm lm;
  static Generator generator;
  static LoraAdapter tenantA; // rank 4 on every projection
  static LoraAdapter tenantB; // rank 4 on every projection
  static LoraAdapter tenantC; // rank 8 on q and v only, other scale

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(tmp.resolve("tiny"), 42);
    base = BaseModel.load(tmp.resolve("tiny"));
    lm = new CausalLm(base);
    generator = new Generator(lm);
    tenantA = CausalLmTest.randomAdapter(base, 41);
    tenantB = CausalLmTest.randomAdapter(base, 42);
    tenantC = LoraAdapter.initialise(base, new LoraConfig(8, 32f, List.of("q_proj", "v_proj"), 0f, false), 43);
    TestAdapters.randomiseB(base, tenantC, 44);
  }

  @AfterAll
  static void closeModel() {
    tenantA.close();
    tenantB.close();
    tenantC.close();
    base.close();
  }

  static GenerationRequest greedy(String prompt, LoraAdapter adapter, int maxTokens) {
    return new GenerationRequest(generator.encodePrompt(prompt), adapter, SamplingParams.greedy(maxTokens));
  }

  static void assertSameAsAlone(GenerationRequest request, Completion batched) {
    Completion alone = generator.generate(request.promptIds(), request.adapterOrNull(), request.params());
    assertThat(batched.tokenIds()).as("tokens of %s", alone.text()).containsExactly(alone.tokenIds());
    assertThat(batched.text()).isEqualTo(alone.text());
    assertThat(batched.finishReason()).isEqualTo(alone.finishReason());
    assertThat(batched.promptTokens()).isEqualTo(alone.promptTokens());
    if (alone.logprobs() != null) {
      for (int i = 0; i < alone.logprobs().size(); i++) {
        assertThat(batched.logprobs().get(i).logprob())
            .isCloseTo(alone.logprobs().get(i).logprob(), Offset.offset(1e-4f));
      }
    }
  }

  @Test
  void batchOfMixedTenantsEqualsEachRequestAlone() {
    List<GenerationRequest> requests =
        List.of(
            greedy("base model row", null, 14),
            greedy("A", tenantA, 21),
            greedy("tenant B has a much longer prompt than the others", tenantB, 9),
            greedy("C: rank 8, q and v", tenantC, 17),
            new GenerationRequest(generator.encodePrompt("A again"), tenantA, SamplingParams.greedy(12).withLogprobs(2)),
            greedy("no tokens", tenantB, 0),
            greedy("x", null, 3));
    List<Completion> batched = generator.generateBatch(requests);
    assertThat(batched).hasSize(requests.size());
    for (int i = 0; i < requests.size(); i++) {
      assertSameAsAlone(requests.get(i), batched.get(i));
    }
    assertThat(batched.stream().map(c -> c.tokenIds().length).distinct().count())
        .as("rows finish at different times")
        .isGreaterThan(3);
    assertThat(batched.get(1).tokenIds()).as("adapters change what rows generate")
        .isNotEqualTo(generator.generate(requests.get(1).promptIds(), null, 21).tokenIds());
  }

  @Test
  void seededSamplingAndStopSequencesInABatchEqualAlone() {
    List<GenerationRequest> requests = new ArrayList<>();
    requests.add(new GenerationRequest(generator.encodePrompt("hot"), tenantA,
        new SamplingParams(16, 0.8f, 0.9f, 11L, List.of(), 1)));
    requests.add(new GenerationRequest(generator.encodePrompt("warm and longer"), tenantC,
        new SamplingParams(20, 1.2f, 1f, 12L, List.of(), null)));
    Completion plain = generator.generate(generator.encodePrompt("stop"), tenantB, 30);
    String stop = plain.text().length() > 6 ? plain.text().substring(4, 6) : "zz";
    requests.add(new GenerationRequest(generator.encodePrompt("stop"), tenantB,
        SamplingParams.greedy(30).withStop(List.of(stop))));
    requests.add(greedy("greedy base", null, 10));
    List<Completion> batched = generator.generateBatch(requests);
    for (int i = 0; i < requests.size(); i++) {
      assertSameAsAlone(requests.get(i), batched.get(i));
    }
  }

  @Test
  void rowsAdmittedAndRemovedBetweenStepsEqualAlone() {
    GenerationRequest r1 = greedy("first", tenantA, 12);
    GenerationRequest r2 = greedy("second, to be removed", tenantB, 30);
    GenerationRequest r3 = greedy("third arrives later with a prompt longer than anything so far", null, 10);
    GenerationRequest r4 = greedy("4th", tenantC, 15);
    GenerationRequest r5 = greedy("fifth", tenantB, 8);
    Map<Long, Completion> done = new HashMap<>();
    Map<Long, List<Integer>> streamed = new HashMap<>();
    try (DecodeBatch batch = new DecodeBatch(lm)) {
      long id1 = batch.add(r1);
      long id2 = batch.add(r2);
      runSteps(batch, 3, done, streamed);
      long id3 = batch.add(r3); // longer than the cache: existing rows get left padding
      runSteps(batch, 2, done, streamed);
      assertThat(batch.remove(id2)).isTrue();
      assertThat(batch.remove(id2)).isFalse();
      long id4 = batch.add(r4); // shorter than the cache: this row gets left padding
      runSteps(batch, 5, done, streamed);
      long id5 = batch.add(r5);
      while (!batch.isEmpty()) {
        runSteps(batch, 1, done, streamed);
      }
      assertThat(done).containsOnlyKeys(id1, id3, id4, id5);
      assertSameAsAlone(r1, done.get(id1));
      assertSameAsAlone(r3, done.get(id3));
      assertSameAsAlone(r4, done.get(id4));
      assertSameAsAlone(r5, done.get(id5));
      for (long id : List.of(id1, id3, id4, id5)) {
        assertThat(streamed.get(id).stream().mapToInt(Integer::intValue).toArray())
            .as("streamed tokens add up to the completion")
            .containsExactly(done.get(id).tokenIds());
      }
    }
  }

  @Test
  void promptsAdmittedTogetherShareForwardPassesAndEqualAlone() {
    List<GenerationRequest> requests = List.of(
        greedy("same len", tenantA, 9),
        greedy("same len", tenantB, 9), // equal prompt, other tenant: must differ from row 0
        greedy("same lem", null, 7),
        greedy("a much longer prompt that pads the short ones on the left", tenantC, 11),
        greedy("a much longer prompt that pads the short ones on the right", tenantA, 6),
        greedy("mid-sized prompt here", tenantB, 0));
    assertThat(DecodeBatch.prefillGroups(requests.stream().map(GenerationRequest::promptIds).toList()))
        .as("equal lengths share a pass; far longer prompts get their own")
        .containsExactly(List.of(0, 1, 2), List.of(5), List.of(3, 4));
    Map<Long, Completion> done = new HashMap<>();
    Map<Long, List<Integer>> streamed = new HashMap<>();
    try (DecodeBatch batch = new DecodeBatch(lm)) {
      long early = batch.add(greedy("already running", tenantC, 20));
      runSteps(batch, 2, done, streamed);
      List<Long> ids = batch.addAll(requests);
      while (!batch.isEmpty()) {
        runSteps(batch, 1, done, streamed);
      }
      assertSameAsAlone(greedy("already running", tenantC, 20), done.get(early));
      for (int i = 0; i < requests.size(); i++) {
        assertSameAsAlone(requests.get(i), done.get(ids.get(i)));
      }
      assertThat(done.get(ids.get(0)).tokenIds()).isNotEqualTo(done.get(ids.get(1)).tokenIds());
    }
  }

  @Test
  void anInvalidRequestAdmitsNoneOfItsGroup() {
    int[] tooLong = new int[base.config().maxPositionEmbeddings() + 1];
    try (DecodeBatch batch = new DecodeBatch(lm)) {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> batch.addAll(List.of(
              greedy("fine", tenantA, 5), new GenerationRequest(tooLong, null, SamplingParams.greedy(5)))))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(batch.isEmpty()).isTrue();
    }
  }

  @Test
  void fuzzedInterleavingsOfTenantsGiveEachRequestWhatItGetsAlone() {
    // Seeded: which tenant, which prompt, how long, and when each request joins the running batch.
    SplittableRandom random = new SplittableRandom(2026_11_28L);
    List<LoraAdapter> adapters = Arrays.asList(tenantA, tenantB, tenantC, null);
    List<String> prompts = List.of("refund?", "When is support open", "x", "Where is my order, please tell me now",
        "a b c d e f");
    List<GenerationRequest> requests = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      requests.add(greedy(prompts.get(random.nextInt(prompts.size())), adapters.get(random.nextInt(adapters.size())),
          2 + random.nextInt(7)));
    }
    Map<Long, GenerationRequest> byId = new HashMap<>();
    Map<Long, Completion> done = new HashMap<>();
    Map<Long, List<Integer>> streamed = new HashMap<>();
    try (DecodeBatch batch = new DecodeBatch(lm)) {
      int next = 0;
      while (next < requests.size() || !batch.isEmpty()) {
        int joining = Math.min(requests.size() - next, random.nextInt(4));
        // Requests joining together prefill together, rows of several tenants in one pass.
        List<GenerationRequest> group = requests.subList(next, next + joining);
        List<Long> ids = group.isEmpty() ? List.of() : batch.addAll(group);
        for (int j = 0; j < joining; j++) {
          byId.put(ids.get(j), group.get(j));
        }
        next += joining;
        runSteps(batch, 1 + random.nextInt(3), done, streamed);
      }
    }
    assertThat(done).hasSize(requests.size());
    byId.forEach((id, request) -> assertSameAsAlone(request, done.get(id)));
  }

  @Test
  void rowsOfManyTenantsJoiningAndLeavingMidDecodeEachGetWhatTheyGetAlone() {
    // Ten rank-4 tenants (two only on layers 0 and 2), then rank-8 tenant C: the rows' LoRA slots
    // grow in number (past the first 8) and in rank while rows run, rows leave from the middle
    // (the last rows move into their places) and a tenant already running joins again.
    List<LoraAdapter> tenants = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      tenants.add(CausalLmTest.randomAdapter(base, 100 + i, i < 2 ? List.of(0, 2) : null));
    }
    Map<Long, GenerationRequest> byId = new HashMap<>();
    Map<Long, Completion> done = new HashMap<>();
    Map<Long, List<Integer>> streamed = new HashMap<>();
    try (DecodeBatch batch = new DecodeBatch(lm)) {
      // One tenant alone first: its own factors serve every row (without the native kernel; with
      // it, three rows take slots).
      admit(batch, byId, List.of(greedy("one tenant", tenantA, 18), greedy("one tenant, two", tenantA, 6),
          greedy("3", tenantA, 25)));
      runSteps(batch, 2, done, streamed);
      List<GenerationRequest> mixed = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        mixed.add(greedy("tenant " + i + " asks", tenants.get(i), 8 + 3 * i));
      }
      List<Long> mixedIds = admit(batch, byId, mixed); // nine rows: past the first capacity
      runSteps(batch, 2, done, streamed);
      assertThat(batch.remove(mixedIds.get(1))).isTrue(); // from the middle
      assertThat(batch.remove(mixedIds.get(3))).isTrue();
      byId.remove(mixedIds.get(1));
      byId.remove(mixedIds.get(3));
      runSteps(batch, 1, done, streamed);
      admit(batch, byId, List.of(greedy("C has rank 8", tenantC, 12), greedy("base row", null, 9),
          greedy("tenant 0 again", tenants.get(0), 14)));
      runSteps(batch, 3, done, streamed);
      admit(batch, byId, tenants.subList(6, 10).stream().map(t -> greedy("late", t, 10)).toList());
      while (!batch.isEmpty()) {
        runSteps(batch, 1, done, streamed);
      }
    }
    assertThat(done).containsOnlyKeys(byId.keySet());
    byId.forEach((id, request) -> assertSameAsAlone(request, done.get(id)));
    assertThat(done.values().stream().map(c -> c.tokenIds().length).distinct().count())
        .as("rows leave at different steps")
        .isGreaterThan(4);
    tenants.forEach(LoraAdapter::close);
  }

  private static List<Long> admit(DecodeBatch batch, Map<Long, GenerationRequest> byId, List<GenerationRequest> requests) {
    List<Long> ids = batch.addAll(requests);
    for (int i = 0; i < ids.size(); i++) {
      byId.put(ids.get(i), requests.get(i));
    }
    return ids;
  }

  /** Runs up to {@code steps} steps (fewer once the batch is empty), collecting finished rows. */
  static void runSteps(
      DecodeBatch batch, int steps, Map<Long, Completion> done, Map<Long, List<Integer>> streamed) {
    for (int s = 0; s < steps && !batch.isEmpty(); s++) {
      for (DecodeBatch.Update u : batch.step()) {
        for (int t : u.tokens()) {
          streamed.computeIfAbsent(u.id(), k -> new ArrayList<>()).add(t);
        }
        if (u.finished()) {
          assertThat(done.put(u.id(), u.completion())).as("a row finishes once").isNull();
        }
      }
    }
  }

  @Test
  void batchesLeaveNoArraysBehind() {
    generator.generateBatch(List.of(greedy("warm", tenantA, 3), greedy("up", null, 2)));
    int baseArrays = base.manager().getManagedArrays().size();
    int adapterArrays = tenantA.manager().getManagedArrays().size();
    for (int i = 0; i < 3; i++) {
      generator.generateBatch(
          List.of(greedy("one", tenantA, 6), greedy("two rows", tenantC, 4), greedy("3", null, 5)));
    }
    assertThat(base.manager().getManagedArrays()).hasSize(baseArrays);
    assertThat(tenantA.manager().getManagedArrays()).hasSize(adapterArrays);
  }
}
