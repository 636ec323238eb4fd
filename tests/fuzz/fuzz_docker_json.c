/* libFuzzer target for the readers of Docker's JSON replies
 * (backends/docker): container and sandbox inspect -> CRI statuses,
 * /containers/json entries -> CRI containers and sandboxes (through the CRI
 * filters), /images/json entries -> CRI images, /version -> the API check,
 * and the CRI labels crimp reads back from Docker.  The input is one reply
 * body; every reader is run on it (an array: on each of its entries).  */
#include <stdint.h>
#include <stdlib.h>

#include "docker/docker-internal.h"
#include "docker/labels.h"
#include "pbutil.h"
#include "utils.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void free_msg(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* A filter that looks at every field the readers compare.  */
static Runtime__V1__ContainerFilter__LabelSelectorEntry sel_kv = {
    PROTOBUF_C_MESSAGE_INIT(&runtime__v1__container_filter__label_selector_entry__descriptor),
    "io.kubernetes.pod.name", "web"};

static void readers_of_entry(json_t *c)
{
    free_msg(docker_image_of(c));
    cleanup_free char *version = NULL;
    crimp_error_t err = NULL;
    if (docker_version_check(c, "/run/docker.sock", &version, &err) < 0)
        crimp_error_release(&err);

    struct docker_cri_meta meta;
    /* Labels and name as in a list entry: crimp's label, or cri-dockerd's
     * k8s_ name and io.kubernetes labels.  */
    const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    if (docker_cri_meta_read(json_object_get(c, "Labels"), name, &meta, &err) == 0) {
        Runtime__V1__ContainerStateValue cs = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;
        cs.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
        Runtime__V1__ContainerFilter__LabelSelectorEntry *sel[] = {&sel_kv};
        Runtime__V1__ContainerFilter cf = RUNTIME__V1__CONTAINER_FILTER__INIT;
        cf.id = "ab";
        cf.pod_sandbox_id = "cd";
        cf.state = &cs;
        cf.label_selector = sel;
        cf.n_label_selector = 1;
        (void)docker_container_passes(&cf, c, &meta);
        (void)docker_container_passes(NULL, c, &meta);
        Runtime__V1__PodSandboxFilter pf = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
        pf.id = "ab";
        (void)docker_sandbox_passes(&pf, c, &meta);
        free_msg(docker_container_of_list_entry(c, &meta));
        free_msg(docker_sandbox_of_list_entry(c, &meta));
        docker_cri_meta_free(&meta);
    } else {
        crimp_error_release(&err);
    }
}

static void readers_of_inspect(json_t *inspect)
{
    json_t *labels = json_object_get(json_object_get(inspect, "Config"), "Labels");
    struct docker_cri_meta meta;
    crimp_error_t err = NULL;
    const char *name = json_string_value(json_object_get(inspect, "Name"));
    if (docker_cri_meta_read(labels, name, &meta, &err) < 0) {
        crimp_error_release(&err);
        return;
    }
    Runtime__V1__ContainerStatusResponse cr = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
    docker_container_status_of(inspect, &meta, true, &cr);
    crimp_pb_free_fields(&cr.base);
    /* The sandbox checkpoint's "ips" and "host_network" are read from the
     * same document.  */
    Runtime__V1__PodSandboxStatusResponse sr = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
    docker_sandbox_status_of(inspect, &meta, inspect, &sr);
    crimp_pb_free_fields(&sr.base);
    docker_cri_meta_free(&meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_auto_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (doc == NULL)
        return 0;
    if (json_is_array(doc)) {
        size_t i;
        json_t *c;
        json_array_foreach(doc, i, c) readers_of_entry(c);
        return 0;
    }
    readers_of_entry(doc);
    readers_of_inspect(doc);
    return 0;
}
