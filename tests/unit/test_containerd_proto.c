/* Unit tests for proto/containerd: the protoc-c code generated at build time
 * from Debian's containerd .proto files packs, unpacks and describes the
 * services the containerd backend talks to.  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "github.com/containerd/containerd/api/types/mount.pb-c.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb-c.h"
#if CRIMP_HAVE_CGROUPS_V1_PROTO
#include "github.com/containerd/cgroups/stats/v1/metrics.pb-c.h"
#endif
#include "unit.h"

static int test_create_task_request_roundtrip(void)
{
    char *opts[] = {"lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w"};
    Containerd__Types__Mount mount = CONTAINERD__TYPES__MOUNT__INIT;
    mount.type = "overlay";
    mount.source = "overlay";
    mount.target = "";
    mount.n_options = 3;
    mount.options = opts;
    Containerd__Types__Mount *rootfs[] = {&mount};

    Containerd__Services__Tasks__V1__CreateTaskRequest req =
        CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT;
    req.container_id = "c0ffee";
    req.n_rootfs = 1;
    req.rootfs = rootfs;
    req.stdout = "/run/fifo/out";
    req.terminal = 1;

    size_t len = containerd__services__tasks__v1__create_task_request__get_packed_size(&req);
    CHECK(len > 0);
    uint8_t *buf = malloc(len);
    CHECK(buf != NULL);
    CHECK(containerd__services__tasks__v1__create_task_request__pack(&req, buf) == len);

    Containerd__Services__Tasks__V1__CreateTaskRequest *out =
        containerd__services__tasks__v1__create_task_request__unpack(NULL, len, buf);
    free(buf);
    CHECK(out != NULL);
    CHECK(strcmp(out->container_id, "c0ffee") == 0);
    CHECK(out->n_rootfs == 1);
    CHECK(strcmp(out->rootfs[0]->type, "overlay") == 0);
    CHECK(strcmp(out->rootfs[0]->source, "overlay") == 0);
    CHECK(out->rootfs[0]->n_options == 3);
    CHECK(strcmp(out->rootfs[0]->options[0], "lowerdir=/l1:/l2") == 0);
    CHECK(strcmp(out->rootfs[0]->options[2], "workdir=/w") == 0);
    CHECK(strcmp(out->stdout, "/run/fifo/out") == 0);
    CHECK(out->terminal == 1);
    CHECK(out->checkpoint == NULL);
    CHECK(out->options == NULL);
    containerd__services__tasks__v1__create_task_request__free_unpacked(out, NULL);
    return 0;
}

static int test_version_response_roundtrip(void)
{
    Containerd__Services__Version__V1__VersionResponse resp =
        CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;
    resp.version = "1.6.20~ds1";
    resp.revision = "1.6.20~ds1-1";

    uint8_t buf[64];
    size_t len = containerd__services__version__v1__version_response__get_packed_size(&resp);
    CHECK(len > 0 && len <= sizeof(buf));
    CHECK(containerd__services__version__v1__version_response__pack(&resp, buf) == len);
    /* field 1 (version), wire type 2 */
    CHECK(buf[0] == 0x0a);

    Containerd__Services__Version__V1__VersionResponse *out =
        containerd__services__version__v1__version_response__unpack(NULL, len, buf);
    CHECK(out != NULL);
    CHECK(strcmp(out->version, "1.6.20~ds1") == 0);
    CHECK(strcmp(out->revision, "1.6.20~ds1-1") == 0);
    containerd__services__version__v1__version_response__free_unpacked(out, NULL);

    /* An empty message unpacks to the default empty strings.  */
    out = containerd__services__version__v1__version_response__unpack(NULL, 0, buf);
    CHECK(out != NULL);
    CHECK(out->version != NULL && out->version[0] == '\0');
    containerd__services__version__v1__version_response__free_unpacked(out, NULL);
    return 0;
}

static int test_tasks_service_descriptor(void)
{
    const ProtobufCServiceDescriptor *d = &containerd__services__tasks__v1__tasks__descriptor;
    CHECK(d->magic == PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC);
    CHECK(strcmp(d->name, "containerd.services.tasks.v1.Tasks") == 0);
    CHECK(strcmp(d->short_name, "Tasks") == 0);
    CHECK(strcmp(d->package, "containerd.services.tasks.v1") == 0);

    const ProtobufCMethodDescriptor *create = protobuf_c_service_descriptor_get_method_by_name(d, "Create");
    CHECK(create != NULL);
    CHECK(create->input == &containerd__services__tasks__v1__create_task_request__descriptor);
    CHECK(create->output == &containerd__services__tasks__v1__create_task_response__descriptor);

    int found = 0;
    for (unsigned i = 0; i < d->n_methods; i++)
        if (strcmp(d->methods[i].name, "Create") == 0)
            found = 1;
    CHECK(found);
    CHECK(protobuf_c_service_descriptor_get_method_by_name(d, "NoSuchMethod") == NULL);

    CHECK(strcmp(containerd__services__tasks__v1__create_task_request__descriptor.name,
                 "containerd.services.tasks.v1.CreateTaskRequest")
          == 0);
    return 0;
}

static int test_events_envelope_namespace(void)
{
    /* `namespace` is emitted as `namespace_`; the event payload is an Any.  */
    Containerd__Events__TaskExit exit_ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
    exit_ev.container_id = "c1";
    exit_ev.pid = 42;
    exit_ev.exit_status = 137;
    size_t elen = containerd__events__task_exit__get_packed_size(&exit_ev);
    uint8_t *ebuf = malloc(elen);
    CHECK(ebuf != NULL);
    containerd__events__task_exit__pack(&exit_ev, ebuf);

    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = "containerd.events.TaskExit";
    any.value.len = elen;
    any.value.data = ebuf;
    Containerd__Services__Events__V1__Envelope env = CONTAINERD__SERVICES__EVENTS__V1__ENVELOPE__INIT;
    env.namespace_ = "k8s.io";
    env.topic = "/tasks/exit";
    env.event = &any;

    size_t len = containerd__services__events__v1__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(len);
    CHECK(buf != NULL);
    containerd__services__events__v1__envelope__pack(&env, buf);
    free(ebuf);
    Containerd__Services__Events__V1__Envelope *out =
        containerd__services__events__v1__envelope__unpack(NULL, len, buf);
    free(buf);
    CHECK(out != NULL);
    CHECK(strcmp(out->namespace_, "k8s.io") == 0);
    CHECK(out->timestamp == NULL);
    CHECK(out->event != NULL);
    Containerd__Events__TaskExit *ev =
        containerd__events__task_exit__unpack(NULL, out->event->value.len, out->event->value.data);
    CHECK(ev != NULL);
    CHECK(strcmp(ev->container_id, "c1") == 0 && ev->pid == 42 && ev->exit_status == 137);
    containerd__events__task_exit__free_unpacked(ev, NULL);
    containerd__services__events__v1__envelope__free_unpacked(out, NULL);
    return 0;
}

static int test_runc_options_and_cgroups(void)
{
    CHECK(strcmp(containerd__runc__v1__options__descriptor.name, "containerd.runc.v1.Options") == 0);
#if CRIMP_HAVE_CGROUPS_V1_PROTO
    CHECK(strcmp(io__containerd__cgroups__v1__metrics__descriptor.name, "io.containerd.cgroups.v1.Metrics")
          == 0);
#endif
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_create_task_request_roundtrip),
        UNIT_TEST(test_version_response_roundtrip),
        UNIT_TEST(test_tasks_service_descriptor),
        UNIT_TEST(test_events_envelope_namespace),
        UNIT_TEST(test_runc_options_and_cgroups),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
