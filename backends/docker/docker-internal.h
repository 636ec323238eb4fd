/* The docker backend's shared state and the functions its files share.
 * Which file serves which RPCs: the map at the top of backends/backend.h.  */
#ifndef CRIMP_DOCKER_INTERNAL_H
#define CRIMP_DOCKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "backend.h"
#include "client.h"
#include "common/cgroup.h"
#include "common/cni.h"
#include "common/cri_stats.h"
#include "common/fs_usage.h"
#include "image_cache.h"
#include "inventory.h"
#include "spec.h"

struct docker_logs; /* logs.c */

struct docker_backend {
    struct crimp_backend base; /* first: the shim sees only this */
    struct docker_client *client;
    struct docker_spec_opts spec;
    char *pause_image;
    char **privileged_caps; /* NULL-terminated, when privileged is emulated */
    struct cni_runner *cni;
    char *state_dir;   /* checkpoints and CNI cache live below it */
    char *sandbox_dir; /* one checkpoint per sandbox */
    char *cri_dockerd_root; /* cri-dockerd's checkpoints below it; NULL: none */
    struct docker_logs *logs;
    struct crimp_cpu_rates *cpu_rates; /* previous CPU samples, for usage_nano_cores */
    struct crimp_fs_usage_cache *fs_usage; /* writable layers, walked off the stats path */
    struct docker_inventory *inventory;    /* what the stats calls read (inventory.h) */
    struct docker_image_cache *images;     /* what the image calls read (image_cache.h) */

    pthread_mutex_t lock; /* guards the cached engine version, MAKING, DISCARDING */
    char *engine_version;
    int64_t engine_version_at;
    /* Pod names whose intent is open, or (value "recovery") whose half-made
     * pod the sweep at start is still tearing down (recover.c).  */
    json_t *making;
    json_t *discarding;        /* IDs of half-made pods being torn down: never listed */
    pthread_cond_t released;   /* a name of MAKING was released by the sweep */
    struct docker_sweep *sweep; /* the sweep running after the socket serves; NULL: none */
    /* Set when dockerd could not be asked at open: the sweep is planned
     * once it answers, before the first pod is made (recover.c).  */
    pthread_mutex_t recover_lock; /* guards SWEEP and the pending recovery's run */
    atomic_bool recovery_pending;
};

static inline struct docker_backend *docker_of(struct crimp_backend *b)
{
    return (struct docker_backend *)b;
}

/* The engine version ("20.10.24"), asked at most once a minute.  */
int docker_engine_version(struct docker_backend *d, char **version, crimp_error_t *err);

/* Inspects a container by ID or unique prefix; NOT_FOUND when absent.  */
int docker_inspect(struct docker_backend *d, const char *id, json_t **out, crimp_error_t *err);

/* The inspect of full ID ID as the inventory last saw it when that is
 * current (a status right after crimp's own calls or another client's
 * event), else from Docker.  */
int docker_inspect_known(struct docker_backend *d, const char *id, json_t **out,
                         crimp_error_t *err);

/* The full Docker ID of the pod sandbox (SANDBOX) or container that a CRI
 * request names by CRI_ID (whole or a unique prefix), looked up among the
 * containers crimp serves; NULL with NOT_FOUND for anything else.  Every ID
 * from a request goes through here before it reaches a Docker path.
 * Caller frees (resolve.c).  */
char *docker_resolve(struct docker_backend *d, const char *cri_id, bool sandbox,
                     crimp_error_t *err);
/* Whether ID has the form of a full Docker ID (64 lower-case hex digits).  */
bool docker_id_is_full(const char *id);

/* Makes sure IMAGE is present, pulling it when it is not.  */
int docker_ensure_image(struct docker_backend *d, struct crimp_rpc *rpc, const char *image,
                        crimp_error_t *err);

/* Pulls IMAGE with optional AUTH; *IMAGE_ID (caller frees) is the result's
 * image ID.  */
int docker_pull(struct docker_backend *d, struct crimp_rpc *rpc, const char *image,
                const Runtime__V1__AuthConfig *auth, char **image_id, crimp_error_t *err);

/* Creates a container named NAME from BODY; *ID (caller frees) is its ID.
 * A name left behind by an earlier failed create is cleared as
 * dockershim did (docs/docker.md, "Names and labels").  */
int docker_create(struct docker_backend *d, const char *name, json_t *body, char **id,
                  crimp_error_t *err);

/* Force-removes container ID (and its anonymous volumes); gone is success.  */
int docker_force_remove(struct docker_backend *d, const char *id, crimp_error_t *err);

/* Undoes a half-made sandbox ID (CNI DEL by its checkpoint CKPT, the pause
 * container, the checkpoint) so a failed RunPodSandbox leaks nothing.  */
void docker_sandbox_undo(struct docker_backend *d, const char *id, json_t *ckpt);
/* The checkpoint of sandbox ID (full) in *CKPT: crimp's own, else one
 * adopted from cri-dockerd or rebuilt from INSPECT (may be NULL); *CKPT is
 * NULL when there is none.  -1 when it exists but cannot be read now.  */
int docker_sandbox_checkpoint(struct docker_backend *d, const char *id, json_t *inspect,
                              json_t **ckpt, crimp_error_t *err);

/* recover.c: an intent named after the pause container NAME, written
 * before it is created and removed once its checkpoint exists; and the
 * sweep at start of what a crimpd killed mid-call left behind.  */
int docker_intent_begin(struct docker_backend *d, const char *name, crimp_error_t *err);
void docker_intent_end(struct docker_backend *d, const char *name);
/* Plans the sweep (lists Docker's containers and crimp's records, and
 * reserves the half-made pods' names and IDs) before the CRI socket serves,
 * then tears them down on a thread of its own, so that serving never waits
 * for Docker to remove containers.  */
int docker_recover(struct docker_backend *d, crimp_error_t *err);
/* The plan's own budget, at open or put off, apart from the probe or the
 * call that runs it.  */
#define DOCKER_RECOVER_PLAN_NS (60 * 1000000000LL)
/* The recovery that dockerd's absence at open put off, run now if it is
 * still pending; 0 once it has run (now or before).  Called when dockerd
 * answers again (the inventory's resync) and before RunPodSandbox makes
 * anything, so that no pod made after the start is mistaken for one a
 * killed crimpd half made.  UNAVAILABLE while dockerd still does not
 * answer.  */
int docker_recover_deferred(struct docker_backend *d, crimp_error_t *err);
/* Waits for the sweep's thread (the backend closes).  */
void docker_recover_join(struct docker_backend *d);
/* Whether pod ID is a half-made one the sweep is tearing down; and RESP
 * without those (ListPodSandbox: kubelet never got their IDs).  */
bool docker_discarding(struct docker_backend *d, const char *id);
void docker_hide_discarding(struct docker_backend *d, Runtime__V1__ListPodSandboxResponse *resp);
/* The IDs of the pods crimp has a checkpoint of (a new array); appends to
 * RESP, as NOTREADY, those of IDS crimp has a checkpoint of but
 * Docker no pause container (removed by a RemovePodSandbox that crimpd
 * did not live to finish), so that kubelet removes them and their network
 * is released.  */
json_t *docker_checkpoint_ids(struct docker_backend *d);
/* Whether Docker itself says the pause container ID is gone (NOT_FOUND),
 * asked before a pod is listed from its checkpoint alone: the inventory
 * the lists come from may lag a container another client just made.  */
bool docker_pause_gone(struct docker_backend *d, const char *id);
void docker_list_checkpoint_only(struct docker_backend *d, json_t *ids,
                                 const Runtime__V1__PodSandboxFilter *f,
                                 Runtime__V1__ListPodSandboxResponse *resp);

/* Lists the containers crimp serves (its own and adopted ones, see
 * labels.h) of TYPE (DOCKER_TYPE_SANDBOX / _CONTAINER) with extra label
 * filters (may be NULL): Docker's /containers/json entries.  */
int docker_list(struct docker_backend *d, const char *type, json_t *label_filters, json_t **out,
                crimp_error_t *err);

/* The CRI metadata of an inspected container that crimp serves as a pod
 * sandbox (SANDBOX) or a container; NOT_FOUND for anything else.  */
struct docker_cri_meta;
int docker_meta_of_inspect(json_t *inspect, bool sandbox, struct docker_cri_meta *meta,
                           crimp_error_t *err);

/* Calls FN for each served container of TYPE with its CRI metadata, ENTRY
 * in the shape of a /containers/json entry; from the inventory, so no call
 * to Docker while nothing changed.  */
int docker_list_each(struct docker_backend *d, const char *type,
                     void (*fn)(void *ctx, json_t *entry, const struct docker_cri_meta *meta),
                     void *ctx, crimp_error_t *err);

/* Docker's RFC 3339 time as Unix ns; 0 for Docker's zero time.  */
int64_t docker_parse_time(const char *text);

/* Unix SECONDS (a list entry's "Created") as ns; 0 past what an int64 of ns
 * holds.  */
int64_t docker_seconds_to_ns(json_int_t seconds);

/* Exec (exec.c): a process created in CONTAINER with the stdio asked for;
 * its inspect once it stopped running.  */
struct docker_exec_stdio {
    bool in, out, err, tty;
};
int docker_exec_create(struct docker_backend *d, const char *container, char *const *argv,
                       size_t argc, const struct docker_exec_stdio *io, char **exec_id,
                       crimp_error_t *err);
/* SIGKILL to the exec's process if it still runs (a timed-out ExecSync, a
 * streaming session given up on); failures are logged.  */
void docker_exec_kill(struct docker_backend *d, const char *exec_id);
int docker_exec_finished(struct docker_backend *d, const char *exec_id, json_t **inspect,
                         crimp_error_t *err);

/* Streaming (stream.c): exec, attach and port-forward sessions.  */
extern const struct crimp_stream_ops docker_stream_ops;

/* Log copiers (logs.c): the container's output into its CRI log file.  */
/* An exited container's status waits up to DRAIN_MS for its copier.  */
struct docker_logs *docker_logs_new(struct docker_backend *d, int drain_ms);
void docker_logs_free(struct docker_logs *l);
/* Attaches to ID's output before it starts, writing to PATH.  */
int docker_logs_attach(struct docker_logs *l, const char *id, const char *path, bool tty,
                       crimp_error_t *err);
/* Stops copying for ID (after it was removed, or its start failed).  */
void docker_logs_forget(struct docker_logs *l, const char *id);
int docker_logs_reopen(struct docker_logs *l, const char *id, crimp_error_t *err);
/* Re-attaches to running containers after a crimpd restart; while
 * dockerd does not answer, a thread keeps trying with backoff.  */
void docker_logs_recover(struct docker_logs *l);
/* Waits until ID's copier has written all the output Docker holds (it saw
 * the stream end with the container stopped) or DEADLINE (monotonic ns)
 * passes; true when drained or ID has no copier.  Called before an exit is
 * reported, so that the log is complete when a client reads it.  */
bool docker_logs_wait_drained(struct docker_logs *l, const char *id, int64_t deadline_mono_ns);
/* Now plus the configured wait (the log_drain_ms option).  */
int64_t docker_logs_drain_deadline(const struct docker_logs *l);

/* The operations: docker_<op> for every RPC (backends/backend.h), each in
 * the file of its group.  */
#define CRIMP_OPS_PREFIX docker
CRIMP_DECLARE_OPS

/* Readers of Docker's JSON (pure: no daemon, fuzzed by tests/fuzz/).  */

/* The CRI status of an inspected container whose labels gave META; the
 * verbose info map when VERBOSE.  Fills RESP.  */
void docker_container_status_of(json_t *inspect, const struct docker_cri_meta *meta, bool verbose,
                                Runtime__V1__ContainerStatusResponse *resp);
/* The CRI status of an inspected sandbox; CKPT (may be NULL) is its
 * checkpoint, with the IPs of its CNI result.  */
void docker_sandbox_status_of(json_t *inspect, const struct docker_cri_meta *meta, json_t *ckpt,
                              Runtime__V1__PodSandboxStatusResponse *resp);
/* One entry of /containers/json as a CRI container or sandbox, and
 * whether it passes the CRI filter F (NULL passes all).  */
Runtime__V1__Container *docker_container_of_list_entry(json_t *c, const struct docker_cri_meta *meta);
bool docker_container_passes(const Runtime__V1__ContainerFilter *f, json_t *c,
                             const struct docker_cri_meta *meta);
Runtime__V1__PodSandbox *docker_sandbox_of_list_entry(json_t *c, const struct docker_cri_meta *meta);
bool docker_sandbox_passes(const Runtime__V1__PodSandboxFilter *f, json_t *c,
                           const struct docker_cri_meta *meta);
/* One entry of /images/json (or an image inspect) as a CRI image.  */
Runtime__V1__Image *docker_image_of(json_t *img);

/* One /events message: ID, POD and NANOS are set (ID and POD point into E,
 * may be NULL); returns 0 when it is a container event the CRI reports
 * (TYPE set), -1 otherwise.  */
struct docker_event {
    const char *id, *pod;
    json_int_t nanos;
    Runtime__V1__ContainerEventType type;
};
int docker_event_decode(json_t *e, struct docker_event *out);

/* Stats (stats.c): what the common stats and metrics builders
 * take, from an inventory item; LAYER receives the layer's usage.  */
struct crimp_container_facts docker_container_facts(struct docker_backend *d,
                                                    const struct docker_inv_item *it,
                                                    struct crimp_fs_usage *layer);
struct crimp_pod_facts docker_pod_facts(const struct docker_inv_item *it);


#endif
