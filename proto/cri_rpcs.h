/* Every RPC of cri.proto, one row each, as an X-macro list: everything
 * crimpd (shim/) needs to know about an RPC is in its row, so adding an RPC
 * touches proto/cri.proto, this table, backends/backend.h and the backends
 * that implement it, and nothing in shim/.
 *
 * X(service, Rpc, op, Request, request, Response, response, kind, lane, required,
 *   route, access, ids, session)
 *   service   RUNTIME or IMAGE: /runtime.v1.RuntimeService or ImageService
 *   Rpc       the method name on the wire
 *   op        the member of struct crimp_backend_ops that serves it
 *   Request / request    the protobuf-c type suffix / descriptor stem
 *   Response / response  likewise for the reply (for server-streaming RPCs,
 *                        the type of each streamed message)
 *   kind      UNARY or STREAM (server-streaming)
 *   lane      where the call runs in crimpd: INLINE on the gRPC poller thread
 *             (answered by crimp itself, never blocks), FAST for calls that
 *             return in milliseconds, SLOW for calls that may block for
 *             seconds (pulls, stops with a grace period, exec), STREAM for
 *             long-lived server-streaming calls (a thread each)
 *   required  the request field that must be set (non-empty string or
 *             present message) before any backend sees the call, or NULL
 *   route     which backend serves it:
 *               DEFAULT     the default backend
 *               NEW_POD     the backend a runtime_handler names, else the default
 *               POD         the owner of the request's pod_sandbox_id
 *               CONTAINER   the owner of the request's container_id
 *               ALL         every backend, replies merged; one that fails is
 *                           logged and left out (Stream* lists: streamed in turn)
 *               ALL_STRICT  every backend, merged; any failure fails the call
 *               PULL        the backend of the pod in sandbox_config (by uid),
 *                           else the default
 *               FOLLOW_ALL  one stream that follows every backend's stream
 *   access    RO: read-only, crimp need not see the reply (with one cri
 *             backend the passthrough fast path forwards it as bytes);
 *             RW: changes state, or crimp answers, merges or watches it
 *   ids       what a success does to the ownership table (pod/container →
 *             backend): ADD_POD (reply's pod_sandbox_id, and the pod uid for
 *             PULL), ADD_CONTAINER (reply's container_id in the request's
 *             pod; the pod's backend gets the image first), DROP_POD,
 *             DROP_CONTAINER (the request's ID), LIST_PODS, LIST_CONTAINERS
 *             (every listed one), or NONE
 *   session   EXEC, ATTACH or PORTFORWARD: the reply is a URL on crimp's
 *             streaming server for backends without their own; else NONE
 *
 * Users: shim/dispatch.c builds its method table from this list (checked
 * against cri.proto by tests/unit/test_dispatch.c) and backends/cri
 * forwards each row.  Keep the order of cri.proto.  */
#ifndef CRIMP_CRI_RPCS_H
#define CRIMP_CRI_RPCS_H

#define CRIMP_CRI_RPCS(X)                                                                          \
    X(RUNTIME, Version, version, VersionRequest, version_request, VersionResponse,                 \
      version_response, UNARY, INLINE, NULL, DEFAULT, RW, NONE, NONE)                              \
    X(RUNTIME, RunPodSandbox, run_pod_sandbox, RunPodSandboxRequest, run_pod_sandbox_request,      \
      RunPodSandboxResponse, run_pod_sandbox_response, UNARY, SLOW, "config", NEW_POD, RW,         \
      ADD_POD, NONE)                                                                               \
    X(RUNTIME, StopPodSandbox, stop_pod_sandbox, StopPodSandboxRequest, stop_pod_sandbox_request,  \
      StopPodSandboxResponse, stop_pod_sandbox_response, UNARY, SLOW, "pod_sandbox_id", POD, RW,   \
      NONE, NONE)                                                                                  \
    X(RUNTIME, RemovePodSandbox, remove_pod_sandbox, RemovePodSandboxRequest,                      \
      remove_pod_sandbox_request, RemovePodSandboxResponse, remove_pod_sandbox_response, UNARY,    \
      SLOW, "pod_sandbox_id", POD, RW, DROP_POD, NONE)                                             \
    X(RUNTIME, PodSandboxStatus, pod_sandbox_status, PodSandboxStatusRequest,                      \
      pod_sandbox_status_request, PodSandboxStatusResponse, pod_sandbox_status_response, UNARY,    \
      FAST, "pod_sandbox_id", POD, RO, NONE, NONE)                                                 \
    X(RUNTIME, ListPodSandbox, list_pod_sandbox, ListPodSandboxRequest, list_pod_sandbox_request,  \
      ListPodSandboxResponse, list_pod_sandbox_response, UNARY, FAST, NULL, ALL, RO, LIST_PODS,    \
      NONE)                                                                                        \
    X(RUNTIME, StreamPodSandboxes, stream_pod_sandboxes, StreamPodSandboxesRequest,                \
      stream_pod_sandboxes_request, StreamPodSandboxesResponse, stream_pod_sandboxes_response,     \
      STREAM, STREAM, NULL, ALL, RW, NONE, NONE)                                                   \
    X(RUNTIME, CreateContainer, create_container, CreateContainerRequest,                          \
      create_container_request, CreateContainerResponse, create_container_response, UNARY, SLOW,   \
      "pod_sandbox_id", POD, RW, ADD_CONTAINER, NONE)                                              \
    X(RUNTIME, StartContainer, start_container, StartContainerRequest, start_container_request,    \
      StartContainerResponse, start_container_response, UNARY, SLOW, "container_id", CONTAINER,    \
      RW, NONE, NONE)                                                                              \
    X(RUNTIME, StopContainer, stop_container, StopContainerRequest, stop_container_request,        \
      StopContainerResponse, stop_container_response, UNARY, SLOW, "container_id", CONTAINER, RW,  \
      NONE, NONE)                                                                                  \
    X(RUNTIME, RemoveContainer, remove_container, RemoveContainerRequest,                          \
      remove_container_request, RemoveContainerResponse, remove_container_response, UNARY, SLOW,   \
      "container_id", CONTAINER, RW, DROP_CONTAINER, NONE)                                         \
    X(RUNTIME, ListContainers, list_containers, ListContainersRequest, list_containers_request,    \
      ListContainersResponse, list_containers_response, UNARY, FAST, NULL, ALL, RO,                \
      LIST_CONTAINERS, NONE)                                                                       \
    X(RUNTIME, StreamContainers, stream_containers, StreamContainersRequest,                       \
      stream_containers_request, StreamContainersResponse, stream_containers_response, STREAM,     \
      STREAM, NULL, ALL, RW, NONE, NONE)                                                           \
    X(RUNTIME, ContainerStatus, container_status, ContainerStatusRequest,                          \
      container_status_request, ContainerStatusResponse, container_status_response, UNARY, FAST,   \
      "container_id", CONTAINER, RO, NONE, NONE)                                                   \
    X(RUNTIME, UpdateContainerResources, update_container_resources,                               \
      UpdateContainerResourcesRequest, update_container_resources_request,                         \
      UpdateContainerResourcesResponse, update_container_resources_response, UNARY, FAST,          \
      "container_id", CONTAINER, RW, NONE, NONE)                                                   \
    X(RUNTIME, ReopenContainerLog, reopen_container_log, ReopenContainerLogRequest,                \
      reopen_container_log_request, ReopenContainerLogResponse, reopen_container_log_response,     \
      UNARY, FAST, "container_id", CONTAINER, RW, NONE, NONE)                                      \
    X(RUNTIME, ExecSync, exec_sync, ExecSyncRequest, exec_sync_request, ExecSyncResponse,          \
      exec_sync_response, UNARY, SLOW, "container_id", CONTAINER, RW, NONE, NONE)                  \
    X(RUNTIME, Exec, exec, ExecRequest, exec_request, ExecResponse, exec_response, UNARY, FAST,    \
      "container_id", CONTAINER, RW, NONE, EXEC)                                                   \
    X(RUNTIME, Attach, attach, AttachRequest, attach_request, AttachResponse, attach_response,     \
      UNARY, FAST, "container_id", CONTAINER, RW, NONE, ATTACH)                                    \
    X(RUNTIME, PortForward, port_forward, PortForwardRequest, port_forward_request,                \
      PortForwardResponse, port_forward_response, UNARY, FAST, "pod_sandbox_id", POD, RW, NONE,    \
      PORTFORWARD)                                                                                 \
    X(RUNTIME, ContainerStats, container_stats, ContainerStatsRequest, container_stats_request,    \
      ContainerStatsResponse, container_stats_response, UNARY, FAST, "container_id", CONTAINER,    \
      RO, NONE, NONE)                                                                              \
    X(RUNTIME, ListContainerStats, list_container_stats, ListContainerStatsRequest,                \
      list_container_stats_request, ListContainerStatsResponse, list_container_stats_response,     \
      UNARY, FAST, NULL, ALL, RO, NONE, NONE)                                                      \
    X(RUNTIME, StreamContainerStats, stream_container_stats, StreamContainerStatsRequest,          \
      stream_container_stats_request, StreamContainerStatsResponse,                                \
      stream_container_stats_response, STREAM, STREAM, NULL, ALL, RW, NONE, NONE)                  \
    X(RUNTIME, PodSandboxStats, pod_sandbox_stats, PodSandboxStatsRequest,                         \
      pod_sandbox_stats_request, PodSandboxStatsResponse, pod_sandbox_stats_response, UNARY, FAST, \
      "pod_sandbox_id", POD, RO, NONE, NONE)                                                       \
    X(RUNTIME, ListPodSandboxStats, list_pod_sandbox_stats, ListPodSandboxStatsRequest,            \
      list_pod_sandbox_stats_request, ListPodSandboxStatsResponse,                                 \
      list_pod_sandbox_stats_response, UNARY, FAST, NULL, ALL, RO, NONE, NONE)                     \
    X(RUNTIME, StreamPodSandboxStats, stream_pod_sandbox_stats, StreamPodSandboxStatsRequest,      \
      stream_pod_sandbox_stats_request, StreamPodSandboxStatsResponse,                             \
      stream_pod_sandbox_stats_response, STREAM, STREAM, NULL, ALL, RW, NONE, NONE)                \
    X(RUNTIME, UpdateRuntimeConfig, update_runtime_config, UpdateRuntimeConfigRequest,             \
      update_runtime_config_request, UpdateRuntimeConfigResponse, update_runtime_config_response,  \
      UNARY, FAST, NULL, ALL, RW, NONE, NONE)                                                      \
    X(RUNTIME, Status, status, StatusRequest, status_request, StatusResponse, status_response,     \
      UNARY, FAST, NULL, DEFAULT, RW, NONE, NONE)                                                  \
    X(RUNTIME, CheckpointContainer, checkpoint_container, CheckpointContainerRequest,              \
      checkpoint_container_request, CheckpointContainerResponse, checkpoint_container_response,    \
      UNARY, SLOW, "container_id", CONTAINER, RW, NONE, NONE)                                      \
    X(RUNTIME, GetContainerEvents, get_container_events, GetEventsRequest, get_events_request,     \
      ContainerEventResponse, container_event_response, STREAM, STREAM, NULL, FOLLOW_ALL, RW,      \
      NONE, NONE)                                                                                  \
    X(RUNTIME, ListMetricDescriptors, list_metric_descriptors, ListMetricDescriptorsRequest,       \
      list_metric_descriptors_request, ListMetricDescriptorsResponse,                              \
      list_metric_descriptors_response, UNARY, FAST, NULL, DEFAULT, RW, NONE, NONE)                \
    X(RUNTIME, ListPodSandboxMetrics, list_pod_sandbox_metrics, ListPodSandboxMetricsRequest,      \
      list_pod_sandbox_metrics_request, ListPodSandboxMetricsResponse,                             \
      list_pod_sandbox_metrics_response, UNARY, FAST, NULL, ALL, RW, NONE, NONE)                   \
    X(RUNTIME, StreamPodSandboxMetrics, stream_pod_sandbox_metrics,                                \
      StreamPodSandboxMetricsRequest, stream_pod_sandbox_metrics_request,                          \
      StreamPodSandboxMetricsResponse, stream_pod_sandbox_metrics_response, STREAM, STREAM, NULL,  \
      ALL, RW, NONE, NONE)                                                                         \
    X(RUNTIME, RuntimeConfig, runtime_config, RuntimeConfigRequest, runtime_config_request,        \
      RuntimeConfigResponse, runtime_config_response, UNARY, FAST, NULL, DEFAULT, RW, NONE, NONE)  \
    X(RUNTIME, UpdatePodSandboxResources, update_pod_sandbox_resources,                            \
      UpdatePodSandboxResourcesRequest, update_pod_sandbox_resources_request,                      \
      UpdatePodSandboxResourcesResponse, update_pod_sandbox_resources_response, UNARY, FAST,       \
      "pod_sandbox_id", POD, RW, NONE, NONE)                                                       \
    X(IMAGE, ListImages, list_images, ListImagesRequest, list_images_request, ListImagesResponse,  \
      list_images_response, UNARY, FAST, NULL, ALL, RO, NONE, NONE)                                \
    X(IMAGE, StreamImages, stream_images, StreamImagesRequest, stream_images_request,              \
      StreamImagesResponse, stream_images_response, STREAM, STREAM, NULL, ALL, RW, NONE, NONE)     \
    X(IMAGE, ImageStatus, image_status, ImageStatusRequest, image_status_request,                  \
      ImageStatusResponse, image_status_response, UNARY, FAST, "image", DEFAULT, RO, NONE, NONE)   \
    X(IMAGE, PullImage, pull_image, PullImageRequest, pull_image_request, PullImageResponse,       \
      pull_image_response, UNARY, SLOW, "image", PULL, RW, NONE, NONE)                             \
    X(IMAGE, RemoveImage, remove_image, RemoveImageRequest, remove_image_request,                  \
      RemoveImageResponse, remove_image_response, UNARY, SLOW, "image", ALL_STRICT, RW, NONE,      \
      NONE)                                                                                        \
    X(IMAGE, ImageFsInfo, image_fs_info, ImageFsInfoRequest, image_fs_info_request,                \
      ImageFsInfoResponse, image_fs_info_response, UNARY, FAST, NULL, ALL, RO, NONE, NONE)

/* The server-streaming list RPCs and their unary twins: the request is
 * the same on the wire (field 1, the same filter), and each streamed reply
 * carries elements of the twin's one repeated field.
 *
 * T(service, StreamRpc, stream_op, stream_response, list_op, ListRequest, list_request,
 *   ListResponse, list_response)
 *   service          RUNTIME or IMAGE, as in CRIMP_CRI_RPCS
 *   StreamRpc        the streaming method; its request type is StreamRpc##Request
 *   stream_op        its member of struct crimp_backend_ops
 *   stream_response  the descriptor stem of each streamed message
 *   list_op ...      the unary twin: member, request and response types/stems
 *
 * Users: backends/common/list_stream.c serves each from its twin, the cri
 * backend falls back to that, shim/route.c sends them to every backend.  */
#define CRIMP_CRI_STREAM_TWINS(T)                                                                  \
    T(RUNTIME, StreamPodSandboxes, stream_pod_sandboxes, stream_pod_sandboxes_response,            \
      list_pod_sandbox, ListPodSandboxRequest, list_pod_sandbox_request, ListPodSandboxResponse,   \
      list_pod_sandbox_response)                                                                   \
    T(RUNTIME, StreamContainers, stream_containers, stream_containers_response, list_containers,   \
      ListContainersRequest, list_containers_request, ListContainersResponse,                      \
      list_containers_response)                                                                    \
    T(RUNTIME, StreamContainerStats, stream_container_stats, stream_container_stats_response,      \
      list_container_stats, ListContainerStatsRequest, list_container_stats_request,               \
      ListContainerStatsResponse, list_container_stats_response)                                   \
    T(RUNTIME, StreamPodSandboxStats, stream_pod_sandbox_stats, stream_pod_sandbox_stats_response, \
      list_pod_sandbox_stats, ListPodSandboxStatsRequest, list_pod_sandbox_stats_request,          \
      ListPodSandboxStatsResponse, list_pod_sandbox_stats_response)                                \
    T(RUNTIME, StreamPodSandboxMetrics, stream_pod_sandbox_metrics,                                \
      stream_pod_sandbox_metrics_response, list_pod_sandbox_metrics, ListPodSandboxMetricsRequest, \
      list_pod_sandbox_metrics_request, ListPodSandboxMetricsResponse,                             \
      list_pod_sandbox_metrics_response)                                                           \
    T(IMAGE, StreamImages, stream_images, stream_images_response, list_images, ListImagesRequest,  \
      list_images_request, ListImagesResponse, list_images_response)

#define CRIMP_CRI_SERVICE_RUNTIME "/runtime.v1.RuntimeService/"
#define CRIMP_CRI_SERVICE_IMAGE   "/runtime.v1.ImageService/"

#endif
