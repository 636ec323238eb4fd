/* Unit tests for shim/dispatch.c: the method table covers the CRI wire
 * contract, and required fields are enforced before a backend sees a call.  */
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
        UNIT_TEST(test_supported),
        UNIT_TEST(test_pb_free_fields_keeps_storage),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
