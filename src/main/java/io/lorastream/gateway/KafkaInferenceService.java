package io.lorastream.gateway;

import io.lorastream.avro.InferenceRequest;
import io.lorastream.avro.InferenceResponse;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.CodecException;
import io.lorastream.contract.TenantId;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Sends;
import io.lorastream.kafka.Topics;
import io.lorastream.model.Completion;
import io.lorastream.model.SamplingParams;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Event-driven inference: answers {@code InferenceRequest}s from the requests topic on the
 * responses topic, keyed by request id. Undecodable requests go to the DLQ with a reason; requests
 * that decode but cannot be served (unknown tenant, bad limits) get a response carrying the error.
 * Offsets are committed only after the responses are acknowledged (at least once: a crash may
 * answer a request twice, never zero times).
 */
final class KafkaInferenceService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KafkaInferenceService.class);
  static final String GROUP_ID = "lorastream-gateway-inference";

  private final KafkaSettings kafka;
  private final Topics topics;
  private final AdapterStore store;
  private final InferenceEngine engine;
  private final GatewaySettings limits;
  private final Thread thread;
  private volatile boolean running = true;
  private volatile KafkaConsumer<String, byte[]> consumer;

  KafkaInferenceService(KafkaSettings kafka, Topics topics, AdapterStore store, InferenceEngine engine,
      GatewaySettings limits) {
    this.kafka = kafka;
    this.topics = topics;
    this.store = store;
    this.engine = engine;
    this.limits = limits;
    this.thread = new Thread(this::run, "lorastream-kafka-inference");
    this.thread.setDaemon(true);
  }

  KafkaInferenceService start() {
    thread.start();
    return this;
  }

  private void run() {
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(kafka.consumer(GROUP_ID), new StringDeserializer(),
            new ByteArrayDeserializer());
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
            new ByteArraySerializer())) {
      consumer = c;
      c.subscribe(List.of(topics.inferenceRequests().name()));
      while (running) {
        ConsumerRecords<String, byte[]> records = c.poll(Duration.ofMillis(200));
        if (records.isEmpty()) {
          continue;
        }
        List<CompletableFuture<?>> sent = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> record : records) {
          sent.add(answer(record, producer));
        }
        CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).join();
        c.commitSync();
      }
    } catch (WakeupException e) {
      if (running) {
        log.error("Kafka inference stopped unexpectedly", e);
      }
    } catch (RuntimeException e) {
      log.error("Kafka inference stopped: {}", e.toString(), e);
    }
  }

  /** Completes when the response (or the dead letter) has been acknowledged by the broker. */
  private CompletableFuture<?> answer(ConsumerRecord<String, byte[]> record, KafkaProducer<String, byte[]> producer) {
    InferenceRequest request;
    try {
      request = AvroCodec.INFERENCE_REQUEST.decode(record.value());
    } catch (CodecException e) {
      ProducerRecord<String, byte[]> dead = new ProducerRecord<>(topics.dlq().name(), record.key(), record.value());
      dead.headers().add(Topics.ERROR_HEADER, e.dlqReason().getBytes(StandardCharsets.UTF_8));
      return Sends.acked(producer, dead);
    }
    InferenceResponse.Builder response = InferenceResponse.newBuilder()
        .setRequestId(request.getRequestId()).setTenant(request.getTenant());
    try {
      Completion completion = generate(request, response);
      response.setText(completion.text()).setPromptTokens(completion.promptTokens())
          .setCompletionTokens(completion.tokenIds().length).setFinishReason(completion.finishReason());
    } catch (ApiException e) {
      response.setError(e.code + ": " + e.getMessage());
    } catch (RuntimeException e) {
      log.warn("request {} failed: {}", request.getRequestId(), e.toString());
      response.setError("internal_error: " + e.getClass().getSimpleName());
    }
    response.setCreatedAt(Instant.now());
    return Sends.acked(producer, new ProducerRecord<>(topics.inferenceResponses().name(), request.getRequestId(),
        AvroCodec.INFERENCE_RESPONSE.encode(response.build())));
  }

  private Completion generate(InferenceRequest request, InferenceResponse.Builder response) {
    if (request.getMaxTokens() < 1 || request.getMaxTokens() > limits.maxTokensLimit()) {
      throw ApiException.badRequest("max_tokens_out_of_range",
          "maxTokens must be between 1 and " + limits.maxTokensLimit() + ", got " + request.getMaxTokens());
    }
    if (request.getPrompt().length() > limits.maxPromptChars()) {
      throw ApiException.badRequest("prompt_too_long", "the limit is " + limits.maxPromptChars() + " characters");
    }
    ServedAdapter adapter = null;
    if (!TenantId.BASE.equals(request.getTenant())) {
      ServedAdapter served = store.get(request.getTenant()).orElseThrow(() -> ApiException.notFound(
          "model_not_found", "no adapter for tenant '" + request.getTenant() + "'"));
      adapter = served;
      response.setAdapterVersion(served.version());
    }
    SamplingParams params;
    try {
      params = new SamplingParams(request.getMaxTokens(), request.getTemperature(), request.getTopP(),
          request.getSeed(), List.copyOf(request.getStop()), null);
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest("invalid_sampling", e.getMessage());
    }
    while (true) {
      try {
        return engine.submit(request.getPrompt(), adapter, params, null).result().join();
      } catch (CompletionException e) {
        if (!(e.getCause() instanceof InferenceEngine.Overloaded)) {
          throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        sleepQuietly(); // the model is busy: Kafka requests wait rather than fail
      }
    }
  }

  private static void sleepQuietly() {
    try {
      Thread.sleep(50);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    running = false;
    KafkaConsumer<String, byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
