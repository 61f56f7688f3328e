package io.lorastream.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates lorastream's topics where they are missing. */
public final class TopicAdmin {
  private static final Logger LOG = LoggerFactory.getLogger(TopicAdmin.class);

  /** How long a broker has to answer before {@link #ensureTopics} gives up. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private TopicAdmin() {}

  /** {@link #ensureTopics(KafkaSettings, Topics, Duration)} with a 30 s timeout. */
  public static void ensureTopics(KafkaSettings settings, Topics topics) {
    ensureTopics(settings, topics, DEFAULT_TIMEOUT);
  }

  /**
   * Creates every topic of {@code topics} that does not exist yet, with min(3, brokers) replicas;
   * existing topics are left as they are. Safe to call from every process at start-up.
   *
   * @throws KafkaUnavailableException when no broker answers within {@code timeout}
   */
  public static void ensureTopics(KafkaSettings settings, Topics topics, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Admin admin;
    try {
      admin = Admin.create(settings.admin());
    } catch (RuntimeException e) {
      throw new KafkaUnavailableException(
          "cannot connect to Kafka at " + settings.bootstrapServers() + ": " + e.getMessage(), e);
    }
    boolean answered = false;
    try {
      Collection<Node> nodes =
          await(admin.describeCluster().nodes(), deadline, settings, timeout);
      short replication = (short) Math.max(1, Math.min(3, nodes.size()));
      List<NewTopic> wanted = new ArrayList<>();
      for (Topic<?, ?> topic : topics.all()) {
        wanted.add(topic.newTopic(replication));
      }
      CreateTopicsResult result =
          admin.createTopics(
              wanted, new CreateTopicsOptions().timeoutMs((int) Math.max(1, remainingMs(deadline))));
      List<String> created = new ArrayList<>();
      for (Map.Entry<String, KafkaFuture<Void>> entry : result.values().entrySet()) {
        try {
          await(entry.getValue(), deadline, settings, timeout);
          created.add(entry.getKey());
        } catch (TopicExistsRuntime e) {
          // Someone (maybe another lorastream process) created it first: fine.
        }
      }
      if (!created.isEmpty()) {
        LOG.info("Created topics {} with replication factor {}", created, replication);
      }
      awaitLeaders(admin, wanted.stream().map(NewTopic::name).toList(), deadline, settings, timeout);
      answered = true;
    } finally {
      // After a failure nothing is worth waiting for.
      admin.close(answered ? Duration.ofSeconds(5) : Duration.ZERO);
    }
  }

  /**
   * Waits until the broker's metadata shows every partition of {@code names} with a leader, and
   * the leaders answer for their partitions (a request for each partition's end offset), so a
   * producer started right after {@link #ensureTopics} finds its topic ready. With the metadata
   * alone, a first send to a topic just created was once refused (NotLeaderOrFollower), and the
   * idempotent producer that sent it retried an out-of-order batch for good.
   */
  private static void awaitLeaders(
      Admin admin, List<String> names, long deadline, KafkaSettings settings, Duration timeout) {
    while (true) {
      try {
        Map<String, TopicDescription> described =
            admin.describeTopics(names).allTopicNames()
                .get(Math.max(1, remainingMs(deadline)), TimeUnit.MILLISECONDS);
        boolean ready =
            described.values().stream()
                .flatMap(d -> d.partitions().stream())
                .allMatch(p -> p.leader() != null && !p.leader().isEmpty());
        if (ready) {
          Map<TopicPartition, OffsetSpec> ends = new HashMap<>();
          described.values().forEach(d -> d.partitions().forEach(
              p -> ends.put(new TopicPartition(d.name(), p.partition()), OffsetSpec.latest())));
          admin.listOffsets(ends).all().get(Math.max(1, remainingMs(deadline)), TimeUnit.MILLISECONDS);
          return;
        }
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof UnknownTopicOrPartitionException
            || e.getCause() instanceof RetriableException)) {
          throw new KafkaUnavailableException(
              "Kafka at " + settings.bootstrapServers() + " cannot describe topics: "
                  + e.getCause().getMessage(), e.getCause());
        }
      } catch (TimeoutException e) {
        throw new KafkaUnavailableException(unreachable(settings, timeout), e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KafkaUnavailableException("interrupted while waiting for Kafka", e);
      }
      if (remainingMs(deadline) <= 0) {
        throw new KafkaUnavailableException(
            "topics " + names + " have no ready leader at " + settings.bootstrapServers() + " after "
                + timeout.toSeconds() + " s", null);
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KafkaUnavailableException("interrupted while waiting for Kafka", e);
      }
    }
  }

  private static <T> T await(
      KafkaFuture<T> future, long deadline, KafkaSettings settings, Duration timeout) {
    try {
      return future.get(Math.max(1, remainingMs(deadline)), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new KafkaUnavailableException(unreachable(settings, timeout), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new KafkaUnavailableException("interrupted while waiting for Kafka", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof TopicExistsException) {
        throw new TopicExistsRuntime();
      }
      if (cause instanceof org.apache.kafka.common.errors.TimeoutException) {
        throw new KafkaUnavailableException(unreachable(settings, timeout), cause);
      }
      throw new KafkaUnavailableException(
          "Kafka at " + settings.bootstrapServers() + " refused: " + cause.getMessage(), cause);
    }
  }

  private static String unreachable(KafkaSettings settings, Duration timeout) {
    return "no Kafka broker answered at " + settings.bootstrapServers() + " within "
        + timeout.toSeconds() + " s — start one with `./lorastream broker`"
        + " or pass --bootstrap-servers";
  }

  private static long remainingMs(long deadline) {
    return TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
  }

  /** Marks a topic that already exists; never leaves this class. */
  private static final class TopicExistsRuntime extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TopicExistsRuntime() {
      super(null, null, false, false);
    }
  }
}
