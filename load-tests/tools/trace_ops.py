#!/usr/bin/env python3
"""Sums a libtorch profiler Chrome trace per operation: self time (time not spent in a nested
operation of the same thread), total time and calls, largest self time first.

    python3 load-tests/tools/trace_ops.py TRACE.json [top]
"""
import json
import sys
from collections import defaultdict


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
    by_thread = defaultdict(list)
    for e in spans:
        by_thread[e.get("tid")].append(e)
    total = defaultdict(float)
    self_time = defaultdict(float)
    calls = defaultdict(int)
    for thread_spans in by_thread.values():
        thread_spans.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, child time]
        for e in thread_spans:
            while stack and stack[-1][0]["ts"] + stack[-1][0]["dur"] <= e["ts"]:
                done, child = stack.pop()
                self_time[done["name"]] += done["dur"] - child
            if stack:
                stack[-1][1] += e["dur"]
            stack.append([e, 0.0])
            total[e["name"]] += e["dur"]
            calls[e["name"]] += 1
        while stack:
            done, child = stack.pop()
            self_time[done["name"]] += done["dur"] - child
    all_self = sum(self_time.values())
    print(f"{'operation':48s} {'self ms':>9s} {'share':>6s} {'total ms':>9s} {'calls':>7s}")
    for name, t in sorted(self_time.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{name[:48]:48s} {t / 1e3:9.2f} {t / all_self:6.1%} {total[name] / 1e3:9.2f} {calls[name]:7d}")
    print(f"{'all':48s} {all_self / 1e3:9.2f}")


if __name__ == "__main__":
    main()
