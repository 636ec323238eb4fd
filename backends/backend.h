/* backends/backend.h — the one interface every crimp backend implements.
 * Read this first.
 *
 * crimpd (shim/) receives a CRI call from kubelet, unpacks it with protobuf-c,
 * checks the fields every backend needs (see proto/cri_rpcs.h), picks a
 * backend and calls one operation of its `struct crimp_backend_ops`.  The
 * operation does the work against its runtime (dockerd, containerd, another
 * CRI endpoint) and fills the protobuf-c response.  shim/ packs the reply or
 * turns the error into a gRPC status.
 *
 * Rules for an operation:
 *   - Return 0 and fill *resp, or return < 0 and set *err (common/error.h)
 *     with the gRPC code kubelet should see and a message naming what failed
 *     ("docker: POST /containers/create: 404 no such image: busybox").
 *   - Every pointer stored into *resp (strings, sub-messages, arrays) must be
 *     heap memory the response owns: shim/ frees the response with
 *     protobuf_c_message_free_unpacked().  Empty strings may stay as
 *     protobuf_c_empty_string.
 *   - Operations run on worker threads, several at once: a backend guards its
 *     own shared state.
 *   - Respect crimp_rpc_cancelled() / the deadline in long operations; pass
 *     rpc->call as the parent of outgoing gRPC calls so kubelet's deadline
 *     and cancellation propagate.  Clients with no parent to inherit from
 *     (HTTP) bound each request by the call's budget, which crimpd sets on
 *     the worker thread (common/deadline.h): kubelet's deadline, else the
 *     backend's call_timeout.
 *   - crimpd runs at most config->max_calls operations of one backend at
 *     once per lane and answers Status from a background probe: an
 *     operation that hangs costs only its own backend's slots.
 *   - A NULL operation means "not supported by this backend": the client
 *     gets UNIMPLEMENTED naming the backend and the RPC.
 *
 * Server-streaming operations (STREAM in proto/cri_rpcs.h) send each message
 * with crimp_rpc_send() and return when the stream ends; shim/ then sends
 * the final status.
 *
 * Where each RPC group lives: the same file name in each backend folder
 * (backends/docker/, backends/containerd/), so that one RPC is found in the
 * same place in both:
 *
 *   <type>.c            open, close, Version, Status, UpdateRuntimeConfig;
 *                       the ops table (docker.c, containerd.c)
 *   sandbox.c           RunPodSandbox, StopPodSandbox, RemovePodSandbox
 *   sandbox_status.c    PodSandboxStatus, ListPodSandbox
 *   container.c         CreateContainer, StartContainer, StopContainer,
 *                       RemoveContainer, UpdateContainerResources,
 *                       ReopenContainerLog
 *   container_status.c  ContainerStatus, ListContainers
 *   exec.c              ExecSync
 *   stream.c            Exec, Attach, PortForward (the sessions stream/ serves)
 *   images.c            ListImages, ImageStatus, PullImage, RemoveImage,
 *                       ImageFsInfo
 *   stats.c             ContainerStats, ListContainerStats, PodSandboxStats,
 *                       ListPodSandboxStats
 *   metrics.c           ListMetricDescriptors, ListPodSandboxMetrics
 *   events.c            GetContainerEvents
 *   recover.c           no RPC: at open, sweeps what a crimpd killed
 *                       mid-call left behind
 *
 * Other files in a backend folder are its own helpers (the Docker client,
 * containerd's records and tasks, log copiers...).  backends/cri/cri.c
 * forwards every RPC as it is.  Adding an RPC: its row in proto/cri_rpcs.h
 * (and its messages in proto/cri.proto), its op in struct crimp_backend_ops
 * below, and in each backend a function in the file of its group plus its
 * line in the ops table (CRIMP_DECLARE_OPS below declares the function);
 * shim/ and stream/ follow the table unchanged.
 *
 * No backend includes another backend's headers.  backends/common holds
 * what every backend may use (CNI, OCI spec, CRI logs, checkpoints, cgroup
 * stats, netns); backends/common/registry the registry client (today only
 * the containerd backend pulls with it); common/ the daemon-wide helpers.  */
#ifndef CRIMP_BACKEND_H
#define CRIMP_BACKEND_H

#include <grpc/grpc.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cri.pb-c.h"
#include "cri_rpcs.h"
#include "error.h"

/* One CRI call in flight, as a backend sees it.  Filled by shim/.  */
struct crimp_rpc {
    const char *method;   /* "/runtime.v1.RuntimeService/Version" */
    grpc_call *call;      /* the server call: parent for outgoing calls */
    gpr_timespec deadline; /* kubelet's deadline (inf_future when none) */
    atomic_bool cancelled; /* set when the client cancelled or timed out */
    /* Sends one message of a server-streaming reply; blocks until gRPC took
     * it.  Fails with CANCELLED when the client went away.  */
    int (*send)(struct crimp_rpc *rpc, const ProtobufCMessage *msg, crimp_error_t *err);
};

static inline bool crimp_rpc_cancelled(struct crimp_rpc *rpc)
{
    return atomic_load(&rpc->cancelled);
}

static inline int crimp_rpc_send(struct crimp_rpc *rpc, const ProtobufCMessage *msg,
                                 crimp_error_t *err)
{
    return rpc->send(rpc, msg, err);
}

/* What the configuration says about one backend.  */
struct crimp_backend_config {
    char *name;     /* operator-chosen, unique: "docker", "containerd", "cri" */
    char *type;     /* "docker", "containerd" or "cri": picks the ops table */
    char *endpoint; /* "unix:///run/containerd/containerd.sock" */
    json_t *options; /* type-specific settings, owned by the config; may be NULL */
    char *state_dir; /* this backend's own dir under crimpd's state dir (created by the backend) */
    /* crimp's own limits for this backend (options max_calls, max_queued,
     * call_timeout, taken out of `options` before the backend sees them;
     * crimpd's backend_* defaults where not given).  */
    int max_calls;       /* calls running at once, per lane */
    int max_queued;      /* calls waiting for a turn, per lane */
    double call_timeout; /* seconds a call without a kubelet deadline may take */
};

/* A live backend.  Each implementation embeds this as its first member and
 * keeps its private state after it.  */
struct crimp_backend {
    const struct crimp_backend_ops *ops;
    const struct crimp_backend_config *config; /* owned by crimpd's config */
    /* Streaming sessions, and the threads that finish them, still using
     * the backend after the call that made their URL returned
     * (crimp_backend_hold/release).  crimp_router_free closes the backend
     * only once none is left.  */
    atomic_int stream_users;
};

static inline void crimp_backend_hold(struct crimp_backend *b)
{
    atomic_fetch_add(&b->stream_users, 1);
}

static inline void crimp_backend_release(struct crimp_backend *b)
{
    atomic_fetch_sub(&b->stream_users, 1);
}

/* The process's output, separated: IS_STDERR says which stream P's N bytes
 * belong to.  */
typedef void crimp_stdio_emit_fn(void *ctx, bool is_stderr, const uint8_t *p, size_t n);

/* How a backend's connection to a process carries its output.  stream/
 * reads the bytes and hands them here; the backend alone knows their
 * format (one decoder per format, owned by the backend that speaks it).  */
struct crimp_stream_output {
    /* Takes the next N bytes read from io->fd, split anywhere, and emits
     * their payload.  < 0 with *err when they are not what the backend's
     * format allows: the session ends with ERR as its status.  */
    int (*feed)(struct crimp_stream_output *self, const uint8_t *p, size_t n,
                crimp_stdio_emit_fn *emit, void *ctx, crimp_error_t *err);
    void (*free)(struct crimp_stream_output *self);
};

/* Exec, Attach and PortForward on runtimes that have no streaming server of
 * their own (docker): crimp serves the URL (stream/), and when the client
 * connects it asks the backend for the process's stdio with these.  */
struct crimp_stream_io {
    int fd;            /* bidirectional byte stream; closing it detaches */
    /* Decodes what fd carries into stdout and stderr; NULL: fd carries the
     * raw output of a single stream (a tty), all of it stdout.  */
    struct crimp_stream_output *output;
    char *early;       /* output bytes that arrived with the handshake */
    size_t n_early;
    char *handle;      /* the backend's name for the session (exec ID, container ID) */
    bool is_exec;
};

struct crimp_stream_ops {
    int (*exec_start)(struct crimp_backend *self, const Runtime__V1__ExecRequest *req,
                      struct crimp_stream_io *io, crimp_error_t *err);
    int (*attach_start)(struct crimp_backend *self, const Runtime__V1__AttachRequest *req,
                        struct crimp_stream_io *io, crimp_error_t *err);
    int (*resize)(struct crimp_backend *self, const struct crimp_stream_io *io, unsigned width,
                  unsigned height, crimp_error_t *err);
    /* The exit status of a finished exec.  */
    int (*exit_code)(struct crimp_backend *self, const struct crimp_stream_io *io, int *code,
                     crimp_error_t *err);
    /* Kills the process of an exec the session gave up on before it ended
     * (the client left or stopped reading, the session idled out or broke
     * a limit).  NULL: closing io->fd already does (containerd's relay).  */
    void (*kill)(struct crimp_backend *self, const struct crimp_stream_io *io);
    /* The network namespace of a pod (a path), NULL for host network.  */
    int (*pod_netns)(struct crimp_backend *self, const char *pod_id, char **path,
                     crimp_error_t *err);
};

#define CRIMP_UNARY_OP(op, Req, Resp)                                                              \
    int (*op)(struct crimp_backend * self, struct crimp_rpc * rpc,                                 \
              const Runtime__V1__##Req *req, Runtime__V1__##Resp *resp, crimp_error_t *err)
#define CRIMP_STREAM_OP(op, Req)                                                                   \
    int (*op)(struct crimp_backend * self, struct crimp_rpc * rpc,                                 \
              const Runtime__V1__##Req *req, crimp_error_t *err)

struct crimp_backend_ops {
    const char *type; /* matches crimp_backend_config.type */

    /* Connects (lazily is fine) and returns a new backend for CFG, or NULL
     * with *err set (INVALID_ARGUMENT for a bad option, naming the key).  */
    struct crimp_backend *(*open)(const struct crimp_backend_config *cfg, crimp_error_t *err);
    /* Releases everything open() made.  Called once, after the last call.  */
    void (*close)(struct crimp_backend *self);

    /* Passthrough backends only (cri): the channel to their CRI endpoint.
     * crimp then forwards read-only unary calls as bytes on it without a
     * worker thread (shim/passthrough.c); NULL for everything else.  */
    grpc_channel *(*raw_channel)(struct crimp_backend *self);

    /* --- RuntimeService: identity and health --------------------------- */
    /* The runtime behind the backend ("containerd", "1.6.20").  crimp
     * answers kubelet's Version itself and shows this in its own reply.  */
    CRIMP_UNARY_OP(version, VersionRequest, VersionResponse);
    /* Conditions of this backend; crimp merges them into its Status.  */
    CRIMP_UNARY_OP(status, StatusRequest, StatusResponse);
    CRIMP_UNARY_OP(update_runtime_config, UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse);
    CRIMP_UNARY_OP(runtime_config, RuntimeConfigRequest, RuntimeConfigResponse);

    /* --- Pod sandboxes --------------------------------------------------- */
    CRIMP_UNARY_OP(run_pod_sandbox, RunPodSandboxRequest, RunPodSandboxResponse);
    /* Idempotent: stopping a stopped or unknown-but-removed pod succeeds.  */
    CRIMP_UNARY_OP(stop_pod_sandbox, StopPodSandboxRequest, StopPodSandboxResponse);
    /* Idempotent: removing a pod that is gone succeeds.  */
    CRIMP_UNARY_OP(remove_pod_sandbox, RemovePodSandboxRequest, RemovePodSandboxResponse);
    CRIMP_UNARY_OP(pod_sandbox_status, PodSandboxStatusRequest, PodSandboxStatusResponse);
    CRIMP_UNARY_OP(list_pod_sandbox, ListPodSandboxRequest, ListPodSandboxResponse);
    CRIMP_STREAM_OP(stream_pod_sandboxes, StreamPodSandboxesRequest);
    CRIMP_UNARY_OP(update_pod_sandbox_resources, UpdatePodSandboxResourcesRequest,
                   UpdatePodSandboxResourcesResponse);

    /* --- Containers ------------------------------------------------------ */
    CRIMP_UNARY_OP(create_container, CreateContainerRequest, CreateContainerResponse);
    CRIMP_UNARY_OP(start_container, StartContainerRequest, StartContainerResponse);
    CRIMP_UNARY_OP(stop_container, StopContainerRequest, StopContainerResponse);
    CRIMP_UNARY_OP(remove_container, RemoveContainerRequest, RemoveContainerResponse);
    CRIMP_UNARY_OP(list_containers, ListContainersRequest, ListContainersResponse);
    CRIMP_STREAM_OP(stream_containers, StreamContainersRequest);
    CRIMP_UNARY_OP(container_status, ContainerStatusRequest, ContainerStatusResponse);
    CRIMP_UNARY_OP(update_container_resources, UpdateContainerResourcesRequest,
                   UpdateContainerResourcesResponse);
    CRIMP_UNARY_OP(reopen_container_log, ReopenContainerLogRequest, ReopenContainerLogResponse);
    CRIMP_UNARY_OP(checkpoint_container, CheckpointContainerRequest, CheckpointContainerResponse);
    CRIMP_STREAM_OP(get_container_events, GetEventsRequest);

    /* --- Exec, attach, port-forward ------------------------------------- */
    /* When set, crimp's own streaming server answers Exec, Attach and
     * PortForward and the three operations below are not used.  */
    const struct crimp_stream_ops *stream;
    CRIMP_UNARY_OP(exec_sync, ExecSyncRequest, ExecSyncResponse);
    /* These return a URL on a streaming server (stream/) that kubelet's
     * apiserver proxy then dials.  */
    CRIMP_UNARY_OP(exec, ExecRequest, ExecResponse);
    CRIMP_UNARY_OP(attach, AttachRequest, AttachResponse);
    CRIMP_UNARY_OP(port_forward, PortForwardRequest, PortForwardResponse);

    /* --- Stats and metrics ---------------------------------------------- */
    CRIMP_UNARY_OP(container_stats, ContainerStatsRequest, ContainerStatsResponse);
    CRIMP_UNARY_OP(list_container_stats, ListContainerStatsRequest, ListContainerStatsResponse);
    CRIMP_STREAM_OP(stream_container_stats, StreamContainerStatsRequest);
    CRIMP_UNARY_OP(pod_sandbox_stats, PodSandboxStatsRequest, PodSandboxStatsResponse);
    CRIMP_UNARY_OP(list_pod_sandbox_stats, ListPodSandboxStatsRequest,
                   ListPodSandboxStatsResponse);
    CRIMP_STREAM_OP(stream_pod_sandbox_stats, StreamPodSandboxStatsRequest);
    CRIMP_UNARY_OP(list_metric_descriptors, ListMetricDescriptorsRequest,
                   ListMetricDescriptorsResponse);
    CRIMP_UNARY_OP(list_pod_sandbox_metrics, ListPodSandboxMetricsRequest,
                   ListPodSandboxMetricsResponse);
    CRIMP_STREAM_OP(stream_pod_sandbox_metrics, StreamPodSandboxMetricsRequest);

    /* --- ImageService ---------------------------------------------------- */
    CRIMP_UNARY_OP(list_images, ListImagesRequest, ListImagesResponse);
    CRIMP_STREAM_OP(stream_images, StreamImagesRequest);
    CRIMP_UNARY_OP(image_status, ImageStatusRequest, ImageStatusResponse);
    CRIMP_UNARY_OP(pull_image, PullImageRequest, PullImageResponse);
    /* Idempotent: removing an image that is not there succeeds.  */
    CRIMP_UNARY_OP(remove_image, RemoveImageRequest, RemoveImageResponse);
    CRIMP_UNARY_OP(image_fs_info, ImageFsInfoRequest, ImageFsInfoResponse);
};

/* A backend's functions for its ops, declared from proto/cri_rpcs.h, one
 * per RPC with the signature of its op above: a backend's internal header
 * says
 *     #define CRIMP_OPS_PREFIX docker
 *     CRIMP_DECLARE_OPS
 * and has `int docker_<op>(...)` declared for every RPC, so that a new RPC
 * needs no declaration of its own.  What a backend does not define stays an
 * unused declaration.  */
#define CRIMP_OP_FN_(prefix, op) prefix##_##op
#define CRIMP_OP_FN(prefix, op)  CRIMP_OP_FN_(prefix, op)
#define CRIMP_DECLARE_OP_UNARY(fn, Req, Resp)                                                      \
    int fn(struct crimp_backend *self, struct crimp_rpc *rpc, const Runtime__V1__##Req *req,     \
           Runtime__V1__##Resp *resp, crimp_error_t *err);
#define CRIMP_DECLARE_OP_STREAM(fn, Req, Resp)                                                     \
    int fn(struct crimp_backend *self, struct crimp_rpc *rpc, const Runtime__V1__##Req *req,     \
           crimp_error_t *err);
#define CRIMP_DECLARE_OP(service_, Rpc_, op_, Req_, req_, Resp_, resp_, kind_, ...)                \
    CRIMP_DECLARE_OP_##kind_(CRIMP_OP_FN(CRIMP_OPS_PREFIX, op_), Req_, Resp_)
#define CRIMP_DECLARE_OPS CRIMP_CRI_RPCS(CRIMP_DECLARE_OP)

/* The backend implementations linked into crimpd, NULL-terminated.  */
extern const struct crimp_backend_ops *const crimp_backend_types[];

/* The ops table for TYPE, or NULL when no such backend type is built in.  */
const struct crimp_backend_ops *crimp_backend_ops_for_type(const char *type);

/* The built-in types, "cri, docker, containerd" (caller frees): for
 * messages.  */
char *crimp_backend_type_names(void);

#endif
