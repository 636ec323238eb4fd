/* Pod and container names, reserved the way containerd's CRI plugin does:
 * one pod per (name, namespace, uid, attempt) and one container per (name,
 * attempt) in a pod.  kubelet retries a RunPodSandbox or CreateContainer
 * whose deadline passed while the first call still runs; without the name
 * refused, every such retry would leave one more pod or container behind,
 * and an operator's second `crictl runp pod.json` would make a twin.  The
 * name stays taken until the record is removed (RemovePodSandbox,
 * RemoveContainer), not merely stopped.  */
#include <string.h>

#include "containerd-internal.h"
#include "utils.h"

/* Fields joined by a byte no name holds, so "a_b"+"c" never equals "a"+"b_c".  */
#define SEP "\x1f"

char *ctrd_pod_name_key(const Runtime__V1__PodSandboxMetadata *m)
{
    if (m == NULL)
        return NULL;
    return xasprintf("pod" SEP "%s" SEP "%s" SEP "%s" SEP "%u", m->name ? m->name : "",
                     m->namespace_ ? m->namespace_ : "", m->uid ? m->uid : "", m->attempt);
}

char *ctrd_container_name_key(const char *pod_id, const Runtime__V1__ContainerMetadata *m)
{
    if (m == NULL || pod_id == NULL)
        return NULL;
    return xasprintf("container" SEP "%s" SEP "%s" SEP "%u", pod_id, m->name ? m->name : "",
                     m->attempt);
}

static int name_taken(const char *kind, const char *shown, const char *holder, crimp_error_t *err)
{
    return crimp_make_error(err, GRPC_STATUS_ALREADY_EXISTS, 0,
                            "%s name %s is already in use by %s %s: remove that %s first",
                            kind, shown, kind, holder, kind);
}

char *ctrd_reserve_pod_name(struct ctrd_backend *b, const Runtime__V1__PodSandboxMetadata *m,
                            const char *id, crimp_error_t *err)
{
    char *key = ctrd_pod_name_key(m);
    cleanup_free char *holder = NULL;
    if (ctrd_store_reserve_name(b, key, id, &holder) == 0)
        return key;
    free(key);
    cleanup_free char *shown = xasprintf("\"%s_%s_%s_%u\"", m->name ? m->name : "",
                                         m->namespace_ ? m->namespace_ : "",
                                         m->uid ? m->uid : "", m->attempt);
    name_taken("pod sandbox", shown, holder, err);
    return NULL;
}

char *ctrd_reserve_container_name(struct ctrd_backend *b, const char *pod_id,
                                  const Runtime__V1__ContainerMetadata *m, const char *id,
                                  crimp_error_t *err)
{
    char *key = ctrd_container_name_key(pod_id, m);
    cleanup_free char *holder = NULL;
    if (ctrd_store_reserve_name(b, key, id, &holder) == 0)
        return key;
    free(key);
    cleanup_free char *shown = xasprintf("\"%s\" (attempt %u) in pod sandbox %.12s",
                                         m->name ? m->name : "", m->attempt, pod_id);
    name_taken("container", shown, holder, err);
    return NULL;
}
