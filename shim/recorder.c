/* Latency recorder: lazily created histograms in fixed tables, and a ring
 * of recent calls whose slots are guarded by sequence counters so writers
 * never wait for readers or for each other.  */
#include "recorder.h"

#include <stdlib.h>
#include <string.h>

#include "utils.h"

/* Sub-call series live in an open-addressed table; a slot is claimed once
 * and never freed, so lookups need no lock.  */
#define SUBCALL_SLOTS 1024

struct subcall_slot {
    _Atomic int state; /* 0 free, 1 being filled, 2 ready */
    int backend;
    enum crimp_span_kind kind;
    char name[CRIMP_TRACE_NAME_LEN];
    struct crimp_histogram *hist;
};

struct ring_slot {
    _Atomic uint64_t seq; /* odd while being written */
    struct crimp_call_record rec;
};

struct crimp_recorder {
    _Atomic(char *) *backend_names; /* NULL: a slot for a backend added later */
    size_t n_backends, n_methods;
    _Atomic(struct crimp_histogram *) *series; /* [method][backend + 1][code] */
    struct subcall_slot *subcalls;
    struct ring_slot *ring;
    size_t ring_size;
    _Atomic uint64_t next_id;
    _Atomic int64_t in_flight;
};

struct crimp_recorder *crimp_recorder_new(const char *const *backend_names, size_t n_backends,
                                          size_t n_methods, size_t ring_size)
{
    struct crimp_recorder *r = xcalloc(1, sizeof(*r));
    r->n_backends = n_backends;
    r->n_methods = n_methods;
    r->backend_names = xcalloc(n_backends + 1, sizeof(*r->backend_names));
    for (size_t i = 0; i < n_backends; i++)
        if (backend_names[i])
            atomic_store(&r->backend_names[i], xstrdup(backend_names[i]));
    r->series = xcalloc(n_methods * (n_backends + 1) * CRIMP_RECORDER_CODES, sizeof(*r->series));
    r->subcalls = xcalloc(SUBCALL_SLOTS, sizeof(*r->subcalls));
    r->ring_size = ring_size ? ring_size : 1;
    r->ring = xcalloc(r->ring_size, sizeof(*r->ring));
    return r;
}

void crimp_recorder_free(struct crimp_recorder *r)
{
    if (r == NULL)
        return;
    size_t n = r->n_methods * (r->n_backends + 1) * CRIMP_RECORDER_CODES;
    for (size_t i = 0; i < n; i++)
        free(atomic_load(&r->series[i]));
    for (size_t i = 0; i < SUBCALL_SLOTS; i++)
        free(r->subcalls[i].hist);
    for (size_t i = 0; i < r->n_backends; i++)
        free(atomic_load(&r->backend_names[i]));
    free(r->backend_names);
    free(r->series);
    free(r->subcalls);
    free(r->ring);
    free(r);
}

/* The histogram in SLOT, created on first use; the loser of a creation
 * race frees its copy.  */
static struct crimp_histogram *get_or_create(_Atomic(struct crimp_histogram *) *slot)
{
    struct crimp_histogram *h = atomic_load_explicit(slot, memory_order_acquire);
    if (h)
        return h;
    struct crimp_histogram *fresh = xcalloc(1, sizeof(*fresh));
    if (atomic_compare_exchange_strong(slot, &h, fresh))
        return fresh;
    free(fresh);
    return h;
}

static size_t series_index(const struct crimp_recorder *r, int method, int backend, int code)
{
    return ((size_t)method * (r->n_backends + 1) + (size_t)(backend + 1)) * CRIMP_RECORDER_CODES +
           (size_t)code;
}

static uint32_t hash_name(int backend, enum crimp_span_kind kind, const char *name)
{
    uint32_t h = 2166136261u ^ (uint32_t)backend * 31u ^ (uint32_t)kind;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static struct crimp_histogram *subcall_hist(struct crimp_recorder *r, int backend,
                                            enum crimp_span_kind kind, const char *name)
{
    uint32_t h = hash_name(backend, kind, name);
    for (size_t probe = 0; probe < SUBCALL_SLOTS; probe++) {
        struct subcall_slot *s = &r->subcalls[(h + probe) % SUBCALL_SLOTS];
        int state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (state == 0) {
            int expected = 0;
            if (atomic_compare_exchange_strong(&s->state, &expected, 1)) {
                s->backend = backend;
                s->kind = kind;
                snprintf(s->name, sizeof(s->name), "%s", name);
                s->hist = xcalloc(1, sizeof(*s->hist));
                atomic_store_explicit(&s->state, 2, memory_order_release);
                return s->hist;
            }
            state = expected;
        }
        while (state == 1)
            state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (s->backend == backend && s->kind == kind && strcmp(s->name, name) == 0)
            return s->hist;
    }
    return NULL; /* table full: the sub-call is still in the call's trace */
}

void crimp_recorder_begin(struct crimp_recorder *r)
{
    atomic_fetch_add_explicit(&r->in_flight, 1, memory_order_relaxed);
}

int64_t crimp_recorder_in_flight(const struct crimp_recorder *r)
{
    return atomic_load_explicit(&r->in_flight, memory_order_relaxed);
}

static void store_in_ring(struct crimp_recorder *r, const struct crimp_call_record *rec)
{
    struct ring_slot *slot = &r->ring[(rec->id - 1) % r->ring_size];
    uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_relaxed);
    /* Two writers meet in one slot only when the ring wrapped under them;
     * the later one gives up its copy rather than wait (the histograms
     * already counted the call).  */
    if ((seq & 1) || !atomic_compare_exchange_strong_explicit(&slot->seq, &seq, seq + 1,
                                                              memory_order_acquire,
                                                              memory_order_relaxed))
        return;
    /* Copy only the spans in use: most calls have few.  */
    size_t used = offsetof(struct crimp_call_record, trace.spans) +
                  (size_t)rec->trace.n_spans * sizeof(struct crimp_span);
    memcpy(&slot->rec, rec, used);
    atomic_store_explicit(&slot->seq, seq + 2, memory_order_release);
}

void crimp_recorder_finish(struct crimp_recorder *r, int method, int backend,
                           grpc_status_code code, int64_t start_real_ns, int64_t duration_ns,
                           const struct crimp_trace *trace)
{
    atomic_fetch_sub_explicit(&r->in_flight, 1, memory_order_relaxed);
    if (method < 0 || (size_t)method >= r->n_methods || backend < -1 ||
        backend >= (int)r->n_backends || (unsigned)code >= CRIMP_RECORDER_CODES)
        return;
    crimp_hist_record(get_or_create(&r->series[series_index(r, method, backend, (int)code)]),
                      (uint64_t)duration_ns);

    struct crimp_call_record rec;
    rec.id = atomic_fetch_add_explicit(&r->next_id, 1, memory_order_relaxed) + 1;
    rec.method = method;
    rec.backend = backend;
    rec.code = code;
    rec.start_real_ns = start_real_ns;
    rec.duration_ns = duration_ns;
    rec.trace.n_spans = 0;
    rec.trace.dropped = 0;
    if (trace) {
        rec.trace.start_mono_ns = trace->start_mono_ns;
        rec.trace.n_spans = trace->n_spans;
        rec.trace.dropped = trace->dropped;
        memcpy(rec.trace.spans, trace->spans, (size_t)trace->n_spans * sizeof(struct crimp_span));
        for (int i = 0; i < trace->n_spans; i++) {
            const struct crimp_span *s = &trace->spans[i];
            int by = s->backend > 0 ? s->backend - 1 : backend;
            struct crimp_histogram *h = subcall_hist(r, by, s->kind, s->name);
            if (h)
                crimp_hist_record(h, (uint64_t)s->duration_ns);
        }
    }
    store_in_ring(r, &rec);
}

const char *crimp_recorder_backend_name(const struct crimp_recorder *r, int backend)
{
    if (backend < 0 || (size_t)backend >= r->n_backends)
        return "crimp";
    const char *name = atomic_load(&((struct crimp_recorder *)r)->backend_names[backend]);
    return name ? name : "?";
}

void crimp_recorder_name_backend(struct crimp_recorder *r, int backend, const char *name)
{
    if (backend < 0 || (size_t)backend >= r->n_backends)
        return;
    char *fresh = xstrdup(name);
    char *none = NULL;
    /* Names are set once; a slot is never renamed while readers use it.  */
    if (!atomic_compare_exchange_strong(&r->backend_names[backend], &none, fresh))
        free(fresh);
}

size_t crimp_recorder_n_backends(const struct crimp_recorder *r)
{
    return r->n_backends;
}

void crimp_recorder_each_call_series(struct crimp_recorder *r,
                                     void (*fn)(void *ctx, int method, int backend,
                                                grpc_status_code code,
                                                const struct crimp_histogram *h),
                                     void *ctx)
{
    for (size_t m = 0; m < r->n_methods; m++)
        for (int b = -1; b < (int)r->n_backends; b++)
            for (int c = 0; c < CRIMP_RECORDER_CODES; c++) {
                struct crimp_histogram *h = atomic_load(&r->series[series_index(r, (int)m, b, c)]);
                if (h && atomic_load(&h->count) > 0)
                    fn(ctx, (int)m, b, (grpc_status_code)c, h);
            }
}

void crimp_recorder_each_subcall_series(struct crimp_recorder *r,
                                        void (*fn)(void *ctx, int backend,
                                                   enum crimp_span_kind kind, const char *name,
                                                   const struct crimp_histogram *h),
                                        void *ctx)
{
    for (size_t i = 0; i < SUBCALL_SLOTS; i++) {
        struct subcall_slot *s = &r->subcalls[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) == 2)
            fn(ctx, s->backend, s->kind, s->name, s->hist);
    }
}

/* Copies slot I if it is stable and holds a call newer than AFTER_ID.  */
static bool read_slot(struct ring_slot *slot, uint64_t after_id, struct crimp_call_record *out)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t before = atomic_load_explicit(&slot->seq, memory_order_acquire);
        if (before & 1)
            continue;
        memcpy(out, &slot->rec, sizeof(*out));
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&slot->seq, memory_order_relaxed) == before)
            return before != 0 && out->id > after_id;
    }
    return false;
}

size_t crimp_recorder_recent(struct crimp_recorder *r, uint64_t after_id,
                             struct crimp_call_record *out, size_t max)
{
    uint64_t last = atomic_load(&r->next_id);
    uint64_t first = last > r->ring_size ? last - r->ring_size + 1 : 1;
    if (after_id + 1 > first)
        first = after_id + 1;
    if (last >= first && last - first + 1 > max)
        first = last - max + 1;
    size_t n = 0;
    for (uint64_t id = first; id <= last && n < max; id++)
        if (read_slot(&r->ring[(id - 1) % r->ring_size], after_id, &out[n]) && out[n].id == id)
            n++;
    return n;
}
