/* Every RPC of cri.proto, one row each, as an X-macro list.
 *
 * X(service, Rpc, op, Request, request, Response, response, kind, lane, required)
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
 *
 * Users: shim/dispatch.c builds its method table from this list and
 * backends/cri forwards each row.  Keep the order of cri.proto.  */
#ifndef CRIMP_CRI_RPCS_H
#define CRIMP_CRI_RPCS_H

#define CRIMP_CRI_RPCS(X)                                                                          \
    X(RUNTIME, Version, version, VersionRequest, version_request, VersionResponse,                 \
      version_response, UNARY, INLINE, NULL)                                                       \
    X(RUNTIME, RunPodSandbox, run_pod_sandbox, RunPodSandboxRequest, run_pod_sandbox_request,      \
      RunPodSandboxResponse, run_pod_sandbox_response, UNARY, SLOW, "config")                      \
    X(RUNTIME, StopPodSandbox, stop_pod_sandbox, StopPodSandboxRequest,                            \
      stop_pod_sandbox_request, StopPodSandboxResponse, stop_pod_sandbox_response, UNARY, SLOW,    \
      "pod_sandbox_id")                                                                            \
    X(RUNTIME, RemovePodSandbox, remove_pod_sandbox, RemovePodSandboxRequest,                      \
      remove_pod_sandbox_request, RemovePodSandboxResponse, remove_pod_sandbox_response, UNARY,    \
      SLOW, "pod_sandbox_id")                                                                      \
    X(RUNTIME, PodSandboxStatus, pod_sandbox_status, PodSandboxStatusRequest,                      \
      pod_sandbox_status_request, PodSandboxStatusResponse, pod_sandbox_status_response, UNARY,    \
      FAST, "pod_sandbox_id")                                                                      \
    X(RUNTIME, ListPodSandbox, list_pod_sandbox, ListPodSandboxRequest, list_pod_sandbox_request,  \
      ListPodSandboxResponse, list_pod_sandbox_response, UNARY, FAST, NULL)                        \
    X(RUNTIME, StreamPodSandboxes, stream_pod_sandboxes, StreamPodSandboxesRequest,                \
      stream_pod_sandboxes_request, StreamPodSandboxesResponse, stream_pod_sandboxes_response,     \
      STREAM, STREAM, NULL)                                                                        \
    X(RUNTIME, CreateContainer, create_container, CreateContainerRequest,                          \
      create_container_request, CreateContainerResponse, create_container_response, UNARY, SLOW,   \
      "pod_sandbox_id")                                                                            \
    X(RUNTIME, StartContainer, start_container, StartContainerRequest, start_container_request,    \
      StartContainerResponse, start_container_response, UNARY, SLOW, "container_id")               \
    X(RUNTIME, StopContainer, stop_container, StopContainerRequest, stop_container_request,        \
      StopContainerResponse, stop_container_response, UNARY, SLOW, "container_id")                 \
    X(RUNTIME, RemoveContainer, remove_container, RemoveContainerRequest,                          \
      remove_container_request, RemoveContainerResponse, remove_container_response, UNARY, SLOW,   \
      "container_id")                                                                              \
    X(RUNTIME, ListContainers, list_containers, ListContainersRequest, list_containers_request,    \
      ListContainersResponse, list_containers_response, UNARY, FAST, NULL)                         \
    X(RUNTIME, StreamContainers, stream_containers, StreamContainersRequest,                       \
      stream_containers_request, StreamContainersResponse, stream_containers_response, STREAM,     \
      STREAM, NULL)                                                                                \
    X(RUNTIME, ContainerStatus, container_status, ContainerStatusRequest,                          \
      container_status_request, ContainerStatusResponse, container_status_response, UNARY, FAST,  \
      "container_id")                                                                              \
    X(RUNTIME, UpdateContainerResources, update_container_resources,                               \
      UpdateContainerResourcesRequest, update_container_resources_request,                         \
      UpdateContainerResourcesResponse, update_container_resources_response, UNARY, FAST,          \
      "container_id")                                                                              \
    X(RUNTIME, ReopenContainerLog, reopen_container_log, ReopenContainerLogRequest,                \
      reopen_container_log_request, ReopenContainerLogResponse, reopen_container_log_response,     \
      UNARY, FAST, "container_id")                                                                 \
    X(RUNTIME, ExecSync, exec_sync, ExecSyncRequest, exec_sync_request, ExecSyncResponse,          \
      exec_sync_response, UNARY, SLOW, "container_id")                                             \
    X(RUNTIME, Exec, exec, ExecRequest, exec_request, ExecResponse, exec_response, UNARY, FAST,    \
      "container_id")                                                                              \
    X(RUNTIME, Attach, attach, AttachRequest, attach_request, AttachResponse, attach_response,     \
      UNARY, FAST, "container_id")                                                                 \
    X(RUNTIME, PortForward, port_forward, PortForwardRequest, port_forward_request,                \
      PortForwardResponse, port_forward_response, UNARY, FAST, "pod_sandbox_id")                   \
    X(RUNTIME, ContainerStats, container_stats, ContainerStatsRequest, container_stats_request,    \
      ContainerStatsResponse, container_stats_response, UNARY, FAST, "container_id")               \
    X(RUNTIME, ListContainerStats, list_container_stats, ListContainerStatsRequest,                \
      list_container_stats_request, ListContainerStatsResponse, list_container_stats_response,     \
      UNARY, FAST, NULL)                                                                           \
    X(RUNTIME, StreamContainerStats, stream_container_stats, StreamContainerStatsRequest,          \
      stream_container_stats_request, StreamContainerStatsResponse,                                \
      stream_container_stats_response, STREAM, STREAM, NULL)                                       \
    X(RUNTIME, PodSandboxStats, pod_sandbox_stats, PodSandboxStatsRequest,                         \
      pod_sandbox_stats_request, PodSandboxStatsResponse, pod_sandbox_stats_response, UNARY, FAST, \
      "pod_sandbox_id")                                                                            \
    X(RUNTIME, ListPodSandboxStats, list_pod_sandbox_stats, ListPodSandboxStatsRequest,            \
      list_pod_sandbox_stats_request, ListPodSandboxStatsResponse,                                 \
      list_pod_sandbox_stats_response, UNARY, FAST, NULL)                                          \
    X(RUNTIME, StreamPodSandboxStats, stream_pod_sandbox_stats, StreamPodSandboxStatsRequest,      \
      stream_pod_sandbox_stats_request, StreamPodSandboxStatsResponse,                             \
      stream_pod_sandbox_stats_response, STREAM, STREAM, NULL)                                     \
    X(RUNTIME, UpdateRuntimeConfig, update_runtime_config, UpdateRuntimeConfigRequest,             \
      update_runtime_config_request, UpdateRuntimeConfigResponse,                                  \
      update_runtime_config_response, UNARY, FAST, NULL)                                           \
    X(RUNTIME, Status, status, StatusRequest, status_request, StatusResponse, status_response,     \
      UNARY, FAST, NULL)                                                                           \
    X(RUNTIME, CheckpointContainer, checkpoint_container, CheckpointContainerRequest,              \
      checkpoint_container_request, CheckpointContainerResponse, checkpoint_container_response,    \
      UNARY, SLOW, "container_id")                                                                 \
    X(RUNTIME, GetContainerEvents, get_container_events, GetEventsRequest, get_events_request,     \
      ContainerEventResponse, container_event_response, STREAM, STREAM, NULL)                      \
    X(RUNTIME, ListMetricDescriptors, list_metric_descriptors, ListMetricDescriptorsRequest,       \
      list_metric_descriptors_request, ListMetricDescriptorsResponse,                              \
      list_metric_descriptors_response, UNARY, FAST, NULL)                                         \
    X(RUNTIME, ListPodSandboxMetrics, list_pod_sandbox_metrics, ListPodSandboxMetricsRequest,      \
      list_pod_sandbox_metrics_request, ListPodSandboxMetricsResponse,                             \
      list_pod_sandbox_metrics_response, UNARY, FAST, NULL)                                        \
    X(RUNTIME, StreamPodSandboxMetrics, stream_pod_sandbox_metrics,                                \
      StreamPodSandboxMetricsRequest, stream_pod_sandbox_metrics_request,                          \
      StreamPodSandboxMetricsResponse, stream_pod_sandbox_metrics_response, STREAM, STREAM, NULL)  \
    X(RUNTIME, RuntimeConfig, runtime_config, RuntimeConfigRequest, runtime_config_request,        \
      RuntimeConfigResponse, runtime_config_response, UNARY, FAST, NULL)                           \
    X(RUNTIME, UpdatePodSandboxResources, update_pod_sandbox_resources,                            \
      UpdatePodSandboxResourcesRequest, update_pod_sandbox_resources_request,                      \
      UpdatePodSandboxResourcesResponse, update_pod_sandbox_resources_response, UNARY, FAST,       \
      "pod_sandbox_id")                                                                            \
    X(IMAGE, ListImages, list_images, ListImagesRequest, list_images_request, ListImagesResponse,  \
      list_images_response, UNARY, FAST, NULL)                                                     \
    X(IMAGE, StreamImages, stream_images, StreamImagesRequest, stream_images_request,              \
      StreamImagesResponse, stream_images_response, STREAM, STREAM, NULL)                          \
    X(IMAGE, ImageStatus, image_status, ImageStatusRequest, image_status_request,                  \
      ImageStatusResponse, image_status_response, UNARY, FAST, "image")                            \
    X(IMAGE, PullImage, pull_image, PullImageRequest, pull_image_request, PullImageResponse,       \
      pull_image_response, UNARY, SLOW, "image")                                                   \
    X(IMAGE, RemoveImage, remove_image, RemoveImageRequest, remove_image_request,                  \
      RemoveImageResponse, remove_image_response, UNARY, SLOW, "image")                            \
    X(IMAGE, ImageFsInfo, image_fs_info, ImageFsInfoRequest, image_fs_info_request,                \
      ImageFsInfoResponse, image_fs_info_response, UNARY, FAST, NULL)

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
