/* libFuzzer target for the image content the containerd backend reads
 * (backends/containerd/unpack.c, images.c, container.c and the spec
 * builder in backends/common/oci_*.c): the input is an image config JSON,
 * then after a NUL the image's /etc/passwd, then after another NUL its
 * /etc/group.  The config gives the chain IDs of its layers, the CRI image
 * (with its user) and, with passwd and group, an app container's spec as
 * CreateContainer builds it for the image's User and for a CRI username.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cri_image.h"
#include "common/oci_spec.h"
#include "containerd/containerd-internal.h"
#include "utils.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The NUL-separated part INDEX of the input, or NULL.  */
static char *part(const uint8_t *data, size_t size, int index)
{
    size_t start = 0;
    for (int i = 0; i < index; i++) {
        const uint8_t *nul = memchr(data + start, 0, size - start);
        if (nul == NULL)
            return NULL;
        start = (size_t)(nul - data) + 1;
    }
    return strndup((const char *)data + start, size - start);
}

static void spec_for(json_t *image_config, const char *passwd, const char *group,
                     const char *username)
{
    Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
    md.name = "app";
    Runtime__V1__ImageSpec image = RUNTIME__V1__IMAGE_SPEC__INIT;
    image.image = "registry.local/app:1";
    Runtime__V1__LinuxContainerSecurityContext sc =
        RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
    sc.run_as_username = (char *)username;
    Runtime__V1__LinuxContainerConfig lx = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
    lx.security_context = &sc;
    Runtime__V1__ContainerConfig cfg = RUNTIME__V1__CONTAINER_CONFIG__INIT;
    cfg.metadata = &md;
    cfg.image = &image;
    cfg.linux = &lx;
    Runtime__V1__PodSandboxMetadata pmd = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    pmd.name = "pod";
    pmd.namespace_ = "default";
    pmd.uid = "uid";
    Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    pod.metadata = &pmd;
    struct oci_container_params p = {
        .id = "c1",
        .sandbox_id = "s1",
        .pod = &pod,
        .image_config = image_config,
        .image_name = image.image,
        .hostname = "pod",
        .cgroups_path = "/k8s/c1",
        .passwd = passwd,
        .group = group,
    };
    crimp_error_t err = NULL;
    json_t *spec = oci_container_spec(&cfg, &p, &err);
    if (spec == NULL) {
        if (err == NULL)
            __builtin_trap();
        crimp_error_release(&err);
    }
    json_decref(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *config_text = part(data, size, 0);
    cleanup_free char *passwd = part(data, size, 1);
    cleanup_free char *group = part(data, size, 2);
    json_auto_t *config = json_loads(config_text, 0, NULL);

    size_t n = 0;
    crimp_error_t err = NULL;
    char **chains = ctrd_chain_ids(config, &n, &err);
    if (chains == NULL) {
        crimp_error_release(&err);
    } else {
        if (n == 0)
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            free(chains[i]);
        free(chains);
    }
    json_t *inner = json_object_get(config, "config");
    const char *user = json_string_value(json_object_get(inner, "User"));
    Runtime__V1__Image *img = crimp_cri_image_new("sha256:0", 1, user);
    protobuf_c_message_free_unpacked(&img->base, NULL);

    uid_t uid;
    gid_t gid, *extra = NULL;
    size_t n_extra = 0;
    if (oci_resolve_user(user ? user : "app", passwd, group, &uid, &gid, &extra, &n_extra, &err) <
        0)
        crimp_error_release(&err);
    free(extra);
    spec_for(inner, passwd, group, NULL);
    spec_for(inner, passwd, group, "app");
    return 0;
}
