package io.lorastream.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * Captures every logback event (formatted message, arguments' text, exception messages and stack
 * frames) while open, with the named loggers turned down to the given level so that debug output
 * is inspected too; restores the levels on close.
 *
 * <pre>{@code try (LogCapture logs = LogCapture.start(Map.of("io.lorastream", Level.DEBUG))) { ... logs.text() }}</pre>
 */
public final class LogCapture implements AutoCloseable {
  private final LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
  private final Map<String, Level> previous = new HashMap<>();
  private final List<String> lines = new ArrayList<>();
  private final AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
    @Override
    protected void append(ILoggingEvent event) {
      StringBuilder line = new StringBuilder(event.getLoggerName()).append(' ').append(event.getFormattedMessage());
      for (IThrowableProxy t = event.getThrowableProxy(); t != null; t = t.getCause()) {
        line.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
      }
      synchronized (lines) {
        lines.add(line.toString());
      }
    }
  };

  private LogCapture(Map<String, Level> levels) {
    levels.forEach((name, level) -> {
      Logger logger = context.getLogger(name);
      previous.put(name, logger.getLevel());
      logger.setLevel(level);
    });
    appender.setContext(context);
    appender.start();
    context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(appender);
  }

  public static LogCapture start(Map<String, Level> levels) {
    return new LogCapture(levels);
  }

  /** Everything captured so far, one event per line. */
  public String text() {
    synchronized (lines) {
      return String.join("\n", lines);
    }
  }

  public int events() {
    synchronized (lines) {
      return lines.size();
    }
  }

  @Override
  public void close() {
    context.getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(appender);
    appender.stop();
    previous.forEach((name, level) -> context.getLogger(name).setLevel(level));
  }
}
