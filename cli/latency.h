/* crimpctl latency: crimpd's latency summary per method, backends side by
 * side.  Shared by the table (cmd_latency.c) and the HTML report
 * (html_report.c).  */
#ifndef CRIMP_CLI_LATENCY_H
#define CRIMP_CLI_LATENCY_H

#include <jansson.h>
#include <stddef.h>

#define LAT_MAX_BACKENDS 8

struct lat_cell {
    long long count, errors;
    double p50, p90, p99; /* ms; only OK calls */
    json_t *cdf;          /* [[ms, share], ...] of OK calls, borrowed */
};

struct lat_row {
    const char *method;
    struct lat_cell cell[LAT_MAX_BACKENDS];
};

struct lat_report {
    const char *backends[LAT_MAX_BACKENDS];
    size_t n_backends;
    struct lat_row *rows;
    size_t n_rows;
    json_t *doc; /* owns every string above */
};

/* Builds the report from /v1/latency?cdf=1; ORDER (comma list, may be NULL)
 * fixes the backend columns.  */
void lat_report_build(struct lat_report *r, json_t *doc, const char *order);
void lat_report_free(struct lat_report *r);

/* Writes a self-contained HTML page with SVG charts to PATH.  */
int lat_report_html(const struct lat_report *r, const char *path);

#endif
