package io.lorastream.gateway;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.SnapshotFacts;
import io.lorastream.contract.TenantId;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Comparator;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** The model list, snapshot metadata, and the PEFT adapter folder as a zip. */
final class AdapterRoutes {
  private final AdapterStore store;
  private final String baseModelName;

  AdapterRoutes(AdapterStore store, String baseModelName) {
    this.store = store;
    this.baseModelName = baseModelName;
  }

  /** {@code GET /v1/models}: the base model and the adapters this key may reach. */
  void models(RoutingContext ctx) {
    Principal principal = AuthHandler.principal(ctx);
    JsonArray data = new JsonArray().add(new JsonObject()
        .put("id", TenantId.BASE).put("object", "model").put("owned_by", "lorastream"));
    store.all().stream()
        .filter(a -> principal.mayAccess(a.tenant()))
        .sorted(Comparator.comparing(ServedAdapter::tenant))
        .forEach(a -> data.add(new JsonObject()
            .put("id", a.tenant())
            .put("object", "model")
            .put("owned_by", a.tenant())
            .put("parent", TenantId.BASE)
            .put("version", a.version())
            .put("examples_seen", a.snapshot().getExamplesSeen())
            .put("train_loss", a.snapshot().getTrainLoss())
            .put("created", a.snapshot().getCreatedAt().getEpochSecond())));
    Responses.json(ctx, 200, new JsonObject().put("object", "list").put("data", data));
  }

  /** {@code GET /v1/adapters/:tenant}: the newest snapshot's facts (no weights). */
  void metadata(RoutingContext ctx) {
    ServedAdapter served = served(ctx);
    Responses.json(ctx, 200, describe(served.snapshot()));
  }

  /** {@code GET /v1/adapters/:tenant/peft}: adapter_config.json + adapter_model.safetensors, zipped. */
  void peft(RoutingContext ctx) {
    ServedAdapter served = served(ctx);
    ctx.vertx().executeBlocking(() -> zip(served), false)
        .onSuccess(zip -> ctx.response()
            .putHeader("Content-Type", "application/zip")
            .putHeader("Content-Disposition",
                "attachment; filename=\"" + served.tenant() + "-v" + served.version() + "-peft.zip\"")
            .putHeader("X-Adapter-Version", Long.toString(served.version()))
            .end(Buffer.buffer(zip)))
        .onFailure(ctx::fail);
  }

  private ServedAdapter served(RoutingContext ctx) {
    String tenant = ctx.pathParam("tenant");
    if (!TenantId.isValid(tenant)) {
      throw ApiException.badRequest("invalid_tenant", "not a tenant id: '" + tenant + "'");
    }
    AuthHandler.requireAccess(ctx, tenant);
    return store.get(tenant).orElseThrow(() -> ApiException.notFound("adapter_not_found",
        "no adapter for tenant '" + tenant + "'"));
  }

  private byte[] zip(ServedAdapter served) {
    String config = served.config().toPeftAdapterConfigJson(baseModelName);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(out)) {
      // The weights exactly as published (their digest is the snapshot's weightsSha256).
      byte[] weights = Files.readAllBytes(served.weightsFile());
      zip.putNextEntry(new ZipEntry("adapter_config.json"));
      zip.write(config.getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
      zip.putNextEntry(new ZipEntry("adapter_model.safetensors"));
      zip.write(weights);
      zip.closeEntry();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  static JsonObject describe(AdapterSnapshot s) {
    return new JsonObject(SnapshotFacts.of(s));
  }
}
