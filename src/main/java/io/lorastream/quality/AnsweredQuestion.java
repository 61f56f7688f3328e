package io.lorastream.quality;

/** A held-out question with the answer a model generated for it. */
public record AnsweredQuestion(HeldOutQuestion question, String answer) {}
