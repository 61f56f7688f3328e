package io.lorastream.quality;

import java.util.ArrayList;
import java.util.List;

/**
 * The tenants split, in dataset order, into a few groups of consecutive tenants, so a learning
 * curve can show how each part of the tenant population moves without one line per tenant.
 */
final class TenantGroups {
  /** Tenants per group: 20 tenants give four lines. */
  static final int GROUP_SIZE = 5;

  private TenantGroups() {}

  /** One group's mean examples seen and accuracy at a curve point, and its worst canary change (NaN: none yet). */
  record Sample(double examplesSeen, double accuracy, double worstCanaryChange) {}

  /** Tenants {@code first}..{@code last} (1-based, for the legend) of the dataset. */
  record Group(int first, int last, List<String> tenants) {
    String name() {
      return "tenants " + first + "-" + last;
    }

    Sample sample(CurvePoint point) {
      double seen = 0;
      double accuracy = 0;
      double worstCanary = Double.NaN;
      for (String tenant : tenants) {
        CurvePoint.TenantSample t = point.tenants().get(tenant);
        seen += t.examplesSeen();
        accuracy += t.accuracy();
        if (!Double.isNaN(t.canaryChange()) && !(t.canaryChange() <= worstCanary)) {
          worstCanary = t.canaryChange();
        }
      }
      return new Sample(seen / tenants.size(), accuracy / tenants.size(), worstCanary);
    }
  }

  static List<Group> of(List<String> tenants) {
    List<Group> out = new ArrayList<>();
    for (int from = 0; from < tenants.size(); from += GROUP_SIZE) {
      int to = Math.min(tenants.size(), from + GROUP_SIZE);
      out.add(new Group(from + 1, to, List.copyOf(tenants.subList(from, to))));
    }
    return out;
  }
}
