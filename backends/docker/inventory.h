/* What the stats, list and status calls need to know about crimp's Docker containers and
 * sandboxes, kept in memory: CRI metadata, pod, running pid, cgroup
 * directories and writable layer — what one inspect tells, asked once per
 * container and again only when the container changed.
 *
 * Kept current by
 *   - a thread that follows Docker's /events (create, start, die, destroy,
 *     pause, unpause of crimp's containers) and re-inspects what changed;
 *     after every (re)connect it resyncs with one list, then follows from
 *     the time before that list, so nothing falls between the two;
 *   - crimp's own create/start/stop/remove calls (docker_inventory_touch),
 *     so a stats call right after them never sees the old state.
 * While the stream is down, a stats call resyncs by listing itself.
 *
 * The lists (ListContainers, ListPodSandbox) and statuses read it too, so
 * they cost no call to Docker while nothing changed.  */
#ifndef CRIMP_DOCKER_INVENTORY_H
#define CRIMP_DOCKER_INVENTORY_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/cgroup.h"
#include "error.h"
#include "labels.h"

struct docker_backend;
struct docker_inventory;

/* One container or sandbox, as inspect last showed it.  */
struct docker_inv_item {
    const char *id;
    bool sandbox;
    const char *pod_id; /* containers: their sandbox */
    const struct docker_cri_meta *meta;
    bool running;
    pid_t pid;                             /* 0 when not running */
    const struct crimp_cgroup_dirs *cgroup; /* NULL when not running */
    const char *upper_dir;                 /* writable layer, or NULL */
    const char *image;                     /* Config.Image, or NULL */
};

/* Starts following D's dockerd (the thread retries until dockerd answers).  */
struct docker_inventory *docker_inventory_new(struct docker_backend *d);
void docker_inventory_free(struct docker_inventory *inv);

/* Marks ID (a full ID or a prefix) as changed by crimp itself: the next
 * read inspects it again (and drops it when it is gone).  */
void docker_inventory_touch(struct docker_inventory *inv, const char *id);

/* Brings the inventory up to date for a read: a list when the events
 * stream is down, an inspect per changed container.  */
int docker_inventory_ready(struct docker_inventory *inv, crimp_error_t *err);

/* Calls FN for every known item, under a read lock (FN must not call back
 * into the inventory).  Returns the number of items visited.  */
size_t docker_inventory_each(struct docker_inventory *inv,
                             void (*fn)(void *ctx, const struct docker_inv_item *item),
                             void *ctx);

/* One known sandbox or container as the lists read it, copied out of the
 * inventory: SUMMARY in the shape of a /containers/json entry (new
 * reference), META sharing the inventory's document (freed by
 * docker_inv_records_free).  */
struct docker_inv_record {
    json_t *summary;
    struct docker_cri_meta meta;
};

/* The known sandboxes (SANDBOX) or containers, in *OUT; returns how many.  */
size_t docker_inventory_records(struct docker_inventory *inv, bool sandbox,
                                struct docker_inv_record **out);
void docker_inv_records_free(struct docker_inv_record *r, size_t n);

/* The last inspect of the known item with full ID ID (new reference), or
 * NULL when it is unknown, stale, or the events stream is not followed
 * (then the caller inspects itself).  */
json_t *docker_inventory_inspect(struct docker_inventory *inv, const char *id);

/* The full ID of the known sandbox (SANDBOX) or container whose ID is ID or
 * starts with it, in *FULL (caller frees).  Returns the number of matches:
 * *FULL is set only when that is exactly 1.  */
int docker_inventory_find(struct docker_inventory *inv, const char *id, bool sandbox, char **full);

/* The line splitter both /events followers use: feeds DATA, calls FN on
 * each complete line (NUL-terminated, newline removed).  FN returns false to
 * stop; so does the splitter (false) when a line grows past
 * DOCKER_LINE_MAX.  */
#define DOCKER_LINE_MAX (1 << 20)
struct docker_lines {
    char *pending; /* the unfinished line, NUL-terminated */
    size_t len, cap;
};
bool docker_lines_feed(struct docker_lines *l, const char *data, size_t len,
                       bool (*fn)(void *ctx, char *line), void *ctx);
void docker_lines_release(struct docker_lines *l);

#endif
