/* The backend types built into crimpd.  Adding a backend: write its ops
 * table in backends/<type>/ and list it here.  */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cri/cri.h"
#if CRIMP_HAVE_CONTAINERD
#include "containerd/containerd.h"
#endif
#include "docker/docker.h"
#include "utils.h"

const struct crimp_backend_ops *const crimp_backend_types[] = {
    &crimp_backend_cri,
    &crimp_backend_docker,
#if CRIMP_HAVE_CONTAINERD
    &crimp_backend_containerd,
#endif
    NULL,
};

const struct crimp_backend_ops *crimp_backend_ops_for_type(const char *type)
{
    for (size_t i = 0; crimp_backend_types[i] != NULL; i++)
        if (strcmp(crimp_backend_types[i]->type, type) == 0)
            return crimp_backend_types[i];
    return NULL;
}

char *crimp_backend_type_names(void)
{
    char *list = xstrdup("");
    for (size_t i = 0; crimp_backend_types[i] != NULL; i++) {
        char *longer = xasprintf("%s%s%s", list, i ? ", " : "", crimp_backend_types[i]->type);
        free(list);
        list = longer;
    }
    return list;
}
