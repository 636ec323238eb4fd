/* Per-thread current trace.  */
#include "trace.h"

#include <stdio.h>

static _Thread_local struct crimp_trace *current;

void crimp_trace_set_current(struct crimp_trace *trace)
{
    current = trace;
}

struct crimp_trace *crimp_trace_current(void)
{
    return current;
}

void crimp_trace_span(enum crimp_span_kind kind, const char *name, int status,
                      int64_t start_mono_ns, int64_t end_mono_ns)
{
    struct crimp_trace *t = current;
    if (t == NULL)
        return;
    if (t->n_spans >= CRIMP_TRACE_MAX_SPANS) {
        t->dropped++;
        return;
    }
    struct crimp_span *s = &t->spans[t->n_spans++];
    s->kind = kind;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->status = status;
    s->depth = t->depth;
    s->backend = t->backend;
    s->start_ns = start_mono_ns - t->start_mono_ns;
    s->duration_ns = end_mono_ns - start_mono_ns;
}

void crimp_trace_set_backend(int index)
{
    if (current)
        current->backend = index + 1;
}

void crimp_trace_enter(void)
{
    if (current)
        current->depth++;
}

void crimp_trace_leave(void)
{
    if (current && current->depth > 0)
        current->depth--;
}

void crimp_trace_fork(struct crimp_trace *child)
{
    child->n_spans = 0;
    child->dropped = 0;
    child->start_mono_ns = current ? current->start_mono_ns : 0;
    child->depth = current ? current->depth : 0;
    child->backend = current ? current->backend : 0;
}

void crimp_trace_join(const struct crimp_trace *child)
{
    struct crimp_trace *t = current;
    if (t == NULL || child->start_mono_ns != t->start_mono_ns)
        return;
    for (int i = 0; i < child->n_spans; i++) {
        if (t->n_spans >= CRIMP_TRACE_MAX_SPANS) {
            t->dropped += child->n_spans - i;
            break;
        }
        t->spans[t->n_spans++] = child->spans[i];
    }
    t->dropped += child->dropped;
}

const char *crimp_span_kind_name(enum crimp_span_kind kind)
{
    static const char *const names[] = {"http", "grpc", "cni", "exec", "stream"};
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "other";
}
