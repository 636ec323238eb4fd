#!/usr/bin/env python3
"""Writes crimp's two Grafana dashboards from one description:

  crimp-node.json   one node (variable `instance`): where its pods are,
                    which backend is the default, A/B latency per method
                    and backend, errors, the backend calls behind them, and
                    what crimpd costs the node;
  crimp-fleet.json  every node scraped (by `instance`): the cutover's
                    progress across the fleet, latency and error ratio per
                    backend, crimpd's cost per node.

Run it after changing a panel; the e2e suite (tests/e2e/test_dashboard.py)
queries every panel's expression against a real Prometheus scraping a real
crimpd, so a renamed metric breaks a test, not an operator's dashboard.
Import the JSON files in Grafana (Dashboards → Import) and pick the
Prometheus data source."""
import json
import os

RATE = "$__rate_interval"
SEL = 'instance=~"$instance"'


def panel(title, exprs, kind="timeseries", unit="short", legend="{{backend}}", w=12, h=8,
          description=""):
    return {"title": title, "type": kind, "description": description,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "gridPos": {"w": w, "h": h},
            "targets": [{"refId": chr(ord("A") + i), "expr": e,
                         "legendFormat": legend if isinstance(legend, str) else legend[i]}
                        for i, e in enumerate(exprs)]}


def quantile(q, metric, by, sel):
    return (f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate({metric}_bucket{{{sel}}}[{RATE}])))")


NODE = [
    panel("Pods per backend", [f"sum by (backend) (crimp_backend_pods{{{SEL}}})"],
          description="Cutover progress: old pods stay on the backend that made them."),
    panel("Containers per backend", [f"sum by (backend) (crimp_backend_containers{{{SEL}}})"]),
    panel("Default backend (new pods go here)",
          [f"max by (backend) (crimp_backend_default{{{SEL}}})"], kind="stat", w=6, h=4),
    panel("Draining backends", [f"max by (backend) (crimp_backend_draining{{{SEL}}})"],
          kind="stat", w=6, h=4),
    panel("CRI calls per second by backend",
          [f"sum by (backend) (rate(crimp_cri_call_duration_seconds_count{{{SEL}}}[{RATE}]))"],
          unit="reqps", w=6, h=4),
    panel("CRI calls in flight", [f"sum(crimp_cri_calls_in_flight{{{SEL}}})"], kind="stat",
          legend="in flight", w=6, h=4),
    panel("p50 latency by method and backend (A/B)",
          [quantile(0.5, "crimp_cri_call_duration_seconds", "method, backend", SEL)],
          unit="s", legend="{{method}} via {{backend}}", w=24, h=10),
    panel("p99 latency by method and backend (A/B)",
          [quantile(0.99, "crimp_cri_call_duration_seconds", "method, backend", SEL)],
          unit="s", legend="{{method}} via {{backend}}", w=24, h=10),
    panel("Errors per second by method, backend and code",
          [f"sum by (method, backend, code) (rate(crimp_cri_call_duration_seconds_count"
           f"{{{SEL},code!=\"OK\"}}[{RATE}]))"],
          unit="reqps", legend="{{method}} via {{backend}}: {{code}}"),
    panel("Backend calls behind the CRI calls (p50)",
          [quantile(0.5, "crimp_backend_subcall_duration_seconds", "backend, kind, call", SEL)],
          unit="s", legend="{{backend}} {{kind}} {{call}}"),
    panel("crimpd CPU", [f"rate(process_cpu_seconds_total{{{SEL}}}[{RATE}])"],
          unit="percentunit", legend="cpu", w=6),
    panel("crimpd memory (RSS)", [f"process_resident_memory_bytes{{{SEL}}}"], unit="bytes",
          legend="rss", w=6),
    panel("crimpd open file descriptors", [f"process_open_fds{{{SEL}}}"], legend="fds", w=6),
    panel("crimpd threads", [f"crimp_process_threads{{{SEL}}}"], legend="threads", w=6),
]

FLEET = [
    panel("Nodes by default backend", ["count by (backend) (crimp_backend_default == 1)"],
          description="How many nodes send new pods to each backend."),
    panel("Pods per backend, whole fleet", ["sum by (backend) (crimp_backend_pods)"]),
    panel("Share of pods per backend",
          ["sum by (backend) (crimp_backend_pods) / scalar(sum(crimp_backend_pods))"],
          unit="percentunit"),
    panel("Nodes with a draining backend", ["count by (backend) (crimp_backend_draining == 1)"
                                            " or on() vector(0)"],
          kind="stat", legend="draining"),
    panel("p99 latency per backend", [quantile(0.99, "crimp_cri_call_duration_seconds",
                                               "backend", 'instance=~".+"')],
          unit="s", w=24),
    panel("Error ratio per backend",
          [f"sum by (backend) (rate(crimp_cri_call_duration_seconds_count{{code!=\"OK\"}}[{RATE}]))"
           f" / sum by (backend) (rate(crimp_cri_call_duration_seconds_count[{RATE}]))"],
          unit="percentunit"),
    panel("crimpd RSS per node", ["process_resident_memory_bytes"], unit="bytes",
          legend="{{instance}}"),
    panel("crimpd CPU per node", [f"rate(process_cpu_seconds_total[{RATE}])"],
          unit="percentunit", legend="{{instance}}"),
]


def layout(panels):
    x = y = row_h = 0
    for i, p in enumerate(panels):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["gridPos"].update(x=x, y=y)
        p["id"] = i + 1
        x, row_h = x + w, max(row_h, h)
    return panels


def dashboard(uid, title, panels, node):
    tmpl = [{"name": "datasource", "type": "datasource", "query": "prometheus",
             "label": "Prometheus"}]
    if node:
        tmpl.append({"name": "instance", "type": "query", "label": "Node",
                     "datasource": {"type": "prometheus", "uid": "${datasource}"},
                     "query": "label_values(crimp_build_info, instance)", "refresh": 2})
    return {"uid": uid, "title": title, "tags": ["crimp", "cri", "kubernetes"],
            "schemaVersion": 38, "version": 1, "editable": True, "refresh": "30s",
            "time": {"from": "now-1h", "to": "now"}, "timezone": "utc",
            "templating": {"list": tmpl}, "panels": layout(panels)}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, d in (("crimp-node.json", dashboard("crimp-node", "crimp: one node", NODE, True)),
                    ("crimp-fleet.json", dashboard("crimp-fleet", "crimp: fleet cutover", FLEET,
                                                   False))):
        with open(os.path.join(here, name), "w") as f:
            json.dump(d, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
