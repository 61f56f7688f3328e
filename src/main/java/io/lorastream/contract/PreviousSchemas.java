package io.lorastream.contract;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;

/**
 * Earlier versions of the record schemas, kept so that records already on compacted topics
 * (snapshots, checkpoints) stay readable after a field is added. They live as self-contained
 * resources {@code schemas/<Record>-v<n>.avsc} next to this class, numbered from 1 without gaps;
 * when a schema in {@code schemas/} changes, its current form is saved here first as the next
 * version.
 */
final class PreviousSchemas {
  private PreviousSchemas() {}

  /** Every saved earlier schema of {@code type}'s record, oldest first; empty if none. */
  static List<Schema> of(Class<?> type) {
    List<Schema> schemas = new ArrayList<>();
    for (int version = 1; ; version++) {
      String resource = "schemas/" + type.getSimpleName() + "-v" + version + ".avsc";
      try (InputStream in = PreviousSchemas.class.getResourceAsStream(resource)) {
        if (in == null) {
          return schemas;
        }
        schemas.add(new Schema.Parser().parse(in));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + resource, e);
      }
    }
  }
}
