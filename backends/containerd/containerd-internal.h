/* The containerd backend's shared state and the functions its files share.
 * Which file serves which RPCs: the map at the top of backends/backend.h;
 * the containerd-only helpers: pull.c (PullImage's registry → content →
 * snapshots pipeline), image_cache.c (image content by digest), ctrd_task.c
 * (snapshots, container records, tasks), store.c (crimp's records),
 * monitor.c (exits).  */
#ifndef CRIMP_CONTAINERD_INTERNAL_H
#define CRIMP_CONTAINERD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "backend.h"
#include "common/cni.h"
#include "common/cgroup.h"
#include "common/cgroup_driver.h"
#include "common/cri_events.h"
#include "image_store.h"
#include "common/fs_usage.h"
#include "ctrd_client.h"
#include "ctrd_io.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"

#define CTRD_DEFAULT_RUNTIME     "io.containerd.runc.v2"

/* Labels crimp puts on containerd records.  */
#define CTRD_LABEL_KIND      "io.cri-containerd.kind" /* "sandbox" | "container" */
#define CTRD_LABEL_IMAGE     "io.cri-containerd.image" /* "managed" on image records */

struct ctrd_pulls; /* pull.c: pulls in flight, for coalescing */
struct ctrd_image_cache; /* image_cache.c */
struct ctrd_store;

struct ctrd_backend {
    struct crimp_backend base; /* first: the shim sees only this */
    struct ctrd_conn *conn;
    char *snapshotter;
    char *runtime;
    /* How crimp names the cgroups it asks runc for (options.cgroup_driver,
     * else the host's default); RuntimeConfig reports it.  */
    enum crimp_cgroup_driver cgroup_driver;
    /* Recursive read-only mounts can be made: Linux has mount_setattr and
     * the runtime is runc knowing "rro" (probed at open).  */
    bool recursive_ro;
    char *pause_image;
    char **insecure_registries; /* NULL-terminated, from options */
    char *registry_config_path; /* containerd's hosts.toml tree (registry_hosts.h) */
    char *shim_address; /* containerd's socket as its shims name it (-address) */
    char *state_dir;   /* crimp's files for this backend: sandboxes/, containers/ */
    char *netns_dir;   /* pinned network namespaces */
    struct cni_runner *cni;
    int oom_score_adj_min;
    int log_drain_ms; /* an exit waits this long for the output's EOF */
    struct ctrd_logger *logger;
    struct ctrd_pulls *pulls;
    struct ctrd_image_cache *image_cache;
    struct ctrd_image_store *image_store; /* image records, followed by events */
    struct crimp_event_hub *events; /* GetContainerEvents: fed by container.c, monitor.c */
    struct crimp_fs_usage_cache *fs_usage; /* writable layers' usage, walked in the background */
    struct crimp_cpu_rates *cpu_rates;     /* the last CPU sample per container */
    struct ctrd_store *store;     /* store.c */
    struct ctrd_monitor *monitor; /* monitor.c */
    char *sandbox_root; /* state_dir/sandboxes: checkpoints; state_dir/pods/<id>: files */
    json_t *stale_intents; /* intents left by the last run, until recovered */
    pthread_mutex_t intents_mu;
    json_t *live_intents;  /* IDs of this crimpd's intents (a set): recover.c */
    _Atomic(char *) snapshotter_root; /* asked once by ImageFsInfo, then walked in the background */
};

static inline struct ctrd_backend *ctrd_of(struct crimp_backend *b)
{
    return (struct ctrd_backend *)b;
}

/* Call options for a call made on behalf of RPC (may be NULL).  */
static inline struct ctrd_opts ctrd_opts_for(struct crimp_rpc *rpc)
{
    struct ctrd_opts o = {.rpc = rpc};
    return o;
}

/* The cgroupsPath of pod or container ID under kubelet's PARENT, as the
 * backend's cgroup driver names it (sandbox.c); INVALID_ARGUMENT for a
 * parent of the other driver.  The caller frees *OUT.  */
int ctrd_cgroups_path(struct ctrd_backend *b, const char *parent, const char *id, char **out,
                      crimp_error_t *err);

/* An image as the runtime parts need it (images.c).  */
struct ctrd_image {
    char *id;        /* the config digest "sha256:…": the CRI image ID */
    char *name;      /* the image record the lookup matched */
    json_t *config;  /* the whole image config JSON ("config", "rootfs", …) */
    char *chain_id;  /* the top layer's chain ID: the parent of a rootfs snapshot */
    char **repo_tags, **repo_digests; /* NULL-terminated */
    int64_t size;    /* index (if any) + manifest + config + compressed layers */
};
void ctrd_image_clear(struct ctrd_image *img);

/* What ctrd_image_get looks up beyond the record and its (cached) content:
 * the image's other names (an Images/List), and whether its top snapshot
 * exists (a Snapshots/Stat; without it a missing one shows at Prepare).  */
enum {
    CTRD_IMAGE_NAMES = 1,
    CTRD_IMAGE_CHECK_UNPACKED = 2,
    CTRD_IMAGE_ALL = CTRD_IMAGE_NAMES | CTRD_IMAGE_CHECK_UNPACKED,
};

/* Finds REF (a name as pulled, normalized or not; an image ID "sha256:…";
 * or an unambiguous ID prefix) among the image records; NOT_FOUND when
 * absent or (with CTRD_IMAGE_CHECK_UNPACKED) not unpacked.  */
int ctrd_image_get(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *ref, int what,
                   struct ctrd_image *img, crimp_error_t *err);

/* Images.Get of NAME and Images.List with FILTER (NULL: all), asking
 * containerd (not the image store): 1 with *REC (caller frees), 0 when
 * there is none; the list, or NULL with *ERR.  */
int ctrd_image_record_fetch(struct ctrd_backend *b, const struct ctrd_opts *o, const char *name,
                            Containerd__Services__Images__V1__Image **rec, crimp_error_t *err);
Containerd__Services__Images__V1__ListImagesResponse *
ctrd_image_records_fetch(struct ctrd_backend *b, const struct ctrd_opts *o, const char *filter,
                         crimp_error_t *err);

/* The image content cache (image_cache.c): ID, config, chain ID and size
 * of an image by its record's target digest.  A hit fills IMG's content
 * fields with copies.  */
struct ctrd_image_cache *ctrd_image_cache_new(size_t max);
void ctrd_image_cache_free(struct ctrd_image_cache *c);
bool ctrd_image_cache_get(struct ctrd_image_cache *c, const char *digest, struct ctrd_image *img);
void ctrd_image_cache_put(struct ctrd_image_cache *c, const char *digest,
                          const struct ctrd_image *img);
/* Names resolved to their record's name and target digest (kept 30 s;
 * crimp's pulls and removals forget them all).  */
bool ctrd_image_refs_get(struct ctrd_image_cache *c, const char *ref, char **name, char **digest);
void ctrd_image_refs_put(struct ctrd_image_cache *c, const char *ref, const char *name,
                         const char *digest);
void ctrd_image_refs_forget(struct ctrd_image_cache *c);

/* ctrd_image_get, pulling REF (no credentials) when it is missing: the
 * sandbox image.  */
int ctrd_image_ensure(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *ref,
                      struct ctrd_image *img, crimp_error_t *err);

/* Pulls REF with AUTH (may be NULL) through the registry API into content,
 * unpacks it into snapshots and records the image (pull.c); *IMAGE_ID
 * (caller frees) is the config digest.  Concurrent pulls of one reference
 * share the work.  */
int ctrd_pull(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *ref,
              const Runtime__V1__AuthConfig *auth, char **image_id, crimp_error_t *err);

struct ctrd_pulls *ctrd_pulls_new(void);
void ctrd_pulls_free(struct ctrd_pulls *p);

/* What pull.c and images.c share.  */
/* The GOARCH name of this machine ("amd64", "arm64"): images are pulled
 * and read for linux/<it>.  */
const char *ctrd_platform_arch(void);
/* The chain IDs of an image config's rootfs.diff_ids, bottom layer first:
 * *N entries (caller frees each and the array); INVALID_ARGUMENT when the
 * config has none or a malformed one.  */
char **ctrd_chain_ids(json_t *config, size_t *n, crimp_error_t *err);
/* Content/Read of DIGEST (a manifest, index or config: ≤ 4 MiB) parsed as
 * JSON (caller decrefs); NOT_FOUND when the blob is not there.  */
json_t *ctrd_content_json(struct ctrd_backend *b, const struct ctrd_opts *o, const char *digest,
                          crimp_error_t *err);
/* ctrd_call for a lookup: 1 with *RESP (caller frees), 0 with *RESP NULL
 * and no error when containerd answers NOT_FOUND, < 0 otherwise.  */
int ctrd_call_lookup(struct ctrd_conn *c, const struct ctrd_opts *o, const char *method,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp, crimp_error_t *err);
/* For a failed lookup's error E (taken): 0 when it is NOT_FOUND (E
 * released), else -1 with E moved into *ERR.  */
int ctrd_absent_ok(crimp_error_t *e, crimp_error_t *err);
/* Frees the N entries (heap messages) of a map field and the array, as
 * ctrd_map_from_json made them.  */
void ctrd_map_entries_free(size_t n, void *entries);
/* Snapshots.Stat of KEY in the backend's snapshotter: 1 when it exists,
 * 0 when not (unpack.c).  */
int ctrd_snapshot_exists(struct ctrd_backend *b, const struct ctrd_opts *o, const char *key,
                         crimp_error_t *err);
/* Unpacks the N layer blobs (in the content store) into one committed
 * snapshot per chain ID in CHAINS, labelled containerd.io/snapshot.ref;
 * each applied layer must match its diff ID in DIFF_IDS (DATA_LOSS).
 * Snapshots that exist are skipped.  Run under a lease (O).  */
struct dist_descriptor;
int ctrd_unpack(struct ctrd_backend *b, const struct ctrd_opts *o,
                const struct dist_descriptor *layers, size_t n, json_t *diff_ids,
                char *const *chains, crimp_error_t *err);

/* ---- the operations: ctrd_<op> for every RPC (backends/backend.h), each
 * in the file of its group ------------------------------------------------ */
#define CRIMP_OPS_PREFIX ctrd
CRIMP_DECLARE_OPS

/* ---- store.c: what crimp knows of its pods and containers --------------
 * containerd keeps containers and tasks but nothing CRI-specific (configs,
 * exit codes once a task is deleted, the pod's network): crimp keeps one
 * record per sandbox and container in memory and in a checkpoint file
 * (state_dir/sandboxes/<id>, state_dir/containers/<id>) so that status
 * survives a crimpd restart.  Records are reference-counted: a lookup
 * returns a reference (ctrd_*_put releases it); fields change under the
 * record's MU; EXITED is broadcast when the task's exit was handled.  */
struct ctrd_sandbox {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t exited;
    char *id;
    Runtime__V1__PodSandboxConfig *config;
    char *runtime_handler;
    Runtime__V1__PodSandboxState state;
    int64_t created_at;
    int pid;
    char *netns;      /* pinned netns path; NULL for host network */
    json_t *ips;      /* CNI addresses, IPv4 first */
    bool network_down; /* CNI DEL done (or never needed) */
    bool task_exited;  /* the pause task is gone */
};

struct ctrd_container {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t exited;
    char *id, *sandbox_id;
    Runtime__V1__ContainerConfig *config;
    char *image_id;   /* config digest */
    char *image_name; /* as the config named it */
    Runtime__V1__ContainerState state;
    int64_t created_at, started_at, finished_at;
    int exit_code;
    char *reason, *message;
    char *log_path;   /* "" when kubelet asked for none */
    char *fifo_dir;   /* where its stdio FIFOs are, NULL before start */
    struct crimp_cgroup_dirs *cgroup; /* found at start: stats and the OOM kill count */
    char *upper_dir;  /* its writable layer (overlay upperdir), NULL until known */
    int pid;
    bool kill_sent;   /* the stop signal went out once */
    bool task_done;   /* the exit was handled (state EXITED) */
    bool task_gone;   /* Tasks/Delete done (or no task was ever made) */
    /* A StartContainer cut short (containerd unreachable, a deadline) may
     * have a task that containerd makes late: the reaper asks until
     * UNSETTLED_UNTIL_NS (monotonic) and removes one it finds; ContainerStatus
     * says unknown meanwhile.  */
    bool start_unsettled;
    int64_t unsettled_until_ns;
};

int ctrd_store_init(struct ctrd_backend *b, crimp_error_t *err);
void ctrd_store_free(struct ctrd_backend *b);

/* Adds a record (the store takes one reference) and writes its checkpoint.  */
int ctrd_sandbox_add(struct ctrd_backend *b, struct ctrd_sandbox *s, crimp_error_t *err);
int ctrd_container_add(struct ctrd_backend *b, struct ctrd_container *c, crimp_error_t *err);
/* A new reference to the record whose ID is ID or starts with it (unique);
 * NULL with NOT_FOUND naming ID.  */
struct ctrd_sandbox *ctrd_sandbox_get(struct ctrd_backend *b, const char *id, crimp_error_t *err);
struct ctrd_container *ctrd_container_get(struct ctrd_backend *b, const char *id,
                                          crimp_error_t *err);
void ctrd_sandbox_put(struct ctrd_sandbox *s);
void ctrd_container_put(struct ctrd_container *c);
/* Writes the record's checkpoint; call with its MU held.  */
int ctrd_sandbox_save(struct ctrd_backend *b, struct ctrd_sandbox *s, crimp_error_t *err);
int ctrd_container_save(struct ctrd_backend *b, struct ctrd_container *c, crimp_error_t *err);
/* Forgets the record and removes its checkpoint.  */
void ctrd_sandbox_forget(struct ctrd_backend *b, struct ctrd_sandbox *s);
void ctrd_container_forget(struct ctrd_backend *b, struct ctrd_container *c);
/* References to every record (of sandbox SANDBOX_ID only, when not NULL);
 * *N is set; release with ctrd_*_put_all.  */
struct ctrd_sandbox **ctrd_sandboxes(struct ctrd_backend *b, size_t *n);
struct ctrd_container **ctrd_containers(struct ctrd_backend *b, const char *sandbox_id, size_t *n);
void ctrd_sandboxes_put_all(struct ctrd_sandbox **v, size_t n);
void ctrd_containers_put_all(struct ctrd_container **v, size_t n);

/* Names (names.c): a pod's or container's name is reserved from the start
 * of its creation until its record is removed.  The reserve calls return the
 * key to release once the record is added or the creation failed, or NULL
 * with ALREADY_EXISTS naming the holder.  */
char *ctrd_pod_name_key(const Runtime__V1__PodSandboxMetadata *m);
char *ctrd_container_name_key(const char *pod_id, const Runtime__V1__ContainerMetadata *m);
char *ctrd_reserve_pod_name(struct ctrd_backend *b, const Runtime__V1__PodSandboxMetadata *m,
                            const char *id, crimp_error_t *err);
char *ctrd_reserve_container_name(struct ctrd_backend *b, const char *pod_id,
                                  const Runtime__V1__ContainerMetadata *m, const char *id,
                                  crimp_error_t *err);
/* Store side: 0 when KEY was free (now held by ID until released), else -1
 * with *HOLDER the ID of the record or creation holding it.  */
int ctrd_store_reserve_name(struct ctrd_backend *b, const char *key, const char *id,
                            char **holder);
void ctrd_store_release_name(struct ctrd_backend *b, const char *key);

/* New records, zeroed, one reference.  */
struct ctrd_sandbox *ctrd_sandbox_new(const char *id);
struct ctrd_container *ctrd_container_new(const char *id);

/* A deep copy of M (through the wire format).  */
ProtobufCMessage *ctrd_pb_clone(const ProtobufCMessage *m);

/* A random 64-hex-digit ID; NULL when the random source failed.  */
char *ctrd_new_id(crimp_error_t *err);

/* ---- sandbox.c, container.c: shared steps (ctrd_task.c) ---------------- */
struct Containerd__Services__Snapshots__V1__PrepareSnapshotResponse;
struct Containerd__Types__Mount;

/* state_dir/pods/<id>: the pod's hostname, hosts, resolv.conf, shm.  */
char *ctrd_pod_dir(struct ctrd_backend *b, const char *id);
void ctrd_remove_pod_files(struct ctrd_backend *b, const char *id);
/* CNI DEL and the netns, once (call with S->mu held).  */
int ctrd_sandbox_teardown_network(struct ctrd_backend *b, struct ctrd_sandbox *s,
                                  crimp_error_t *err);
/* Stops every container of S and its pause task, releases its network.  */
int ctrd_sandbox_stop(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_sandbox *s,
                      crimp_error_t *err);

int ctrd_prepare_rootfs(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *lease,
                        const char *key, const char *parent,
                        struct Containerd__Services__Snapshots__V1__PrepareSnapshotResponse **out,
                        crimp_error_t *err);
int ctrd_create_record(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *lease,
                       const char *id, const char *image, const char *kind, json_t *spec,
                       crimp_error_t *err);
int ctrd_create_task(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                     struct Containerd__Types__Mount **mounts, size_t n_mounts,
                     const struct ctrd_fifos *io, bool terminal, int *pid, crimp_error_t *err);
int ctrd_start_task(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                    const char *exec_id, crimp_error_t *err);
int ctrd_kill(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id, const char *exec_id,
              int sig, crimp_error_t *err);
/* Tasks/Delete; a task that is gone is success.  */
int ctrd_delete_task(struct ctrd_backend *b, const char *id, crimp_error_t *err);

/* What containerd holds of a container's task (Tasks/Get).  */
enum ctrd_task_found { CTRD_TASK_ABSENT, CTRD_TASK_STOPPED, CTRD_TASK_LIVE };
struct ctrd_task_state {
    enum ctrd_task_found found;
    uint32_t exit_status; /* CTRD_TASK_STOPPED */
    int64_t exited_at_ns; /* CTRD_TASK_STOPPED; 0 when containerd did not say */
};
/* Tasks/Get of ID's task, bounded by TIMEOUT_S: NOT_FOUND (or no process)
 * is CTRD_TASK_ABSENT; -1 with ERR only when containerd did not tell.  */
int ctrd_task_get(struct ctrd_backend *b, const char *id, int timeout_s,
                  struct ctrd_task_state *state, crimp_error_t *err);
int ctrd_delete_record(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                       crimp_error_t *err);

/* The full ID of running container ID; NOT_FOUND or FAILED_PRECONDITION
 * (not running) otherwise.  Caller frees.  */
char *ctrd_running_container_id(struct ctrd_backend *b, const char *id, crimp_error_t *err);

/* Stops C: its stop signal, TIMEOUT_S seconds, then SIGKILL.  */
int ctrd_container_stop(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_container *c,
                        int64_t timeout_s, crimp_error_t *err);
/* Stops C if needed and deletes its task, record, snapshot, FIFOs.  */
int ctrd_container_remove(struct ctrd_backend *b, struct crimp_rpc *rpc,
                          struct ctrd_container *c, crimp_error_t *err);

/* ---- exec.c: a process started in a running container ------------------ */
struct exec_exit;
struct ctrd_exec {
    struct ctrd_backend *b;
    char *container_id, *exec_id;
    struct ctrd_fifos fifos; /* our ends: fd_in (stdin), fd_out, fd_err */
    struct exec_exit *exit;
    bool waiting, started;
};
/* Tasks/Exec of CMD with the container's process spec, its Wait armed,
 * Tasks/Start; stdio FIFOs as asked (no stderr with a tty).  */
struct ctrd_exec *ctrd_exec_begin(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                                  char *const *cmd, size_t n_cmd, bool tty, bool want_stdin,
                                  bool want_stderr, crimp_error_t *err);
void ctrd_exec_kill(struct ctrd_exec *x);
/* The exit status once the process ended, < 0 when it did not by the deadline.  */
int ctrd_exec_wait(struct ctrd_exec *x, int64_t deadline_mono_ns, int *status);
/* Kills it if still running, Tasks/DeleteProcess, FIFOs removed, X freed.  */
void ctrd_exec_end(struct ctrd_exec *x);

/* Tasks/CloseIO of the process's stdin (EXEC_ID NULL: the main process).
 * The shim keeps a write end of the stdin FIFO open itself, so closing
 * crimp's end is not enough: only this gives the process its EOF.  */
int ctrd_close_stdin(struct ctrd_backend *b, const char *id, const char *exec_id,
                     crimp_error_t *err);

/* stream.c: Exec, Attach and PortForward on crimp's streaming server.  */
extern const struct crimp_stream_ops ctrd_stream_ops;

/* ---- monitor.c: task exits ---------------------------------------------
 * Tasks/Wait completions are handled on a reaper thread: Tasks/Delete, the
 * log drained, the record updated and saved, waiters woken.  */
struct ctrd_monitor;
struct ctrd_monitor *ctrd_monitor_new(struct ctrd_backend *b);
/* Stops the reaper; exits reported afterwards are dropped.  Call before
 * the connection is freed (its waits end with CANCELLED then), and free
 * the monitor after.  */
void ctrd_monitor_stop(struct ctrd_monitor *m);
void ctrd_monitor_free(struct ctrd_monitor *m);
/* Watches the init task of container or sandbox ID.  */
int ctrd_monitor_watch(struct ctrd_backend *b, const char *id, crimp_error_t *err);
/* Re-reads what containerd knows of every record (at start, after a
 * reconnect): running tasks are watched again, vanished ones recorded as
 * exited.  */
void ctrd_monitor_resync(struct ctrd_backend *b);
/* Queues ctrd_recover_containerd on the reaper (retried every second
 * while containerd cannot be reached).  */
void ctrd_monitor_recover(struct ctrd_backend *b);
/* Queues ctrd_sweep_shims on the reaper DELAY_NS from now, unless one is
 * queued already: after a reconnect and after a container is deleted.  */
void ctrd_monitor_sweep_shims(struct ctrd_backend *b, int64_t delay_ns);
/* Has the reaper close container ID's stdin (ctrd_close_stdin) soon: for
 * the log copier, which must not wait on containerd.  CTX is the backend.  */
void ctrd_monitor_close_stdin(void *ctx, const char *id);
/* Handles the exit of ID now (Tasks/Delete, record update), as the reaper
 * would; used when a wait was lost.  */
void ctrd_monitor_reap(struct ctrd_backend *b, const char *id, uint32_t status, int64_t at_ns);

/* Waits on REC's EXITED until FLAG is true or DEADLINE_MONO_NS passes;
 * returns whether the flag is true.  */
bool ctrd_wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *flag,
                    int64_t deadline_mono_ns);

/* One call whose reply is not needed, where NOT_FOUND (the thing is gone
 * already) counts as done: kills and deletes (ctrd_task.c).  */
int ctrd_call_gone_ok(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                      crimp_error_t *err);

/* ---- recover.c: crash consistency ---------------------------------------
 * An intent (state_dir/intents/<id>, fsync'd and renamed into place) is
 * written before the first side effect of RunPodSandbox / CreateContainer
 * and removed once the record is written or the attempt undone.  KIND is
 * "sandbox" or "container", WHAT names it for the log ("ns/name").  */
int ctrd_intent_begin(struct ctrd_backend *b, const char *kind, const char *id,
                      const char *what, crimp_error_t *err);
void ctrd_intent_end(struct ctrd_backend *b, const char *id);
/* At open, before serving: removes what crimp made on this host that no
 * record explains (CNI attachments, netns, pod files and shm, FIFOs).  */
void ctrd_recover_local(struct ctrd_backend *b);
/* On the reaper: removes containerd containers, tasks and rootfs
 * snapshots that neither a record nor a live intent explains, then the
 * stale intents.  Fails (to be retried) when containerd cannot be reached.  */
int ctrd_recover_containerd(struct ctrd_backend *b, crimp_error_t *err);
/* Containers/List of the namespace, with a 10 s deadline; NULL on error.  */
Containerd__Services__Containers__V1__ListContainersResponse *
ctrd_containerd_containers(struct ctrd_backend *b, crimp_error_t *err);
/* The value of label KEY of container C, or NULL.  */
const char *ctrd_container_label(const Containerd__Services__Containers__V1__Container *c,
                                 const char *key);
/* Adds the IDs of this crimpd's calls in flight (live intents) to SET.  */
void ctrd_live_intents_into(struct ctrd_backend *b, json_t *set);

/* ---- shim_sweep.c --------------------------------------------------------
 * Ends the containerd shims of this namespace and socket that serve no
 * container, group or call in flight and have no child (containerd leaks
 * them when a call is cancelled mid-way); *KILLED counts them.  Fails when
 * containerd cannot list its containers (nothing is killed then).  */
int ctrd_sweep_shims(struct ctrd_backend *b, size_t *killed, crimp_error_t *err);
/* Polls Tasks/Get until ID's task is stopped or gone (10 s at most).  */
void ctrd_wait_task_stopped(struct ctrd_backend *b, const char *id);
/* The same until DEADLINE_NS (monotonic).  */
void ctrd_wait_task_stopped_until(struct ctrd_backend *b, const char *id, int64_t deadline_ns);

/* ---- stray_task.c: a task the record does not account for --------------- */

/* Finds ID's task (Tasks/Get, asked again while containerd is unreachable,
 * until UNTIL_NS) and removes it: a running one gets SIGTERM and GRACE_S
 * seconds when GRACE_S > 0, then SIGKILL, the wait and Tasks/Delete.  */
int ctrd_settle_task(struct ctrd_backend *b, const char *id, int64_t grace_s, int64_t until_ns,
                     crimp_error_t *err);
/* ctrd_settle_task for C when its record is not running, whatever its
 * task_gone says (C's lock not held); then marks the task gone.  */
int ctrd_container_settle(struct ctrd_backend *b, struct ctrd_container *c, int64_t grace_s,
                          crimp_error_t *err);
/* Has the reaper check ID's task (monitor.c).  */
void ctrd_monitor_check(struct ctrd_backend *b, const char *id);
/* Reattaches the log copier of container C found at start, unless one
 * copies already: the shim still holds the FIFOs' write ends.  Not stdin:
 * the write end crimp held died with the old crimpd, which was the
 * process's stdin EOF.  */
void ctrd_log_resume(struct ctrd_backend *b, struct ctrd_container *c);
/* ctrd_log_resume for every container running on record, and every one
 * whose start crimpd died in, at start before any call to containerd:
 * reading a FIFO needs no containerd, and a container whose output nobody
 * reads blocks once the FIFO's 64 KiB are full.  */
void ctrd_log_resume_all(struct ctrd_backend *b);

/* Stats (stats.c) and metrics (metrics.c).  */
struct crimp_pod_facts;
struct crimp_container_facts;
struct crimp_fs_usage;
/* What names and measures C in stats and metrics (C locked), without its
 * labels and annotations; LAYER receives its writable layer's usage.  */
struct crimp_container_facts ctrd_container_facts(struct ctrd_backend *b,
                                                  struct ctrd_container *c,
                                                  struct crimp_fs_usage *layer);
/* Learns the upper directory of running container C when a crimpd restart
 * lost it: one Snapshots/Mounts, outside C's lock.  */
void ctrd_learn_upper_dir(struct ctrd_backend *b, struct crimp_rpc *rpc,
                          struct ctrd_container *c);
/* What names S in stats and metrics (S locked); labels and annotations are
 * the caller's to free.  */
struct crimp_pod_facts ctrd_pod_facts(struct ctrd_sandbox *s);

/* The overlay upper directory of snapshot KEY (a container's writable
 * layer), NULL with *err when containerd cannot say (container.c).  */
char *ctrd_snapshot_upper_dir(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *key,
                              crimp_error_t *err);
/* The same from mounts already fetched; NULL when none is an overlay.  */
char *ctrd_upper_dir_of_mounts(struct Containerd__Types__Mount **mounts, size_t n);
/* Finds C's cgroup directories from its pid (C locked), for stats and the
 * OOM count; kept until C is freed.  */
void ctrd_container_find_cgroup(struct ctrd_container *c);

#endif
