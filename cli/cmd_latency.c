/* crimpctl latency [--backends A,B] [--html FILE]: per CRI method, count
 * and p50/p90/p99 of each backend side by side, and the ratio of each
 * backend's p50 to the first one's — the A/B view of two call chains.  */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "latency.h"
#include "utils.h"

static int find_column(const struct lat_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_backends; i++)
        if (strcmp(r->backends[i], name) == 0)
            return (int)i;
    return -1;
}

static int backend_column(struct lat_report *r, const char *name)
{
    int found = find_column(r, name);
    if (found >= 0 || r->n_backends == LAT_MAX_BACKENDS)
        return found;
    r->backends[r->n_backends] = name;
    return (int)r->n_backends++;
}

static struct lat_row *row_for(struct lat_report *r, const char *method)
{
    for (size_t i = 0; i < r->n_rows; i++)
        if (strcmp(r->rows[i].method, method) == 0)
            return &r->rows[i];
    r->rows = xrealloc(r->rows, (r->n_rows + 1) * sizeof(*r->rows));
    struct lat_row *row = &r->rows[r->n_rows++];
    memset(row, 0, sizeof(*row));
    row->method = method;
    return row;
}

/* The row name of CALL: its method, or "stream/exec" for a streaming
 * session (apart from the CRI Exec call that handed out its URL).  The
 * name is kept in CALL so it lives as long as the report.  */
static const char *row_name(json_t *call)
{
    const char *service = json_string_value(json_object_get(call, "service"));
    const char *method = json_string_value(json_object_get(call, "method"));
    if (service == NULL || method == NULL || strcmp(service, "stream") != 0)
        return method;
    cleanup_free char *name = xasprintf("stream/%s", method);
    json_object_set_new(call, "_row", json_string(name));
    return json_string_value(json_object_get(call, "_row"));
}

void lat_report_build(struct lat_report *r, json_t *doc, const char *order)
{
    memset(r, 0, sizeof(*r));
    r->doc = doc;
    json_t *names = json_array();
    if (order) {
        cleanup_free char *copy = xstrdup(order);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(names, json_string(t));
    }
    json_object_set_new(doc, "_order", names); /* keeps the strings alive */
    size_t i;
    json_t *v;
    json_array_foreach (names, i, v)
        backend_column(r, json_string_value(v));
    json_array_foreach (json_object_get(doc, "calls"), i, v) {
        const char *backend = json_string_value(json_object_get(v, "backend"));
        /* With --backends only those columns, in that order.  */
        int col = order ? find_column(r, backend) : backend_column(r, backend);
        if (col < 0)
            continue;
        struct lat_cell *c = &row_for(r, row_name(v))->cell[col];
        long long n = json_integer_value(json_object_get(v, "count"));
        if (strcmp(json_string_value(json_object_get(v, "code")), "OK") != 0) {
            c->errors += n;
            continue;
        }
        c->count = n;
        c->p50 = json_real_value(json_object_get(v, "p50")) * 1e3;
        c->p90 = json_real_value(json_object_get(v, "p90")) * 1e3;
        c->p99 = json_real_value(json_object_get(v, "p99")) * 1e3;
        c->cdf = json_object_get(v, "cdf_ms");
    }
}

void lat_report_free(struct lat_report *r)
{
    free(r->rows);
    json_decref(r->doc);
}

static void print_table(const struct lat_report *r)
{
    printf("%-26s", "METHOD");
    for (size_t b = 0; b < r->n_backends; b++)
        printf(" | %-16.16s %6s %9s %9s %9s", r->backends[b], "n", "p50 ms", "p90 ms", "p99 ms");
    for (size_t b = 1; b < r->n_backends; b++)
        printf(" | p50 %s/%s", r->backends[b], r->backends[0]);
    putchar('\n');
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct lat_row *row = &r->rows[i];
        printf("%-26s", row->method);
        for (size_t b = 0; b < r->n_backends; b++) {
            const struct lat_cell *c = &row->cell[b];
            if (c->count == 0 && c->errors == 0) {
                printf(" | %-16s %6s %9s %9s %9s", "", "-", "", "", "");
                continue;
            }
            char err[24] = "";
            if (c->errors)
                snprintf(err, sizeof(err), "%lld err", c->errors);
            printf(" | %-16s %6lld %9.2f %9.2f %9.2f", err, c->count, c->p50, c->p90, c->p99);
        }
        for (size_t b = 1; b < r->n_backends; b++) {
            const struct lat_cell *base = &row->cell[0], *c = &row->cell[b];
            if (base->count && c->count && base->p50 > 0)
                printf(" | %*.2fx", (int)(strlen(r->backends[b]) + strlen(r->backends[0]) + 4),
                       c->p50 / base->p50);
            else
                printf(" | %*s", (int)(strlen(r->backends[b]) + strlen(r->backends[0]) + 5), "-");
        }
        putchar('\n');
    }
}

int cli_cmd_latency(struct cli *cli, int argc, char **argv)
{
    const char *order = NULL, *html = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backends") == 0 && i + 1 < argc)
            order = argv[++i];
        else if (strcmp(argv[i], "--html") == 0 && i + 1 < argc)
            html = argv[++i];
        else {
            fprintf(stderr, "crimpctl: usage: crimpctl latency [--backends A,B] [--html FILE]\n");
            return 2;
        }
    }
    json_t *doc = cli_admin_request(cli, "GET", "/v1/latency?cdf=1");
    if (doc == NULL)
        return 1;
    if (cli_structured(cli)) {
        cli_print_doc(cli, doc);
        json_decref(doc);
        return 0;
    }
    struct lat_report r;
    lat_report_build(&r, doc, order);
    int rc = 0;
    if (r.n_rows == 0)
        printf("no calls recorded yet\n");
    else
        print_table(&r);
    if (html) {
        rc = lat_report_html(&r, html);
        if (rc == 0)
            printf("\nwrote %s\n", html);
    }
    lat_report_free(&r);
    return rc < 0 ? 1 : 0;
}
