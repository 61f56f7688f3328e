package io.lorastream.kafka;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka (KRaft combined mode: broker and controller, node id 1) running inside this
 * JVM, for development, the demo and tests. Storage under {@code dataDir} is formatted on the
 * first start only; a later start on the same directory keeps its topics and records.
 *
 * <p>Listens on 127.0.0.1 only: {@code port} for clients (0 picks a free one) and a second free
 * port for the controller. Every replication factor and min ISR is 1.
 *
 * <p>{@link #startWithSasl} opens the client port as {@code SASL_PLAINTEXT} with the PLAIN mechanism
 * and the users given, and authorizes every request with KRaft's {@code StandardAuthorizer}: a
 * user reaches only what ACLs grant it, except the super user. The controller listener stays
 * plaintext on loopback; its principal ({@code ANONYMOUS}, the broker talking to its own
 * controller) is a super user too, so it is for development and tests, not for untrusted hosts.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);

  private static final String HOST = "127.0.0.1";
  private static final int NODE_ID = 1;

  static {
    // The broker touches the Log4j 2 API, of which only log4j-api is on the class path; without a
    // provider Log4j prints an error at start. Its simple provider logs nothing below ERROR.
    if (System.getProperty("log4j2.loggerContextFactory") == null) {
      System.setProperty(
          "log4j2.loggerContextFactory",
          "org.apache.logging.log4j.simple.SimpleLoggerContextFactory");
    }
  }

  /** JAAS option values are written unquoted-safe: user names and passwords from this alphabet only. */
  private static final java.util.regex.Pattern CREDENTIAL = java.util.regex.Pattern.compile("[A-Za-z0-9._-]{1,128}");

  /**
   * Users of a SASL/PLAIN broker.
   *
   * @param passwords user name → password; the super user must be among them
   * @param superUser the user allowed everything without ACLs (creates topics, writes ACLs)
   */
  public record SaslUsers(Map<String, String> passwords, String superUser) {
    public SaslUsers {
      passwords = Map.copyOf(passwords);
      if (!passwords.containsKey(superUser)) {
        throw new IllegalArgumentException("the super user '" + superUser + "' needs a password");
      }
      passwords.forEach((user, password) -> {
        if (!CREDENTIAL.matcher(user).matches() || !CREDENTIAL.matcher(password).matches()) {
          throw new IllegalArgumentException("user names and passwords use 1 to 128 of A-Z a-z 0-9 . _ - (user '"
              + (CREDENTIAL.matcher(user).matches() ? user : "?") + "')");
        }
      });
    }

    @Override
    public String toString() {
      return "SaslUsers[" + passwords.keySet() + ", super user " + superUser + "]";
    }
  }

  private static final String JAAS_PROPERTY = "listener.name.sasl_plaintext.plain.sasl.jaas.config";

  private final Path dataDir;
  private final int port;
  private final KafkaRaftServer server;
  private final SaslUsers sasl;
  private boolean closed;

  private EmbeddedKafkaBroker(Path dataDir, int port, KafkaRaftServer server, SaslUsers sasl) {
    this.dataDir = dataDir;
    this.port = port;
    this.server = server;
    this.sasl = sasl;
  }

  /**
   * Formats {@code dataDir} when it holds no Kafka storage yet, then starts the broker and
   * returns once it accepts clients.
   */
  public static EmbeddedKafkaBroker start(Path dataDir, int port) {
    return start(dataDir, port, null);
  }

  /**
   * As {@link #start(Path, int)}, with clients authenticated by SASL/PLAIN as one of {@code users}
   * and authorized by ACLs. Clients connect with {@link #settingsFor}.
   */
  public static EmbeddedKafkaBroker startWithSasl(Path dataDir, int port, SaslUsers users) {
    return start(dataDir, port, java.util.Objects.requireNonNull(users, "users"));
  }

  private static EmbeddedKafkaBroker start(Path dataDir, int port, SaslUsers sasl) {
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port must be 0..65535, got " + port);
    }
    long started = System.nanoTime();
    Path dir = dataDir.toAbsolutePath().normalize();
    Path logDir = dir.resolve("kraft-logs");
    try {
      Files.createDirectories(logDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create Kafka data directory " + dir, e);
    }
    int brokerPort;
    int controllerPort;
    if (port == 0) {
      int[] ports = twoFreePorts();
      brokerPort = ports[0];
      controllerPort = ports[1];
    } else {
      brokerPort = port;
      controllerPort = freePortOtherThan(port);
    }
    Properties props = serverProperties(logDir, brokerPort, controllerPort);
    if (sasl != null) {
      props.putAll(saslProperties(brokerPort, controllerPort, sasl));
    }
    boolean formatted = Files.exists(logDir.resolve("meta.properties"));
    if (!formatted) {
      // The file written for formatting stays on disk: it gets no passwords.
      Properties formatProps = new Properties();
      formatProps.putAll(props);
      formatProps.remove(JAAS_PROPERTY);
      format(dir, formatProps);
    }
    KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
    try {
      server.startup();
    } catch (RuntimeException e) {
      shutdownQuietly(server);
      throw new IllegalStateException(
          "Kafka broker failed to start on " + HOST + ":" + brokerPort + " (data in " + dir + "): "
              + e.getMessage(), e);
    }
    LOG.info("Kafka broker started at {}:{} in {} ms ({} data in {}{})",
        HOST, brokerPort, Duration.ofNanos(System.nanoTime() - started).toMillis(),
        formatted ? "existing" : "new", dir, sasl == null ? "" : ", SASL/PLAIN with ACLs");
    return new EmbeddedKafkaBroker(dir, brokerPort, server, sasl);
  }

  /** {@code 127.0.0.1:PORT}. */
  public String bootstrapServers() {
    return HOST + ":" + port;
  }

  public int port() {
    return port;
  }

  public Path dataDir() {
    return dataDir;
  }

  /** Client settings pointing at this broker (without credentials). */
  public KafkaSettings settings() {
    return KafkaSettings.of(bootstrapServers());
  }

  /** Client settings that authenticate as {@code user} with SASL/PLAIN (a broker started with SASL). */
  public KafkaSettings settingsFor(String user, String password) {
    if (sasl == null) {
      throw new IllegalStateException("this broker was started without SASL");
    }
    return new KafkaSettings(bootstrapServers(), plainClientProperties(user, password));
  }

  /** The client properties of SASL/PLAIN over plaintext as {@code user}. */
  public static Map<String, String> plainClientProperties(String user, String password) {
    return Map.of(
        "security.protocol", "SASL_PLAINTEXT",
        "sasl.mechanism", "PLAIN",
        "sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
            + user + "\" password=\"" + password + "\";");
  }

  /** Stops the broker and waits until it has shut down; the data stays on disk. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    server.shutdown();
    server.awaitShutdown();
    LOG.info("Kafka broker at {} stopped", bootstrapServers());
  }

  private static Properties serverProperties(Path logDir, int brokerPort, int controllerPort) {
    Properties p = new Properties();
    p.put("process.roles", "broker,controller");
    p.put("node.id", Integer.toString(NODE_ID));
    // A static voter set: the controller port may change between starts.
    p.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
    p.put("listeners", "PLAINTEXT://" + HOST + ":" + brokerPort + ",CONTROLLER://" + HOST + ":"
        + controllerPort);
    p.put("advertised.listeners", "PLAINTEXT://" + HOST + ":" + brokerPort);
    p.put("controller.listener.names", "CONTROLLER");
    p.put("inter.broker.listener.name", "PLAINTEXT");
    p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.put("log.dirs", logDir.toString());
    p.put("metadata.log.dir", logDir.toString());
    // One node: every replication factor and min ISR is 1.
    p.put("default.replication.factor", "1");
    p.put("min.insync.replicas", "1");
    p.put("offsets.topic.replication.factor", "1");
    p.put("offsets.topic.num.partitions", "4");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("transaction.state.log.num.partitions", "4");
    p.put("share.coordinator.state.topic.replication.factor", "1");
    p.put("share.coordinator.state.topic.min.isr", "1");
    p.put("num.partitions", "1");
    p.put("group.initial.rebalance.delay.ms", "0");
    // Adapter snapshots and checkpoints are up to 50 MiB.
    p.put("message.max.bytes", Integer.toString(KafkaSettings.MAX_REQUEST_BYTES));
    p.put("replica.fetch.max.bytes", Integer.toString(KafkaSettings.MAX_FETCH_BYTES));
    // The cleaner's dedupe buffer defaults to 128 MiB of heap; a dev broker needs far less.
    p.put("log.cleaner.dedupe.buffer.size", Integer.toString(16 * 1024 * 1024));
    p.put("log.flush.interval.messages", Long.toString(Long.MAX_VALUE));
    return p;
  }

  /**
   * The client listener as SASL_PLAINTEXT with PLAIN (users from the listener's JAAS config), the
   * broker's own connections as the super user, and the StandardAuthorizer. Names are those of
   * Kafka 4.x KRaft brokers.
   */
  private static Properties saslProperties(int brokerPort, int controllerPort, SaslUsers sasl) {
    Properties p = new Properties();
    p.put("listeners", "SASL_PLAINTEXT://" + HOST + ":" + brokerPort + ",CONTROLLER://" + HOST + ":" + controllerPort);
    p.put("advertised.listeners", "SASL_PLAINTEXT://" + HOST + ":" + brokerPort);
    p.put("inter.broker.listener.name", "SASL_PLAINTEXT");
    p.put("listener.security.protocol.map", "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.put("sasl.enabled.mechanisms", "PLAIN");
    p.put("sasl.mechanism.inter.broker.protocol", "PLAIN");
    StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required")
        .append(" username=\"").append(sasl.superUser()).append('"')
        .append(" password=\"").append(sasl.passwords().get(sasl.superUser())).append('"');
    sasl.passwords().forEach((user, password) ->
        jaas.append(" user_").append(user).append("=\"").append(password).append('"'));
    p.put(JAAS_PROPERTY, jaas.append(';').toString());
    p.put("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
    p.put("super.users", "User:" + sasl.superUser() + ";User:ANONYMOUS");
    p.put("allow.everyone.if.no.acl.found", "false");
    return p;
  }

  /** Writes meta.properties and the bootstrap metadata, as {@code kafka-storage.sh format} does. */
  private static void format(Path dir, Properties props) {
    Path config = dir.resolve("server.properties");
    try (OutputStream out = Files.newOutputStream(config)) {
      props.store(out, "written by lorastream to format this directory");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + config, e);
    }
    String clusterId = Uuid.randomUuid().toString();
    ByteArrayOutputStream output = new ByteArrayOutputStream();
    int rc;
    try (PrintStream print = new PrintStream(output, true, StandardCharsets.UTF_8)) {
      rc = StorageTool.execute(
          new String[] {"format", "-t", clusterId, "-c", config.toString()}, print);
    } catch (RuntimeException e) {
      throw new IllegalStateException("formatting Kafka storage in " + dir + " failed: "
          + e.getMessage() + " " + output.toString(StandardCharsets.UTF_8).strip(), e);
    }
    if (rc != 0) {
      throw new IllegalStateException("formatting Kafka storage in " + dir + " failed (exit " + rc
          + "): " + output.toString(StandardCharsets.UTF_8).strip());
    }
    LOG.debug("Formatted {}: {}", dir, output.toString(StandardCharsets.UTF_8).strip());
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free TCP port on " + HOST, e);
    }
  }

  /**
   * Two distinct free ports, for the client and controller listeners: the first socket stays open
   * while the second is taken, since two ports taken one after another can be the same one (Kafka
   * then refuses both listeners).
   */
  private static int[] twoFreePorts() {
    try (ServerSocket first = new ServerSocket(0, 1, InetAddress.getByName(HOST));
        ServerSocket second = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      return new int[] {first.getLocalPort(), second.getLocalPort()};
    } catch (IOException e) {
      throw new UncheckedIOException("no free TCP ports on " + HOST, e);
    }
  }

  /** A free port that is not {@code taken} (the client port a caller chose, which may be free now). */
  private static int freePortOtherThan(int taken) {
    for (int attempt = 0; attempt < 100; attempt++) {
      int candidate = freePort();
      if (candidate != taken) {
        return candidate;
      }
    }
    throw new IllegalStateException("no free TCP port on " + HOST + " other than " + taken);
  }

  private static void shutdownQuietly(KafkaRaftServer server) {
    try {
      server.shutdown();
      server.awaitShutdown();
    } catch (RuntimeException e) {
      LOG.warn("Kafka broker did not shut down cleanly after a failed start", e);
    }
  }
}
