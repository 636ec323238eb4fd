/* How far the image pulls crimp runs have got, per layer, for crimpctl's
 * progress bar (GET /v1/pulls on the admin socket).  A backend that knows a
 * pull's layers reports them as it goes: the containerd backend from its
 * own registry client, the docker backend from dockerd's progress stream.
 * Finished pulls stay listed for a few seconds so that a client polling
 * after a fast pull still sees its totals.  Thread-safe; reporting never
 * blocks on a reader.  */
#ifndef CRIMP_PULL_PROGRESS_H
#define CRIMP_PULL_PROGRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define CRIMP_PULL_LAYERS_MAX 128 /* layers tracked per pull; more are summed only */
#define CRIMP_PULL_KEEP_NS    (10LL * 1000 * 1000 * 1000)

struct crimp_pull_progress;

/* A pull of IMAGE by BACKEND begins; NULL never (a full table recycles
 * the oldest finished entry, else the pull is simply not shown).  */
struct crimp_pull_progress *crimp_pull_progress_begin(const char *backend, const char *image);

/* Layer ID (a digest, or Docker's short layer ID) of TOTAL bytes (0:
 * unknown yet) has DONE of them; both absolute, the last report wins.  */
void crimp_pull_progress_layer(struct crimp_pull_progress *p, const char *id, int64_t total,
                               int64_t done);
/* Layer ID is complete (fetched, or there already).  */
void crimp_pull_progress_layer_done(struct crimp_pull_progress *p, const char *id);

/* The pull ended (OK or not); P is not used after.  */
void crimp_pull_progress_end(struct crimp_pull_progress *p, bool ok);

/* {"pulls": [{"backend", "image", "done": bool, "ok": bool, "seconds",
 *  "layers": [{"id", "total", "done"}], "layers_total", "layers_done",
 *  "bytes_total", "bytes_done"}]}: running pulls and those that ended in
 * the last CRIMP_PULL_KEEP_NS (new reference).  */
json_t *crimp_pull_progress_json(void);

/* Docker's pull progress object ({"id", "status", "progressDetail":
 * {"current", "total"}}) applied to P; other objects are ignored.  */
void crimp_pull_progress_docker_line(struct crimp_pull_progress *p, json_t *line);

#endif
