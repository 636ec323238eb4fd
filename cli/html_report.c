/* crimpctl latency --html: one self-contained page (inline SVG, no
 * scripts, no network) with per-method p50/p99 bars by backend and each
 * backend's latency CDF over all its calls.  */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "latency.h"
#include "utils.h"

static const char *const COLORS[LAT_MAX_BACKENDS] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                     "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

/* Log-scale x position of MS within [LO, HI] mapped onto [X0, X0+W].  */
static double xlog(double ms, double lo, double hi, double x0, double w)
{
    if (ms < lo)
        ms = lo;
    return x0 + w * (log10(ms) - log10(lo)) / (log10(hi) - log10(lo));
}

static void ms_range(const struct lat_report *r, double *lo, double *hi)
{
    *lo = 1e9, *hi = 0;
    for (size_t i = 0; i < r->n_rows; i++)
        for (size_t b = 0; b < r->n_backends; b++) {
            const struct lat_cell *c = &r->rows[i].cell[b];
            if (c->count == 0)
                continue;
            *lo = fmin(*lo, c->p50);
            *hi = fmax(*hi, c->p99);
        }
    *lo = pow(10, floor(log10(*lo > 0 && *lo < 1e9 ? *lo : 0.01)));
    *hi = pow(10, ceil(log10(*hi > 0 ? *hi : 1)));
    if (*hi <= *lo)
        *hi = *lo * 10;
}

static void axis_ticks(FILE *f, double lo, double hi, double x0, double w, double y0, double h)
{
    for (double t = lo; t <= hi * 1.0001; t *= 10) {
        double x = xlog(t, lo, hi, x0, w);
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>", x, y0, x, y0 + h);
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle'>%g ms</text>\n", x,
                y0 + h + 14, t);
    }
}

static void legend(FILE *f, const struct lat_report *r, double x, double y)
{
    for (size_t b = 0; b < r->n_backends; b++)
        fprintf(f,
                "<rect x='%.1f' y='%.1f' width='12' height='12' fill='%s'/>"
                "<text x='%.1f' y='%.1f' font-size='12'>%s</text>\n",
                x + (double)b * 160, y, COLORS[b], x + (double)b * 160 + 16, y + 11, r->backends[b]);
}

/* One row per method; per backend a bar to p50 and a whisker to p99.  */
static void bars_svg(FILE *f, const struct lat_report *r)
{
    double lo, hi;
    ms_range(r, &lo, &hi);
    const double x0 = 190, w = 620, row_h = 10.0 * (double)r->n_backends + 10, top = 30;
    double h = row_h * (double)r->n_rows;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='860' height='%.0f' "
               "font-family='sans-serif'>\n", h + top + 40);
    legend(f, r, x0, 6);
    axis_ticks(f, lo, hi, x0, w, top, h);
    for (size_t i = 0; i < r->n_rows; i++) {
        double y = top + row_h * (double)i;
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='12' text-anchor='end'>%s</text>\n", x0 - 6,
                y + row_h / 2 + 4, r->rows[i].method);
        for (size_t b = 0; b < r->n_backends; b++) {
            const struct lat_cell *c = &r->rows[i].cell[b];
            if (c->count == 0)
                continue;
            double by = y + 5 + 10.0 * (double)b;
            double x50 = xlog(c->p50, lo, hi, x0, w), x99 = xlog(c->p99, lo, hi, x0, w);
            fprintf(f,
                    "<rect x='%.1f' y='%.1f' width='%.1f' height='8' fill='%s'>"
                    "<title>%s %s: p50 %.3f ms, p99 %.3f ms, %lld calls</title></rect>"
                    "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' stroke-width='2'/>\n",
                    x0, by, x50 - x0, COLORS[b], r->rows[i].method, r->backends[b], c->p50, c->p99,
                    c->count, x50, by + 4, x99, by + 4, COLORS[b]);
        }
    }
    fprintf(f, "</svg>\n");
}

/* Each backend's share of calls under each duration, over all methods.  */
static void cdf_svg(FILE *f, const struct lat_report *r)
{
    const double x0 = 60, w = 740, top = 30, h = 260, lo = 0.01, hi = 300000;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='860' height='%.0f' "
               "font-family='sans-serif'>\n", h + top + 40);
    legend(f, r, x0, 6);
    axis_ticks(f, lo, hi, x0, w, top, h);
    for (int p = 0; p <= 4; p++) {
        double y = top + h - h * p / 4.0;
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>"
                   "<text x='%.1f' y='%.1f' font-size='11' text-anchor='end'>%d%%</text>\n",
                x0, y, x0 + w, y, x0 - 4, y + 4, p * 25);
    }
    for (size_t b = 0; b < r->n_backends; b++) {
        /* Weighted sum of every method's CDF, at the shared points.  */
        double share[64] = {0}, ms[64] = {0}, total = 0;
        size_t npts = 0;
        for (size_t i = 0; i < r->n_rows; i++) {
            const struct lat_cell *c = &r->rows[i].cell[b];
            if (c->count == 0 || c->cdf == NULL)
                continue;
            total += (double)c->count;
            size_t k;
            json_t *pt;
            json_array_foreach (c->cdf, k, pt) {
                if (k >= 64)
                    break;
                ms[k] = json_real_value(json_array_get(pt, 0));
                share[k] += json_real_value(json_array_get(pt, 1)) * (double)c->count;
                npts = k + 1 > npts ? k + 1 : npts;
            }
        }
        if (total == 0)
            continue;
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", COLORS[b]);
        for (size_t k = 0; k < npts; k++)
            fprintf(f, "%.1f,%.1f ", xlog(ms[k], lo, hi, x0, w), top + h - h * share[k] / total);
        fprintf(f, "'><title>%s</title></polyline>\n", r->backends[b]);
    }
    fprintf(f, "</svg>\n");
}

static void table_html(FILE *f, const struct lat_report *r)
{
    fprintf(f, "<table><tr><th>method</th>");
    for (size_t b = 0; b < r->n_backends; b++)
        fprintf(f, "<th>%s n</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th>", r->backends[b]);
    for (size_t b = 1; b < r->n_backends; b++)
        fprintf(f, "<th>p50 %s / %s</th>", r->backends[b], r->backends[0]);
    fprintf(f, "</tr>\n");
    for (size_t i = 0; i < r->n_rows; i++) {
        fprintf(f, "<tr><td>%s</td>", r->rows[i].method);
        for (size_t b = 0; b < r->n_backends; b++) {
            const struct lat_cell *c = &r->rows[i].cell[b];
            if (c->count)
                fprintf(f, "<td>%lld</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>", c->count, c->p50,
                        c->p90, c->p99);
            else
                fprintf(f, "<td>-</td><td></td><td></td><td></td>");
        }
        for (size_t b = 1; b < r->n_backends; b++) {
            const struct lat_cell *a = &r->rows[i].cell[0], *c = &r->rows[i].cell[b];
            if (a->count && c->count && a->p50 > 0)
                fprintf(f, "<td><b>%.2f&times;</b></td>", c->p50 / a->p50);
            else
                fprintf(f, "<td>-</td>");
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

int lat_report_html(const struct lat_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "crimpctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, "<!doctype html><html><head><meta charset='utf-8'><title>crimp latency</title>"
               "<style>body{font-family:sans-serif;margin:24px;color:#222}"
               "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
               "padding:3px 8px;text-align:right}td:first-child{text-align:left}"
               "h2{margin-top:28px}</style></head><body>\n");
    fprintf(f, "<h1>CRI call latency by backend</h1><p>measured by crimpd, %s. Bars: median; "
               "whiskers: 99th percentile (log scale).</p>\n", when);
    fprintf(f, "<h2>p50 and p99 per CRI method</h2>\n");
    bars_svg(f, r);
    fprintf(f, "<h2>Latency CDF per backend (all methods)</h2>\n");
    cdf_svg(f, r);
    fprintf(f, "<h2>Figures</h2>\n");
    table_html(f, r);
    fprintf(f, "</body></html>\n");
    return fclose(f) == 0 ? 0 : -1;
}
