"""Prints crimpd's own latency summary (admin API /v1/latency JSON on stdin):
every CRI call per backend, then the backend calls those caused."""
import json
import sys


def main():
    d = json.load(sys.stdin)
    print(f"  {'CRI call':<22} {'backend':<16} {'code':<10} {'count':>5} {'p50 ms':>9} {'p99 ms':>9}")
    for s in sorted(d["calls"], key=lambda s: (s["method"], s["backend"])):
        print(f"  {s['method']:<22} {s['backend']:<16} {s['code']:<10} {s['count']:>5}"
              f" {s['p50'] * 1e3:>9.2f} {s['p99'] * 1e3:>9.2f}")
    if d["subcalls"]:
        print(f"\n  {'backend call':<56} {'count':>5} {'p50 ms':>9}")
        for s in sorted(d["subcalls"], key=lambda s: (s["backend"], s["call"])):
            name = f"{s['backend']}: {s['kind']} {s['call']}"
            print(f"  {name:<56} {s['count']:>5} {s['p50'] * 1e3:>9.2f}")


if __name__ == "__main__":
    main()
