/* SIGHUP: the configuration file read again, its backends list applied to
 * the running router.
 *
 * Checked first: the backends the new file keeps and the ones it adds must
 * agree on the cgroup driver (drivers.h); if not, nothing is applied.
 * Applied: a backend that is new is opened and takes new calls at once; a
 * backend that is gone from the file is retired if it owns no pod or
 * container and is not the default (otherwise it stays, with a warning: a
 * cutover must not lose track of running pods).  Not applied (logged): a
 * changed type, endpoint or options of an existing backend, and every other
 * setting — those need a crimpd restart, which kubelet does not notice.
 * A file that does not parse leaves everything as it was.  */
#include <string.h>

#include "drivers.h"
#include "log.h"
#include "reload.h"
#include "router-internal.h"
#include "utils.h"

static int slot_named(struct crimp_router *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->backends[i]->config->name, name) == 0)
            return (int)i;
    return -1;
}

static bool in_config(const struct crimp_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_backends; i++)
        if (strcmp(cfg->backends[i].name, name) == 0)
            return true;
    return false;
}

static bool same_backend(const struct crimp_backend_config *a, const struct crimp_backend_config *b)
{
    return strcmp(a->type, b->type) == 0 && strcmp(a->endpoint, b->endpoint) == 0 &&
           a->max_calls == b->max_calls && a->max_queued == b->max_queued &&
           a->call_timeout == b->call_timeout &&
           (a->options == b->options || (a->options && b->options && json_equal(a->options, b->options)));
}

/* Backends the file no longer lists.  */
static void retire_missing(struct crimp_router *r, const struct crimp_config *cfg)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *name = r->backends[i]->config->name;
        if (atomic_load(&r->removed[i]) || in_config(cfg, name))
            continue;
        size_t pods = 0, containers = 0;
        crimp_ownership_count(r->owners, (int)i, &pods, &containers);
        if (i == crimp_router_default_index(r))
            log_warn("reload: `%s` is the default backend; kept (set another default first)",
                     name);
        else if (pods + containers > 0)
            log_warn("reload: `%s` still owns %zu pods and %zu containers; kept until they are "
                     "gone",
                     name, pods, containers);
        else {
            atomic_store(&r->removed[i], true);
            log_info("reload: backend `%s` retired", name);
        }
    }
}

/* Opens backend BC that R does not have yet, or NULL (logged).  */
static struct crimp_backend *open_new(const struct crimp_backend_config *bc)
{
    const struct crimp_backend_ops *ops = crimp_backend_ops_for_type(bc->type);
    crimp_error_t err = NULL;
    struct crimp_backend *b = ops ? ops->open(bc, &err) : NULL;
    if (b == NULL) {
        log_warn("reload: backend `%s` not added: %s", bc->name, err ? err->msg : "unknown type");
        crimp_error_release(&err);
        return NULL;
    }
    b->ops = ops;
    b->config = bc;
    return b;
}

/* What R would run with CFG: the backends it keeps and NEWS[i] for the
 * backends of CFG that R lacks (opened here, NULL when they failed to
 * open).  */
static size_t next_backends(struct crimp_router *r, const struct crimp_config *cfg,
                            struct crimp_backend **news, struct crimp_backend **out)
{
    size_t n = 0;
    /* Those the file drops but that stay (the default, owners of pods).  */
    for (size_t i = 0; i < r->n; i++) {
        size_t pods = 0, containers = 0;
        crimp_ownership_count(r->owners, (int)i, &pods, &containers);
        if (crimp_router_live(r, i) && !in_config(cfg, r->backends[i]->config->name) &&
            (i == crimp_router_default_index(r) || pods + containers > 0))
            out[n++] = r->backends[i];
    }
    for (size_t i = 0; i < cfg->n_backends && n < CRIMP_MAX_BACKENDS; i++) {
        int slot = slot_named(r, cfg->backends[i].name);
        if (slot >= 0)
            out[n++] = r->backends[slot];
        else if ((news[i] = open_new(&cfg->backends[i])) != NULL)
            out[n++] = news[i];
    }
    return n;
}

/* Publishes B (new, for BC) or checks the slot BC names.  */
static void add_or_check(struct crimp_router *r, const struct crimp_backend_config *bc,
                         struct crimp_backend *b, struct crimp_recorder *rec)
{
    int slot = slot_named(r, bc->name);
    if (slot >= 0) {
        if (!same_backend(r->backends[slot]->config, bc))
            log_warn("reload: backend `%s` changed type, endpoint or options: restart crimpd to "
                     "apply",
                     bc->name);
        else if (atomic_exchange(&r->removed[slot], false))
            log_info("reload: backend `%s` back in service", bc->name);
        return;
    }
    if (b == NULL)
        return;
    if (r->n == CRIMP_MAX_BACKENDS) {
        log_warn("reload: backend `%s` not added: crimpd holds at most %d", bc->name,
                 CRIMP_MAX_BACKENDS);
        b->ops->close(b);
        return;
    }
    size_t i = r->n;
    crimp_router_fill_slot(r, i, b);
    r->versions[i] = NULL;
    r->draining[i] = false;
    crimp_recorder_name_backend(rec, (int)i, bc->name);
    /* Published last: readers see the slot only once it is complete.  */
    atomic_store(&r->n, i + 1);
    log_info("reload: backend `%s` (%s at %s) added", bc->name, bc->type, bc->endpoint);
}

int crimp_router_reload(struct crimp_router *r, struct crimp_config *cfg,
                        struct crimp_recorder *rec, crimp_error_t *err)
{
    pthread_mutex_lock(&r->reload_lock);
    cleanup_free struct crimp_backend **news = xcalloc(cfg->n_backends + 1, sizeof(*news));
    struct crimp_backend *next[CRIMP_MAX_BACKENDS];
    size_t n = next_backends(r, cfg, news, next);
    int driver = -1;
    if (crimp_drivers_agree(next, n, NULL, true, &driver, err) < 0) {
        for (size_t i = 0; i < cfg->n_backends; i++)
            if (news[i])
                news[i]->ops->close(news[i]);
        pthread_mutex_unlock(&r->reload_lock);
        return -1;
    }
    retire_missing(r, cfg);
    for (size_t i = 0; i < cfg->n_backends; i++)
        add_or_check(r, &cfg->backends[i], news[i], rec);
    /* New backends point into CFG: it lives as long as the router.  */
    r->retired_configs = xrealloc(r->retired_configs,
                                  (r->n_retired_configs + 1) * sizeof(*r->retired_configs));
    r->retired_configs[r->n_retired_configs++] = cfg;
    pthread_mutex_unlock(&r->reload_lock);
    return 0;
}
