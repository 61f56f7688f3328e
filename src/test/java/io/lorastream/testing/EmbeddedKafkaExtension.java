package io.lorastream.testing;

import io.lorastream.kafka.EmbeddedKafkaBroker;
import io.lorastream.kafka.KafkaSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One real Kafka broker per test class, in a temporary directory:
 *
 * <pre>{@code @RegisterExtension static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();}</pre>
 *
 * <p>{@link #stop()} and {@link #restart()} force outages; a restart keeps the same port, so
 * {@link #bootstrapServers()} stays valid, and the same data.
 */
public final class EmbeddedKafkaExtension implements BeforeAllCallback, AfterAllCallback {
  private Path dataDir;
  private int port;
  private EmbeddedKafkaBroker broker;

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    dataDir = Files.createTempDirectory("lorastream-kafka-");
    broker = EmbeddedKafkaBroker.start(dataDir, 0);
    port = broker.port();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    try {
      stop();
    } finally {
      deleteRecursively(dataDir);
    }
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  public KafkaSettings settings() {
    return KafkaSettings.of(bootstrapServers());
  }

  public Path dataDir() {
    return dataDir;
  }

  public boolean isRunning() {
    return broker != null;
  }

  /** Stops the broker (clients see it go away); its data stays. */
  public synchronized void stop() {
    if (broker != null) {
      broker.close();
      broker = null;
    }
  }

  /** Stops the broker if it runs and starts it again on the same port and data. */
  public synchronized void restart() {
    stop();
    broker = EmbeddedKafkaBroker.start(dataDir, port);
  }

  private static void deleteRecursively(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
