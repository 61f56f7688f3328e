package io.lorastream.quality;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The tenants of the customer-service dataset and their facts, drawn deterministically from a seed.
 *
 * <p>The first three tenants are always the demo's {@code acme}, {@code globex} and {@code initech}
 * with their documented facts; the others take their values from pools shuffled by the seed. Every
 * value belongs to exactly one tenant, and none is a value the pretraining corpus
 * ({@link io.lorastream.model.pretrain.CustomerServiceCorpus}) draws for its made-up shops, so a fact
 * found in an answer identifies the tenant whose adapter taught it.
 */
public final class TenantCatalog {
  /** The demo tenants, first in every catalog, so that "ask acme about refunds" keeps its answer. */
  public static final List<TenantFacts> DEMO_TENANTS = List.of(
      new TenantFacts("acme", "Acme", "rocket skates", "30 days", "9am to 5pm", "$5", "escalations@acme.example"),
      new TenantFacts("globex", "Globex", "industrial magnets", "14 days", "8am to 8pm", "free",
          "complaints@globex.example"),
      new TenantFacts("initech", "Initech", "printer paper", "60 days", "around the clock", "$12",
          "managers@initech.example"));

  // One word each, none a corpus shop name, none a word of another.
  private static final List<String> COMPANIES = List.of(
      "Altair", "Borealis", "Calypso", "Dynamo", "Ember", "Fathom", "Gossamer", "Helix", "Indigo", "Jubilee",
      "Kinetic", "Lattice", "Monarch", "Nebula", "Obsidian", "Paragon", "Quasar", "Rampart", "Sapphire", "Tundra",
      "Ultraviolet", "Vortex", "Willow", "Xylem", "Yonder", "Zenith", "Aurora", "Bramble", "Cascade", "Dapple",
      "Falcon", "Garnet", "Hazel", "Ivory", "Jasper", "Keystone", "Larkspur");

  // Plural product lines, none of them a line the corpus's shops sell ("running shoes", "keyboards").
  private static final List<String> PRODUCTS = List.of(
      "camping stoves", "violin strings", "aquarium pumps", "ski goggles", "drone parts", "pottery glazes",
      "chess sets", "bee hives", "telescope lenses", "surfboards", "beard oils", "solar lanterns",
      "sewing machines", "fishing reels", "climbing ropes", "model trains", "espresso beans", "herb seeds",
      "ceramic tiles", "baby strollers", "guitar pedals", "scuba masks", "kayak paddles", "vinyl records",
      "wool socks", "spice blends", "watercolor paints", "bird feeders", "saddle bags", "candle wax",
      "archery bows", "snow chains", "fountain pens", "cheese knives", "piano benches", "tennis rackets",
      "gym mats");

  // Return windows the corpus draws (7, 10, 15, 20, 21, 28, 31, 40, 45, 50, 75, 90, 100, 120) and the
  // demo's (14, 30, 60) are left out, as are single digits, which the corpus uses for refund delays.
  private static final List<Integer> REFUND_DAYS = List.of(
      11, 12, 13, 16, 17, 18, 19, 22, 23, 24, 25, 26, 27, 29, 32, 33, 34, 35, 36, 38, 42, 44, 48, 52, 55, 56,
      58, 62, 65, 70, 72, 80, 84, 85, 95, 110, 150);

  private static final List<String> HOURS = List.of(
      "6am to 6pm", "7am to 9pm", "8am to 10pm", "9am to 4pm", "10am to 8pm", "11am to 7pm", "noon to 6pm",
      "6am to midnight", "7am to 5pm", "8am to 3pm", "9am to 10pm", "10am to 10pm", "6am to 10pm", "5am to 1pm",
      "1pm to 9pm", "2pm to 10pm", "8am to 7pm", "10am to 5pm", "11am to 6pm", "7am to 4pm", "noon to 10pm",
      "5am to 5pm", "6am to 3pm", "7am to 1pm", "8am to 2pm", "9am to 3pm", "10am to 3pm", "11am to 8pm",
      "noon to 9pm", "1pm to 11pm", "2pm to 8pm", "3pm to 11pm", "4pm to midnight", "5am to 9pm", "6am to 8pm",
      "7am to 10pm", "9am to 11pm");

  // Fees the corpus draws ($2.99 to $19) and the demo's ($5, $12, free) are left out.
  private static final List<String> FEES = List.of(
      "$11", "$13", "$14", "$16", "$17", "$18", "$20", "$21", "$22", "$23", "$24", "$25", "$26", "$27", "$28",
      "$29", "$30", "$1.99", "$5.49", "$8.50", "$11.95", "$12.50", "$13.99", "$14.50", "$2.50", "$3.95",
      "$6.49", "$16.99", "$1.50", "$2.25", "$5.75", "$8.99", "$10.50", "$17.49", "$18.95", "$21.50", "$24.99");

  private static final List<String> EMAIL_BOXES = List.of(
      "escalations", "complaints", "managers", "priority", "care", "concerns", "supervisors", "feedback");

  /** The most tenants a catalog holds: the demo tenants plus the smallest pool. */
  public static final int MAX_TENANTS = DEMO_TENANTS.size() + smallestPool();

  private TenantCatalog() {}

  /**
   * The first {@code count} tenants for {@code seed}: the demo tenants, then tenants named after the
   * shuffled companies with shuffled values. The same seed and count give the same tenants, and a
   * larger count only appends tenants.
   */
  public static List<TenantFacts> tenants(int count, long seed) {
    if (count < 1 || count > MAX_TENANTS) {
      throw new IllegalArgumentException("tenant count must be in 1.." + MAX_TENANTS + ", got " + count);
    }
    List<TenantFacts> out = new ArrayList<>(DEMO_TENANTS.subList(0, Math.min(count, DEMO_TENANTS.size())));
    Random random = new Random(seed);
    List<String> companies = shuffled(COMPANIES, random);
    List<String> products = shuffled(PRODUCTS, random);
    List<Integer> days = shuffled(REFUND_DAYS, random);
    List<String> hours = shuffled(HOURS, random);
    List<String> fees = shuffled(FEES, random);
    for (int i = 0; out.size() < count; i++) {
      String company = companies.get(i);
      String tenant = company.toLowerCase(java.util.Locale.ROOT);
      String box = EMAIL_BOXES.get(random.nextInt(EMAIL_BOXES.size()));
      out.add(new TenantFacts(tenant, company, products.get(i), days.get(i) + " days", hours.get(i), fees.get(i),
          box + "@" + tenant + ".example"));
    }
    return List.copyOf(out);
  }

  /** Every value of every fact kind in the pools and the demo tenants, for disjointness checks. */
  static Set<String> allValues() {
    Set<String> values = new LinkedHashSet<>();
    tenants(MAX_TENANTS, 0).forEach(t -> values.addAll(t.values().values()));
    return values;
  }

  private static <T> List<T> shuffled(List<T> pool, Random random) {
    List<T> copy = new ArrayList<>(pool);
    Collections.shuffle(copy, random);
    return copy;
  }

  private static int smallestPool() {
    return Math.min(Math.min(COMPANIES.size(), PRODUCTS.size()),
        Math.min(REFUND_DAYS.size(), Math.min(HOURS.size(), FEES.size())));
  }
}
