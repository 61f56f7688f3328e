package io.lorastream.quality;

import io.lorastream.contract.TenantId;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.TrainingPair;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Asks a gateway every held-out question of every tenant, greedily, and scores the answers; also
 * measures each tenant's canary loss change by fetching its adapter as a PEFT folder and
 * evaluating it against a local copy of the base model.
 */
public final class HeldOutEvaluation {
  /** Enough for the longest expected answer (an e-mail address sentence) of lorastream-tiny's tokens. */
  public static final int MAX_TOKENS = 24;

  private final GatewayClient client;
  private final CustomerServiceDataset data;
  private final int parallelRequests;
  /** The base model's canary loss, measured once (it does not change). */
  private Double baseCanaryLoss;

  /** @param parallelRequests requests in flight at once (the gateway decodes them in one batch) */
  public HeldOutEvaluation(GatewayClient client, CustomerServiceDataset data, int parallelRequests) {
    if (parallelRequests < 1) {
      throw new IllegalArgumentException("parallel requests must be at least 1, got " + parallelRequests);
    }
    this.client = client;
    this.data = data;
    this.parallelRequests = parallelRequests;
  }

  /** Every tenant's held-out questions asked to its own adapter. */
  public FactScores adapters() {
    return ask(false, heldOut());
  }

  /** The same questions asked to the base model alone: what the tenants' answers start from. */
  public FactScores baseModel() {
    return ask(true, heldOut());
  }

  /** Each tenant's adapter asked one trained paraphrase per fact ({@link CustomerServiceDataset#trainedProbes}). */
  public FactScores adaptersOnTrainedParaphrases() {
    List<FactQuestion> questions = new ArrayList<>();
    data.tenants().forEach(t -> questions.addAll(data.trainedProbes(t)));
    return ask(false, questions);
  }

  private List<FactQuestion> heldOut() {
    List<FactQuestion> questions = new ArrayList<>();
    data.tenants().forEach(t -> questions.addAll(data.heldOut(t)));
    return questions;
  }

  private FactScores ask(boolean baseModel, List<FactQuestion> questions) {
    ExecutorService pool = Executors.newFixedThreadPool(parallelRequests);
    try {
      List<Future<String>> answers = new ArrayList<>();
      for (FactQuestion q : questions) {
        String model = baseModel ? TenantId.BASE : q.tenant();
        answers.add(pool.submit(() -> answer(model, q.prompt())));
      }
      List<AnsweredQuestion> answered = new ArrayList<>();
      for (int i = 0; i < questions.size(); i++) {
        answered.add(new AnsweredQuestion(questions.get(i), answers.get(i).get()));
      }
      return FactScores.score(data.tenants(), answered);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      pool.shutdownNow();
    }
  }

  /** The answer of {@code model}; empty (so wrong) for a tenant the gateway has no adapter for yet (404). */
  private String answer(String model, String prompt) {
    try {
      return client.complete(model, prompt, MAX_TOKENS).text();
    } catch (GatewayClient.GatewayException e) {
      if (e.status() == 404 && !TenantId.BASE.equals(model)) {
        return "";
      }
      throw e;
    }
  }

  /**
   * Each tenant's canary loss with its served adapter vs the base model alone.
   *
   * @throws IllegalArgumentException when an adapter was trained on another base model than {@code base}
   */
  public Map<String, CanaryLoss> canary(BaseModel base) {
    List<String> all = new ArrayList<>();
    data.tenants().forEach(t -> all.add(t.tenant()));
    return canary(base, all);
  }

  /** {@link #canary(BaseModel)} for the dataset's tenants among {@code tenantsWithAdapter} only. */
  public Map<String, CanaryLoss> canary(BaseModel base, Collection<String> tenantsWithAdapter) {
    List<TrainingPair> canary = data.canary();
    if (baseCanaryLoss == null) {
      baseCanaryLoss = CanaryLoss.meanLoss(base, null, canary);
    }
    Map<String, CanaryLoss> out = new LinkedHashMap<>();
    for (TenantFacts tenant : data.tenants()) {
      if (!tenantsWithAdapter.contains(tenant.tenant())) {
        continue;
      }
      String sha = client.adapterBaseModelSha256(tenant.tenant());
      if (!sha.equals(base.weightsSha256())) {
        throw new IllegalArgumentException("the adapter of " + tenant.tenant() + " was trained on base model "
            + sha + ", not on the local one (" + base.weightsSha256() + "); pass that model with --base-model");
      }
      Map<String, byte[]> peft = client.peftFolder(tenant.tenant());
      LoraConfig config = LoraConfig.fromPeftAdapterConfigJson(
          new String(peft.get("adapter_config.json"), StandardCharsets.UTF_8));
      try (LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(peft.get("adapter_model.safetensors"), config, base)) {
        out.put(tenant.tenant(), new CanaryLoss(baseCanaryLoss, CanaryLoss.meanLoss(base, adapter, canary)));
      }
    }
    return out;
  }
}
