package io.lorastream.quality;

/** A held-out question with the answer a model generated for it. */
public record AnsweredQuestion(FactQuestion question, String answer) {}
