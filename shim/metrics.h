/* What the recorder knows, rendered for people and programs: Prometheus
 * text exposition (format 0.0.4) and JSON for crimpctl and the admin API.  */
#ifndef CRIMP_METRICS_H
#define CRIMP_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "recorder.h"

/* Writes every series as Prometheus text to OUT.  */
void crimp_metrics_prometheus(struct crimp_recorder *r, FILE *out);

/* Writes S as a Prometheus label value (backslash, quote, newline escaped).  */
void crimp_prom_escape(FILE *out, const char *s);

struct crimp_router;
/* What a cutover is about, per backend: pods and containers it owns,
 * whether it is the default and whether it drains; crimp_backend_info
 * names its type.  From the router's tables: no backend is called.  */
void crimp_metrics_backends(struct crimp_router *router, FILE *out);
/* The process's own CPU, memory, file descriptors and threads, under the
 * names Prometheus client libraries use (process_*).  */
void crimp_metrics_process(FILE *out);

/* Per series count, sum and p50/p90/p99/max in seconds (new reference).  */
/* CDF: also each call series' share of calls under a ladder of durations.  */
json_t *crimp_metrics_latency_json(struct crimp_recorder *r, bool cdf);

/* One finished call with its spans (new reference).  */
json_t *crimp_metrics_call_json(const struct crimp_recorder *r,
                                const struct crimp_call_record *rec);

#endif
