package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.Snapshots;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The {@code /ui} status page of a running gateway: its data endpoint over HTTP (admin keys only,
 * versions, loss history, dead letter counts), and the page itself in a real headless Chromium.
 */
class StatusPageTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  static final String CHROMIUM = "/usr/bin/chromium";
  static final String CHROMEDRIVER = "/usr/bin/chromedriver";
  static final String ACME_KEY = "ls-acme-status-key";
  static final String ADMIN_KEY = "ls-admin-status-key";

  @TempDir
  static Path modelDir;
  @TempDir
  static Path adapterDir;
  static BaseModel base;
  static Gateway gateway;
  static final Topics topics = new Topics("status.");
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    TinyModelFactory.create(modelDir, 5);
    base = BaseModel.load(modelDir);
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    publish(snapshot("acme", 1, 2.50f, 2.60f));
    publish(snapshot("acme", 2, 2.10f, 2.30f));
    publish(snapshot("globex", 1, 3.00f, null));
    sendDeadLetter("acme", "invalid-weight: weight must be in (0, 10]");
    sendDeadLetter("acme", "invalid-weight: weight must be in (0, 10]");
    sendDeadLetter("globex", "empty-prompt: the prompt is empty");
    GatewaySettings settings = new GatewaySettings("127.0.0.1", 0, 4096, 1000, 64, 8, 16, 8, 1000, 1000,
        adapterDir, 1 << 20, 2);
    ApiKeys keys = ApiKeys.of(List.of(ApiKeys.entry("acme-app", "acme", ACME_KEY),
        ApiKeys.entry("ops", null, ADMIN_KEY)));
    gateway = Gateway.start(base, KAFKA.settings(), topics, settings, keys, Metrics.create());
    assertThat(gateway.awaitReady(Duration.ofSeconds(30))).isTrue();
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (base != null) {
      base.close();
    }
  }

  /** A valid snapshot whose newest trained example happened a minute ago. */
  static AdapterSnapshot snapshot(String tenant, long version, Float trainLoss, Float holdoutLoss) {
    return AdapterSnapshot.newBuilder(Snapshots.of(base, tenant, version, version))
        .setTrainLoss(trainLoss).setHoldoutLoss(holdoutLoss)
        .setNewestEventTime(Instant.now().minusSeconds(60)).build();
  }

  static void publish(AdapterSnapshot snapshot) {
    Snapshots.publish(KAFKA.settings(), topics.adapters().name(), snapshot);
  }

  static void sendDeadLetter(String tenant, String reason) {
    ProducerRecord<String, byte[]> record = new ProducerRecord<>(topics.dlq().name(), tenant, new byte[] {1, 2});
    record.headers().add(Topics.ERROR_HEADER, reason.getBytes(StandardCharsets.UTF_8));
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KAFKA.settings().producer(),
        new StringSerializer(), new ByteArraySerializer())) {
      producer.send(record).get();
    } catch (Exception e) {
      throw new IllegalStateException("dead letter not sent", e);
    }
  }

  static String url(String path) {
    return "http://127.0.0.1:" + gateway.port() + path;
  }

  static HttpResponse<String> get(String path, String key) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url(path)));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Polls the status endpoint until the dead letters sent at start have been counted. */
  static JsonObject statusWithDeadLetters(long expected) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      JsonObject status = new JsonObject(get("/ui/api/status", ADMIN_KEY).body());
      if (status.getJsonObject("dlq").getLong("total") >= expected || System.nanoTime() > deadline) {
        return status;
      }
      Thread.sleep(100);
    }
  }

  static JsonObject tenant(JsonObject status, String tenant) {
    JsonArray tenants = status.getJsonArray("tenants");
    for (int i = 0; i < tenants.size(); i++) {
      if (tenants.getJsonObject(i).getString("tenant").equals(tenant)) {
        return tenants.getJsonObject(i);
      }
    }
    throw new AssertionError("no tenant " + tenant + " in " + status.encodePrettily());
  }

  @Test
  void statusDataNeedsAnAdminKey() throws Exception {
    HttpResponse<String> none = get("/ui/api/status", null);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(new JsonObject(none.body()).getJsonObject("error").getString("code")).isEqualTo("invalid_api_key");

    HttpResponse<String> tenantKey = get("/ui/api/status", ACME_KEY);
    assertThat(tenantKey.statusCode()).isEqualTo(403);
    assertThat(new JsonObject(tenantKey.body()).getJsonObject("error").getString("code"))
        .isEqualTo("admin_key_required");

    HttpResponse<String> page = get("/ui", null);
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
    assertThat(page.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(
        csp -> assertThat(csp).contains("default-src 'none'", "connect-src 'self'"));
    // Self-contained: no stylesheet, script or image from anywhere else.
    assertThat(page.body()).contains("/ui/api/status", "sessionStorage")
        .doesNotContain("<link", " src=", "@import", "https://");
  }

  @Test
  void statusListsVersionsLossHistoryFreshnessAndDeadLetters() throws Exception {
    JsonObject status = statusWithDeadLetters(3);
    assertThat(status.getBoolean("ready")).isTrue();

    JsonObject acme = tenant(status, "acme");
    assertThat(acme.getLong("version")).isGreaterThanOrEqualTo(2L);
    JsonArray history = acme.getJsonArray("history");
    assertThat(history.getJsonObject(0).getLong("version")).isEqualTo(1L);
    assertThat(history.getJsonObject(0).getFloat("train_loss")).isEqualTo(2.50f);
    assertThat(history.getJsonObject(1).getFloat("holdout_loss")).isEqualTo(2.30f);
    // The newest trained example is a minute older than the moment this gateway loaded the version.
    assertThat(acme.getLong("freshness_ms")).isBetween(59_000L, 120_000L);
    assertThat(acme.getLong("dlq")).isEqualTo(2L);

    JsonObject globex = tenant(status, "globex");
    assertThat(globex.getLong("version")).isEqualTo(1L);
    assertThat(globex.getJsonArray("history").getJsonObject(0).getValue("holdout_loss")).isNull();
    assertThat(globex.getLong("dlq")).isEqualTo(1L);

    JsonObject dlq = status.getJsonObject("dlq");
    assertThat(dlq.getLong("total")).isEqualTo(3L);
    assertThat(dlq.getJsonObject("by_reason").getLong("invalid-weight")).isEqualTo(2L);
    assertThat(dlq.getJsonObject("by_reason").getLong("empty-prompt")).isEqualTo(1L);
  }

  @Test
  void pageShowsTenantsUpdatesLiveAndOpensATenant() throws Exception {
    assumeFalse(Boolean.getBoolean("lorastream.skipBrowserTests"), "-Dlorastream.skipBrowserTests=true");
    if (!Files.isExecutable(Path.of(CHROMIUM)) || !Files.isExecutable(Path.of(CHROMEDRIVER))) {
      fail("the status page test drives Debian's headless Chromium: install it with "
          + "'apt-get install -y chromium chromium-driver' (needs " + CHROMIUM + " and " + CHROMEDRIVER
          + "), or skip browser tests with -Dlorastream.skipBrowserTests=true");
    }
    statusWithDeadLetters(3);
    Path profile = Files.createTempDirectory("lorastream-chromium-");
    WebDriver browser = chromium(profile);
    try {
      WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20));
      browser.get(url("/ui"));
      assertThat(browser.findElements(By.cssSelector("#tenants tbody tr"))).isEmpty();

      // A tenant's key is refused with the gateway's message, and nothing is shown.
      enterKey(browser, ACME_KEY);
      wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("key-error"), "admin API key"));
      assertThat(browser.findElements(By.cssSelector("#tenants tbody tr"))).isEmpty();

      enterKey(browser, ADMIN_KEY);
      wait.until(ExpectedConditions.textToBePresentInElementLocated(versionCell("globex"), "1"));
      assertThat(browser.findElement(versionCell("acme")).getText()).isEqualTo("2");
      assertThat(browser.findElement(By.cssSelector("tr[data-tenant='acme'] td.dlq")).getText()).isEqualTo("2");
      assertThat(browser.findElements(By.cssSelector("tr[data-tenant='acme'] polyline[data-series='train']")))
          .hasSize(1);
      assertThat(browser.findElement(By.id("dlq-total")).getText()).isEqualTo("3");

      publish(snapshot("acme", 3, 1.80f, 2.00f));
      wait.until(ExpectedConditions.textToBePresentInElementLocated(versionCell("acme"), "3"));

      browser.findElement(By.cssSelector("tr[data-tenant='acme'] td.tenant")).click();
      wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("detail-tenant"), "acme"));
      List<String> versions = browser.findElements(By.cssSelector("#detail-versions tbody tr td.version")).stream()
          .map(e -> e.getText()).toList();
      assertThat(versions).containsExactly("3", "2", "1");
      assertThat(browser.findElement(By.cssSelector("#detail-versions tbody tr[data-version='3']")).getText())
          .contains("1.8000", "2.0000");
      assertThat(browser.findElement(By.id("detail-summary")).getText()).contains("serving version 3", "held: 3, 2");

      Path screenshot = Path.of("target", "ui-screenshot.png");
      Files.createDirectories(screenshot.getParent());
      byte[] png = ((ChromeDriver) browser).getScreenshotAs(OutputType.BYTES);
      Files.write(screenshot, png);
      assertThat(png.length).isGreaterThan(1000);
    } finally {
      browser.quit();
      deleteQuietly(profile);
    }
  }

  static By versionCell(String tenant) {
    return By.cssSelector("tr[data-tenant='" + tenant + "'] td.version");
  }

  static void enterKey(WebDriver browser, String key) {
    browser.findElement(By.id("key")).sendKeys(key);
    browser.findElement(By.id("save-key")).click();
  }

  static WebDriver chromium(Path profile) {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM);
    options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,900", "--user-data-dir=" + profile);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(new File(CHROMEDRIVER)).usingAnyFreePort().build();
    return new ChromeDriver(service, options);
  }

  static void deleteQuietly(Path dir) {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (Exception e) {
      // a temporary folder; the OS cleans it eventually
    }
  }
}
