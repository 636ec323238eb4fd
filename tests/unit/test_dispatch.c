/* Unit tests for shim/dispatch.c: the method table covers the CRI wire
 * contract, every row's route, access, ids and session columns agree with
 * the request and reply types, and required fields are enforced before a
 * backend sees a call.  */
#include <string.h>

#include "cri/cri.h"
#include "dispatch.h"
#include "pbutil.h"
#include "unit.h"
#include "utils.h"

static const struct crimp_method *find(const char *path)
{
    for (size_t i = 0; i < crimp_n_methods; i++)
        if (strcmp(crimp_methods[i].path, path) == 0)
            return &crimp_methods[i];
    return NULL;
}

/* Every RPC of cri.proto's two services is in the table, with the request
 * and reply types gRPC will carry.  */
static int test_table_matches_proto_services(void)
{
    extern const ProtobufCServiceDescriptor runtime__v1__runtime_service__descriptor;
    extern const ProtobufCServiceDescriptor runtime__v1__image_service__descriptor;
    const ProtobufCServiceDescriptor *services[] = {&runtime__v1__runtime_service__descriptor,
                                                    &runtime__v1__image_service__descriptor};
    size_t total = 0;
    for (size_t s = 0; s < 2; s++) {
        for (unsigned i = 0; i < services[s]->n_methods; i++) {
            const ProtobufCMethodDescriptor *md = &services[s]->methods[i];
            char path[128];
            snprintf(path, sizeof(path), "/%s/%s", services[s]->name, md->name);
            const struct crimp_method *m = find(path);
            if (m == NULL)
                fprintf(stderr, "missing %s\n", path);
            CHECK(m != NULL);
            CHECK(m->req_desc == md->input);
            CHECK(m->resp_desc == md->output);
            total++;
        }
    }
    CHECK(total == crimp_n_methods);
    CHECK(total == 41);
    return 0;
}

static int test_streaming_methods_have_stream_lane(void)
{
    const char *streams[] = {"/runtime.v1.RuntimeService/GetContainerEvents",
                             "/runtime.v1.RuntimeService/StreamContainers",
                             "/runtime.v1.ImageService/StreamImages"};
    for (size_t i = 0; i < 3; i++) {
        const struct crimp_method *m = find(streams[i]);
        CHECK(m && m->streaming && m->lane == LANE_STREAM && m->call_stream);
    }
    CHECK(find("/runtime.v1.RuntimeService/Version")->lane == LANE_INLINE);
    CHECK(find("/runtime.v1.ImageService/PullImage")->lane == LANE_SLOW);
    return 0;
}

static int test_required_field(void)
{
    const struct crimp_method *m = find("/runtime.v1.RuntimeService/StopContainer");
    crimp_error_t err = NULL;
    Runtime__V1__StopContainerRequest req = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
    CHECK(crimp_method_validate(m, &req.base, &err) < 0);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err->msg, "container_id") != NULL);
    crimp_error_release(&err);
    req.container_id = (char *)"abc";
    CHECK(crimp_method_validate(m, &req.base, &err) == 0);

    m = find("/runtime.v1.ImageService/PullImage");
    Runtime__V1__PullImageRequest pull = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
    CHECK(crimp_method_validate(m, &pull.base, &err) < 0);
    CHECK(strstr(err->msg, "image") != NULL);
    crimp_error_release(&err);
    return 0;
}

/* A string that is not UTF-8 anywhere in a request (here a nested
 * message's, and a map entry's) is refused, naming the field: the docker
 * backend's JSON bodies cannot carry it (found by fuzz_cri_request, where
 * such a CreateContainer made docker_container_spec return NULL without an
 * error).  Bytes fields may hold anything.  */
static int test_strings_must_be_utf8(void)
{
    const struct crimp_method *m = find("/runtime.v1.RuntimeService/CreateContainer");
    crimp_error_t err = NULL;
    Runtime__V1__ImageSpec image = RUNTIME__V1__IMAGE_SPEC__INIT;
    image.image = (char *)"caf\xc3\xa9:1";
    Runtime__V1__KeyValue env = RUNTIME__V1__KEY_VALUE__INIT;
    env.key = (char *)"A";
    env.value.data = (uint8_t *)"\xff\xfe";
    env.value.len = 2;
    Runtime__V1__KeyValue *envs[] = {&env};
    Runtime__V1__ContainerConfig cfg = RUNTIME__V1__CONTAINER_CONFIG__INIT;
    cfg.image = &image;
    cfg.envs = envs;
    cfg.n_envs = 1;
    Runtime__V1__CreateContainerRequest req = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
    req.pod_sandbox_id = (char *)"p";
    req.config = &cfg;
    CHECK_OK(crimp_method_validate(m, &req.base, &err));

    static const char *const bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(bad); i++) {
        image.image = (char *)bad[i];
        CHECK(crimp_method_validate(m, &req.base, &err) < 0);
        CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT && strstr(err->msg, "image") != NULL);
        crimp_error_release(&err);
    }
    image.image = (char *)"ok";
    Runtime__V1__ContainerConfig__LabelsEntry label = RUNTIME__V1__CONTAINER_CONFIG__LABELS_ENTRY__INIT;
    label.key = (char *)"app";
    label.value = (char *)"\x80";
    Runtime__V1__ContainerConfig__LabelsEntry *labels[] = {&label};
    cfg.labels = labels;
    cfg.n_labels = 1;
    CHECK(crimp_method_validate(m, &req.base, &err) < 0);
    CHECK(strstr(err->msg, "value") != NULL);
    crimp_error_release(&err);
    return 0;
}

static bool has_field(const ProtobufCMessageDescriptor *d, const char *name, ProtobufCType type)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
    return f && f->type == type && f->label != PROTOBUF_C_LABEL_REPEATED;
}

static bool name_starts(const struct crimp_method *m, const char *prefix)
{
    return strncmp(m->name, prefix, strlen(prefix)) == 0;
}

/* What shim/ does with each row only works if the columns fit the types:
 * a POD route needs a pod_sandbox_id to look up, ADD_CONTAINER a reply
 * with a container_id, and so on.  A new row that breaks one fails here.  */
static int test_columns_fit_the_types(void)
{
    for (size_t i = 0; i < crimp_n_methods; i++) {
        const struct crimp_method *m = &crimp_methods[i];
        switch (m->route) {
        case ROUTE_POD:
            CHECK(m->required && strcmp(m->required, "pod_sandbox_id") == 0);
            CHECK(has_field(m->req_desc, "pod_sandbox_id", PROTOBUF_C_TYPE_STRING));
            break;
        case ROUTE_CONTAINER:
            CHECK(m->required && strcmp(m->required, "container_id") == 0);
            CHECK(has_field(m->req_desc, "container_id", PROTOBUF_C_TYPE_STRING));
            break;
        case ROUTE_PULL:
            CHECK(has_field(m->req_desc, "sandbox_config", PROTOBUF_C_TYPE_MESSAGE));
            break;
        case ROUTE_NEW_POD:
            CHECK(m->req_desc == &runtime__v1__run_pod_sandbox_request__descriptor);
            break;
        case ROUTE_FOLLOW_ALL:
            CHECK(m->streaming);
            break;
        case ROUTE_ALL:
        case ROUTE_ALL_STRICT:
        case ROUTE_DEFAULT:
            break;
        }
        /* Streams go to every backend: merged lists or followed events.  */
        if (m->streaming)
            CHECK(m->route == ROUTE_ALL || m->route == ROUTE_FOLLOW_ALL);
        switch (m->ids) {
        case IDS_ADD_POD:
            CHECK(m->route == ROUTE_NEW_POD);
            CHECK(has_field(m->resp_desc, "pod_sandbox_id", PROTOBUF_C_TYPE_STRING));
            break;
        case IDS_ADD_CONTAINER:
            CHECK(m->route == ROUTE_POD);
            CHECK(has_field(m->resp_desc, "container_id", PROTOBUF_C_TYPE_STRING));
            CHECK(m->req_desc == &runtime__v1__create_container_request__descriptor);
            break;
        case IDS_DROP_POD:
            CHECK(m->route == ROUTE_POD);
            break;
        case IDS_DROP_CONTAINER:
            CHECK(m->route == ROUTE_CONTAINER);
            break;
        case IDS_LIST_PODS:
            CHECK(m->resp_desc == &runtime__v1__list_pod_sandbox_response__descriptor);
            break;
        case IDS_LIST_CONTAINERS:
            CHECK(m->resp_desc == &runtime__v1__list_containers_response__descriptor);
            break;
        case IDS_NONE:
            break;
        }
        /* Read-only: unary queries, never a call that makes, changes or
         * removes anything (by the verb that starts its name).  */
        if (m->read_only) {
            CHECK(!m->streaming && !m->has_session);
            CHECK(m->ids == IDS_NONE || m->ids == IDS_LIST_PODS || m->ids == IDS_LIST_CONTAINERS);
        }
        static const char *const changes[] = {"Run",    "Stop", "Remove", "Create",     "Start",
                                              "Update", "Pull", "Reopen", "Checkpoint", "Exec"};
        for (size_t k = 0; k < sizeof(changes) / sizeof(changes[0]); k++)
            CHECK(!name_starts(m, changes[k]) || !m->read_only);
        if (m->has_session)
            CHECK(has_field(m->resp_desc, "url", PROTOBUF_C_TYPE_STRING));
    }
    return 0;
}

/* The routes as shim/ had them before they moved into the table.  */
static int test_routes_unchanged(void)
{
    static const struct {
        const char *name;
        enum crimp_route route;
    } want[] = {
        {"RunPodSandbox", ROUTE_NEW_POD},
        {"StopPodSandbox", ROUTE_POD},
        {"RemovePodSandbox", ROUTE_POD},
        {"PodSandboxStatus", ROUTE_POD},
        {"CreateContainer", ROUTE_POD},
        {"PortForward", ROUTE_POD},
        {"PodSandboxStats", ROUTE_POD},
        {"UpdatePodSandboxResources", ROUTE_POD},
        {"StartContainer", ROUTE_CONTAINER},
        {"StopContainer", ROUTE_CONTAINER},
        {"RemoveContainer", ROUTE_CONTAINER},
        {"ContainerStatus", ROUTE_CONTAINER},
        {"UpdateContainerResources", ROUTE_CONTAINER},
        {"ReopenContainerLog", ROUTE_CONTAINER},
        {"ExecSync", ROUTE_CONTAINER},
        {"Exec", ROUTE_CONTAINER},
        {"Attach", ROUTE_CONTAINER},
        {"ContainerStats", ROUTE_CONTAINER},
        {"CheckpointContainer", ROUTE_CONTAINER},
        {"ListPodSandbox", ROUTE_ALL},
        {"ListContainers", ROUTE_ALL},
        {"ListContainerStats", ROUTE_ALL},
        {"ListPodSandboxStats", ROUTE_ALL},
        {"ListPodSandboxMetrics", ROUTE_ALL},
        {"ListImages", ROUTE_ALL},
        {"ImageFsInfo", ROUTE_ALL},
        {"RemoveImage", ROUTE_ALL_STRICT},
        {"UpdateRuntimeConfig", ROUTE_ALL},
        {"PullImage", ROUTE_PULL},
        {"GetContainerEvents", ROUTE_FOLLOW_ALL},
        {"StreamPodSandboxes", ROUTE_ALL},
        {"StreamContainers", ROUTE_ALL},
        {"StreamContainerStats", ROUTE_ALL},
        {"StreamPodSandboxStats", ROUTE_ALL},
        {"StreamPodSandboxMetrics", ROUTE_ALL},
        {"StreamImages", ROUTE_ALL},
    };
    size_t n_default = 0;
    for (size_t i = 0; i < crimp_n_methods; i++) {
        const struct crimp_method *m = &crimp_methods[i];
        enum crimp_route expect = ROUTE_DEFAULT;
        for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
            if (strcmp(want[k].name, m->name) == 0)
                expect = want[k].route;
        if (m->route != expect)
            fprintf(stderr, "%s: route %d, want %d\n", m->name, m->route, expect);
        CHECK(m->route == expect);
        n_default += expect == ROUTE_DEFAULT;
    }
    /* Version, Status, RuntimeConfig, ListMetricDescriptors, ImageStatus.  */
    CHECK(n_default == 5);

    static const char *const read_only[] = {
        "ListContainers",  "ListPodSandbox",      "ContainerStatus", "PodSandboxStatus",
        "ImageStatus",     "ListImages",          "ContainerStats",  "ListContainerStats",
        "PodSandboxStats", "ListPodSandboxStats", "ImageFsInfo",
    };
    size_t n_ro = 0;
    for (size_t i = 0; i < crimp_n_methods; i++)
        n_ro += crimp_methods[i].read_only;
    CHECK(n_ro == sizeof(read_only) / sizeof(read_only[0]));
    for (size_t k = 0; k < sizeof(read_only) / sizeof(read_only[0]); k++) {
        char path[96];
        snprintf(path, sizeof(path), "/runtime.v1.%s/%s",
                 strcmp(read_only[k], "ImageStatus") == 0 ||
                         strcmp(read_only[k], "ListImages") == 0 ||
                         strcmp(read_only[k], "ImageFsInfo") == 0
                     ? "ImageService"
                     : "RuntimeService",
                 read_only[k]);
        CHECK(find(path) && find(path)->read_only);
    }
    const struct crimp_method *exec = find("/runtime.v1.RuntimeService/Exec");
    const struct crimp_method *attach = find("/runtime.v1.RuntimeService/Attach");
    const struct crimp_method *pf = find("/runtime.v1.RuntimeService/PortForward");
    CHECK(exec->has_session && exec->session == CRIMP_STREAM_EXEC);
    CHECK(attach->has_session && attach->session == CRIMP_STREAM_ATTACH);
    CHECK(pf->has_session && pf->session == CRIMP_STREAM_PORTFORWARD);
    CHECK(!find("/runtime.v1.RuntimeService/ExecSync")->has_session);
    return 0;
}

/* The passthrough backend serves every RPC; a backend without an op is
 * reported as such.  */
static int test_supported(void)
{
    struct crimp_backend b = {.ops = &crimp_backend_cri};
    for (size_t i = 0; i < crimp_n_methods; i++)
        CHECK(crimp_method_supported(&crimp_methods[i], &b));
    struct crimp_backend_ops empty = {.type = "empty"};
    struct crimp_backend e = {.ops = &empty};
    CHECK(!crimp_method_supported(find("/runtime.v1.RuntimeService/ExecSync"), &e));
    return 0;
}

static int test_pb_free_fields_keeps_storage(void)
{
    Runtime__V1__VersionResponse v = RUNTIME__V1__VERSION_RESPONSE__INIT;
    v.runtime_name = strdup("x");
    crimp_pb_free_fields(&v.base);
    CHECK(v.runtime_name == protobuf_c_empty_string);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_table_matches_proto_services),
        UNIT_TEST(test_streaming_methods_have_stream_lane),
        UNIT_TEST(test_required_field),
        UNIT_TEST(test_strings_must_be_utf8),
        UNIT_TEST(test_columns_fit_the_types),
        UNIT_TEST(test_routes_unchanged),
        UNIT_TEST(test_supported),
        UNIT_TEST(test_pb_free_fields_keeps_storage),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
