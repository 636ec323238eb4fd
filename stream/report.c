/* Every streaming session is a call the latency recorder sees: how long it
 * lasted, when the first byte of output went to the client, the bytes each
 * way, and the backend calls it made (exec create/start, inspect) as spans.
 * The recorder lives in shim/; it listens through the observer crimpd gave
 * crimp_stream_start, so stream/ does not depend on it.  */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "stream-internal.h"
#include "utils.h"

/* Tells the observer, unless crimp_stream_stop has begun: the report is
 * announced before stopping is read, so that stream_reporter_stop either
 * sees it and waits, or this sees the stop.  */
static void tell(struct stream_reporter *rep, const struct crimp_stream_report *report)
{
    atomic_fetch_add(&rep->reporting, 1);
    if (!atomic_load(&rep->stopping)) {
        if (report == NULL && rep->observer.begin)
            rep->observer.begin(rep->observer.ctx);
        else if (report && rep->observer.finish)
            rep->observer.finish(rep->observer.ctx, report);
    }
    atomic_fetch_sub(&rep->reporting, 1);
}

void stream_report_begin(struct stream_reporter *rep, struct stream_conn *c)
{
    c->start_mono_ns = crimp_now_mono_ns();
    c->start_real_ns = crimp_now_real_ns();
    c->trace = xcalloc(1, sizeof(*c->trace));
    c->trace->start_mono_ns = c->start_mono_ns;
    crimp_trace_set_current(c->trace);
    tell(rep, NULL);
}

/* The "first byte" span, named after the transport: its histogram across
 * sessions is the time to first byte per backend.  */
static void trace_first_byte(const struct stream_conn *c)
{
    if (c->first_byte_mono_ns == 0)
        return;
    char name[48];
    snprintf(name, sizeof(name), "%s first byte", c->transport ? c->transport : "stream");
    crimp_trace_span(CRIMP_SPAN_STREAM, name, 0, c->start_mono_ns, c->first_byte_mono_ns);
}

void stream_report_end(struct stream_reporter *rep, struct stream_conn *c,
                       const struct stream_request *r)
{
    trace_first_byte(c);
    crimp_trace_set_current(NULL);
    struct crimp_stream_report report = {
        .kind = r->kind,
        .backend_tag = r->backend_tag,
        .code = c->code,
        .start_real_ns = c->start_real_ns,
        .duration_ns = crimp_now_mono_ns() - c->start_mono_ns,
        .bytes_in = c->bytes_in,
        .bytes_out = c->bytes_out,
        .trace = c->trace,
    };
    tell(rep, &report);
    free(c->trace);
    c->trace = NULL;
}

void stream_reporter_stop(struct stream_reporter *rep)
{
    atomic_store(&rep->stopping, true);
    while (atomic_load(&rep->reporting) > 0)
        sched_yield();
}
