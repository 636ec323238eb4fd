/* The one door from a CRI request's ID to Docker: the ID is looked up in
 * the inventory of crimp's and Kubernetes' containers, and only the full
 * Docker ID found there is ever put in a Docker API path.  Docker itself
 * would resolve any name or ID prefix, a plain `docker run --name victim`
 * included, and a path-shaped ID could reach another endpoint.  */
#include <string.h>

#include "docker-internal.h"
#include "log.h"
#include "utils.h"

#define DOCKER_ID_LEN 64

bool docker_id_is_full(const char *id)
{
    return id && strlen(id) == DOCKER_ID_LEN && strspn(id, "0123456789abcdef") == DOCKER_ID_LEN;
}

static bool id_well_formed(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= DOCKER_ID_LEN && strspn(id, "0123456789abcdef") == n;
}

char *docker_resolve(struct docker_backend *d, const char *cri_id, bool sandbox,
                     crimp_error_t *err)
{
    const char *what = sandbox ? "pod sandbox" : "container";
    if (!id_well_formed(cri_id)) {
        log_info("docker: %s ID `%.80s` is not a Docker ID: not found", what, cri_id ?: "");
        crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "%s %.80s not found", what,
                         cri_id ?: "");
        return NULL;
    }
    char *full = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (docker_inventory_ready(d->inventory, err) < 0)
            return NULL;
        int hits = docker_inventory_find(d->inventory, cri_id, sandbox, &full);
        if (hits == 1)
            return full;
        if (hits > 1) {
            crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "%s ID prefix %s is ambiguous", what,
                             cri_id);
            return NULL;
        }
        /* Created a moment ago by someone else, its event not seen yet:
         * have it inspected (a full ID only, so Docker resolves no prefix
         * and nothing that is not ours enters the inventory).  */
        if (!docker_id_is_full(cri_id))
            break;
        docker_inventory_touch(d->inventory, cri_id);
    }
    crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "%s %s not found", what, cri_id);
    return NULL;
}
