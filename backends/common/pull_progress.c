/* The table of pulls behind GET /v1/pulls (pull_progress.h): a small
 * fixed array under one mutex, written by the pulling threads and read by
 * the admin thread.  */
#include "pull_progress.h"

#include <pthread.h>
#include <string.h>

#include "utils.h"

#define PULLS_MAX 32

struct layer {
    char id[80];
    int64_t total, done;
    bool complete; /* said done, whatever the byte counts (Docker's "Already exists") */
};

struct crimp_pull_progress {
    bool used, ended, ok;
    char backend[64], image[256];
    int64_t started_ns, ended_ns;
    struct layer layers[CRIMP_PULL_LAYERS_MAX];
    size_t n;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct crimp_pull_progress table[PULLS_MAX];

/* A free slot, else the one that ended longest ago; NULL when all run.  */
static struct crimp_pull_progress *take_slot(int64_t now)
{
    struct crimp_pull_progress *oldest = NULL;
    for (size_t i = 0; i < PULLS_MAX; i++) {
        struct crimp_pull_progress *p = &table[i];
        if (!p->used || (p->ended && now - p->ended_ns > CRIMP_PULL_KEEP_NS))
            return p;
        if (p->ended && (oldest == NULL || p->ended_ns < oldest->ended_ns))
            oldest = p;
    }
    return oldest;
}

struct crimp_pull_progress *crimp_pull_progress_begin(const char *backend, const char *image)
{
    int64_t now = crimp_now_mono_ns();
    pthread_mutex_lock(&lock);
    struct crimp_pull_progress *p = take_slot(now);
    if (p != NULL) {
        memset(p, 0, sizeof(*p));
        p->used = true;
        p->started_ns = now;
        snprintf(p->backend, sizeof(p->backend), "%s", backend);
        snprintf(p->image, sizeof(p->image), "%s", image);
    }
    pthread_mutex_unlock(&lock);
    return p;
}

/* Layer ID of P, added when new; NULL when P tracks the maximum already.  */
static struct layer *layer_of(struct crimp_pull_progress *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->layers[i].id, id) == 0)
            return &p->layers[i];
    if (p->n == CRIMP_PULL_LAYERS_MAX)
        return NULL;
    struct layer *l = &p->layers[p->n++];
    snprintf(l->id, sizeof(l->id), "%s", id);
    return l;
}

void crimp_pull_progress_layer(struct crimp_pull_progress *p, const char *id, int64_t total,
                               int64_t done)
{
    if (p == NULL || id == NULL)
        return;
    pthread_mutex_lock(&lock);
    struct layer *l = layer_of(p, id);
    if (l != NULL) {
        if (total > 0)
            l->total = total;
        if (done >= 0)
            l->done = done;
    }
    pthread_mutex_unlock(&lock);
}

void crimp_pull_progress_layer_done(struct crimp_pull_progress *p, const char *id)
{
    if (p == NULL || id == NULL)
        return;
    pthread_mutex_lock(&lock);
    struct layer *l = layer_of(p, id);
    if (l != NULL) {
        if (l->total == 0)
            l->total = l->done;
        l->done = l->total;
        l->complete = true;
    }
    pthread_mutex_unlock(&lock);
}

void crimp_pull_progress_end(struct crimp_pull_progress *p, bool ok)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&lock);
    p->ended = true;
    p->ok = ok;
    p->ended_ns = crimp_now_mono_ns();
    pthread_mutex_unlock(&lock);
}

static json_t *pull_json(const struct crimp_pull_progress *p, int64_t now)
{
    json_t *layers = json_array();
    json_int_t bytes_total = 0, bytes_done = 0, layers_done = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct layer *l = &p->layers[i];
        json_array_append_new(layers, json_pack("{s:s, s:I, s:I}", "id", l->id, "total",
                                                (json_int_t)l->total, "done",
                                                (json_int_t)l->done));
        bytes_total += l->total;
        bytes_done += l->done;
        layers_done += l->complete || (l->total > 0 && l->done >= l->total);
    }
    int64_t end = p->ended ? p->ended_ns : now;
    return json_pack("{s:s, s:s, s:b, s:b, s:f, s:o, s:I, s:I, s:I, s:I}", "backend", p->backend,
                     "image", p->image, "done", p->ended, "ok", p->ok, "seconds",
                     (double)(end - p->started_ns) / 1e9, "layers", layers, "layers_total",
                     (json_int_t)p->n, "layers_done", layers_done, "bytes_total", bytes_total,
                     "bytes_done", bytes_done);
}

json_t *crimp_pull_progress_json(void)
{
    int64_t now = crimp_now_mono_ns();
    json_t *pulls = json_array();
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < PULLS_MAX; i++) {
        const struct crimp_pull_progress *p = &table[i];
        if (p->used && (!p->ended || now - p->ended_ns <= CRIMP_PULL_KEEP_NS))
            json_array_append_new(pulls, pull_json(p, now));
    }
    pthread_mutex_unlock(&lock);
    return json_pack("{s:o}", "pulls", pulls);
}

void crimp_pull_progress_docker_line(struct crimp_pull_progress *p, json_t *line)
{
    const char *id = json_string_value(json_object_get(line, "id"));
    const char *status = json_string_value(json_object_get(line, "status"));
    if (p == NULL || id == NULL || status == NULL)
        return;
    json_t *detail = json_object_get(line, "progressDetail");
    json_t *current = json_object_get(detail, "current"), *total = json_object_get(detail, "total");
    if (strcmp(status, "Downloading") == 0 && json_is_integer(current))
        crimp_pull_progress_layer(p, id, json_integer_value(total), json_integer_value(current));
    else if (strcmp(status, "Pulling fs layer") == 0 || strcmp(status, "Waiting") == 0)
        crimp_pull_progress_layer(p, id, 0, 0);
    else if (strcmp(status, "Download complete") == 0 || strcmp(status, "Pull complete") == 0 ||
             strcmp(status, "Already exists") == 0)
        crimp_pull_progress_layer_done(p, id);
}
