package io.lorastream.quality;

/**
 * A question a tenant never trained on, asking for one of its facts.
 *
 * @param prompt the full prompt ({@code "Question: ...\nAnswer:"})
 * @param expected the fact value a correct answer contains
 */
public record HeldOutQuestion(String tenant, FactKind fact, String prompt, String expected) {}
