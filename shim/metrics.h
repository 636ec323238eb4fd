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

/* Per series count, sum and p50/p90/p99/max in seconds (new reference).  */
/* CDF: also each call series' share of calls under a ladder of durations.  */
json_t *crimp_metrics_latency_json(struct crimp_recorder *r, bool cdf);

/* One finished call with its spans (new reference).  */
json_t *crimp_metrics_call_json(const struct crimp_recorder *r,
                                const struct crimp_call_record *rec);

#endif
