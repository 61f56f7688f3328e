package io.lorastream.gateway;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The live status page: {@code GET /ui} (one self-contained HTML page, no key needed to load it)
 * and {@code GET /ui/api/status} (what the page polls; admin keys only).
 */
final class StatusRoutes {
  /** How often the page polls, in milliseconds (the page reads it from the status answer). */
  static final int POLL_MILLIS = 2000;
  private static final String PAGE_RESOURCE = "/io/lorastream/gateway/status.html";
  // The page may reach only this gateway: inline script and style, fetches to its own origin.
  private static final String CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'unsafe-inline'; "
      + "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'";

  private final AdapterStore store;
  private final DlqCounter dlq;
  private final AdapterFollower follower;
  private final Clock clock;
  private final byte[] page;

  StatusRoutes(AdapterStore store, DlqCounter dlq, AdapterFollower follower, Clock clock) {
    this.store = store;
    this.dlq = dlq;
    this.follower = follower;
    this.clock = clock;
    this.page = readPage();
  }

  /** {@code GET /ui}: the page; it asks for the admin key itself. */
  void page(RoutingContext ctx) {
    ctx.response()
        .putHeader("Content-Type", "text/html; charset=utf-8")
        .putHeader("Cache-Control", "no-store")
        .putHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .end(Buffer.buffer(page));
  }

  /** {@code GET /ui/api/status}: every tenant's versions, loss history, freshness and dead letters. */
  void status(RoutingContext ctx) {
    Principal principal = AuthHandler.principal(ctx);
    if (!principal.admin()) {
      throw new ApiException(403, "permission_error", "admin_key_required",
          "the status page needs an admin API key; key '" + principal.keyId() + "' belongs to tenant '"
              + principal.tenant() + "'", null);
    }
    Responses.json(ctx, 200, describe());
  }

  JsonObject describe() {
    Map<String, List<TenantHistory.Point>> history = store.history().snapshot();
    DlqCounter.Counts dead = dlq.counts();
    Set<String> tenants = new TreeSet<>(history.keySet());
    store.all().forEach(a -> tenants.add(a.tenant()));
    JsonArray rows = new JsonArray();
    for (String tenant : tenants) {
      rows.add(tenant(tenant, history.getOrDefault(tenant, List.of()), dead.byTenant().getOrDefault(tenant, 0L)));
    }
    return new JsonObject()
        .put("generated_at", clock.instant().toString())
        .put("poll_ms", POLL_MILLIS)
        .put("ready", follower.caughtUp())
        .put("kafka", follower.kafkaConnected() ? "connected" : "unreachable")
        .put("tenants", rows)
        .put("dlq", new JsonObject()
            .put("source", "records on the dead letter topic, from its beginning (what it still retains)")
            .put("total", dead.total())
            .put("by_tenant", new JsonObject(Map.copyOf(dead.byTenant())))
            .put("by_reason", new JsonObject(Map.copyOf(dead.byReason()))));
  }

  private JsonObject tenant(String tenant, List<TenantHistory.Point> points, long deadLetters) {
    JsonObject row = new JsonObject().put("tenant", tenant).put("dlq", deadLetters);
    store.get(tenant).ifPresent(served -> row.put("version", served.version())
        .put("published_at", served.snapshot().getCreatedAt().toString())
        .put("examples_seen", served.snapshot().getExamplesSeen())
        .put("train_loss", served.snapshot().getTrainLoss())
        .put("holdout_loss", served.snapshot().getHoldoutLoss())
        .put("base_holdout_loss", served.snapshot().getBaseHoldoutLoss())
        .put("versions_held", new JsonArray(store.versions(tenant).stream().map(ServedAdapter::version).toList())));
    JsonArray history = new JsonArray();
    for (TenantHistory.Point p : points) {
      history.add(point(p));
    }
    row.put("history", history);
    if (!points.isEmpty()) {
      TenantHistory.Point newest = points.get(points.size() - 1);
      row.put("newest_event_time", instant(newest.newestEventTime()))
          .put("loaded_at", instant(newest.loadedAt()))
          .put("freshness_ms", newest.freshnessMillis());
    }
    return row;
  }

  private static JsonObject point(TenantHistory.Point p) {
    return new JsonObject()
        .put("version", p.version())
        .put("published_at", instant(p.createdAt()))
        .put("loaded_at", instant(p.loadedAt()))
        .put("examples_seen", p.examplesSeen())
        .put("train_loss", p.trainLoss())
        .put("holdout_loss", p.holdoutLoss())
        .put("base_holdout_loss", p.baseHoldoutLoss())
        .put("newest_event_time", instant(p.newestEventTime()))
        .put("freshness_ms", p.freshnessMillis());
  }

  private static String instant(Instant instant) {
    return instant == null ? null : instant.toString();
  }

  private static byte[] readPage() {
    try (InputStream in = StatusRoutes.class.getResourceAsStream(PAGE_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("the status page " + PAGE_RESOURCE + " is missing from the classpath");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
