package io.lorastream.quality;

/**
 * A question asking a tenant for one of its facts: a held-out paraphrase (never trained on) or,
 * to tell "did not learn" from "did not generalise", a paraphrase its examples use.
 *
 * @param prompt the full prompt ({@code "Question: ...\nAnswer:"})
 * @param expected the fact value a correct answer contains
 */
public record FactQuestion(String tenant, FactKind fact, String prompt, String expected) {}
