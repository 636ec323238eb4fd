/* libFuzzer target for CRI requests as crimpd takes them from kubelet
 * (shim/call.c, shim/dispatch.c): the first input byte picks the RPC of
 * proto/cri_rpcs.h, the rest is unpacked as its request message and put
 * through the shim's required-field check.  A request that passes must
 * pack again to a message that unpacks equal; RunPodSandbox and
 * CreateContainer requests are also translated to Docker create bodies and
 * OCI specs, as the docker and containerd backends do.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/oci_spec.h"
#include "dispatch.h"
#include "docker/spec.h"
#include "utils.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A Localhost seccomp profile is a host file named by kubelet: the fuzzer
 * must not make the translation read /dev/zero or a FIFO.  */
static void no_host_profiles(Runtime__V1__SecurityProfile *sp, char **path)
{
    if (sp && sp->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost)
        sp->localhost_ref = (char *)"/nonexistent/profile.json";
    if (*path && has_prefix(*path, "localhost/"))
        *path = (char *)"localhost//nonexistent/profile.json";
}

static const struct docker_spec_opts docker_opts = {.pause_image = "registry.k8s.io/pause:3.9",
                                                    .oom_score_adj_min = -998};

static void expect(json_t *out, crimp_error_t *err)
{
    if (out == NULL && *err == NULL)
        __builtin_trap();
    json_decref(out);
    crimp_error_release(err);
}

static void translate_pod(Runtime__V1__PodSandboxConfig *cfg)
{
    if (cfg == NULL)
        return;
    if (cfg->linux && cfg->linux->security_context)
        no_host_profiles(cfg->linux->security_context->seccomp,
                         &cfg->linux->security_context->seccomp_profile_path);
    crimp_error_t err = NULL;
    expect(docker_sandbox_spec(cfg, &docker_opts, &err), &err);
    struct oci_sandbox_params p = {.id = "s1", .cgroups_path = "/k8s/s1"};
    expect(oci_sandbox_spec(cfg, &p, &err), &err);
}

static void translate_container(Runtime__V1__CreateContainerRequest *r)
{
    Runtime__V1__ContainerConfig *cfg = r->config;
    if (cfg == NULL)
        return;
    if (cfg->linux && cfg->linux->security_context)
        no_host_profiles(cfg->linux->security_context->seccomp,
                         &cfg->linux->security_context->seccomp_profile_path);
    if (r->sandbox_config && r->sandbox_config->linux && r->sandbox_config->linux->security_context)
        no_host_profiles(r->sandbox_config->linux->security_context->seccomp,
                         &r->sandbox_config->linux->security_context->seccomp_profile_path);
    crimp_error_t err = NULL;
    if (r->sandbox_config)
        expect(docker_container_spec(cfg, "s1", r->sandbox_config, &docker_opts, &err), &err);
    struct oci_container_params p = {.id = "c1",
                                     .sandbox_id = "s1",
                                     .pod = r->sandbox_config,
                                     .image_name = "app",
                                     .cgroups_path = "/k8s/c1"};
    if (r->sandbox_config)
        expect(oci_container_spec(cfg, &p, &err), &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const struct crimp_method *m = &crimp_methods[data[0] % crimp_n_methods];
    ProtobufCMessage *req = protobuf_c_message_unpack(m->req_desc, NULL, size - 1, data + 1);
    if (req == NULL)
        return 0;
    crimp_error_t err = NULL;
    if (crimp_method_validate(m, req, &err) < 0) {
        if (err == NULL || err->code != GRPC_STATUS_INVALID_ARGUMENT)
            __builtin_trap();
        crimp_error_release(&err);
        protobuf_c_message_free_unpacked(req, NULL);
        return 0;
    }
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = xmalloc(len + 1);
    if (protobuf_c_message_pack(req, buf) != len)
        __builtin_trap();
    /* protobuf-c keeps unknown fields and packs them again; one numbered 0
     * (accepted when its tag is an overlong varint) is refused once packed
     * canonically, so only a message that unpacks again is compared.  */
    ProtobufCMessage *again = protobuf_c_message_unpack(m->req_desc, NULL, len, buf);
    if (again != NULL && protobuf_c_message_get_packed_size(again) != len)
        __builtin_trap();
    if (again != NULL)
        protobuf_c_message_free_unpacked(again, NULL);
    free(buf);

    if (m->req_desc == &runtime__v1__run_pod_sandbox_request__descriptor)
        translate_pod(((Runtime__V1__RunPodSandboxRequest *)req)->config);
    else if (m->req_desc == &runtime__v1__create_container_request__descriptor)
        translate_container((Runtime__V1__CreateContainerRequest *)req);
    protobuf_c_message_free_unpacked(req, NULL);
    return 0;
}
