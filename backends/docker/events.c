/* GetContainerEvents on Docker: kubelet's Evented PLEG.  The events come
 * from the backend's inventory (inventory.h), which follows Docker's
 * /events on one connection for every client and resyncs by listing after
 * a reconnect, so a dockerd restart loses nothing and repeats nothing:
 * CREATED / STARTED / STOPPED / DELETED, each sent with the pod's status
 * and the statuses of the pod's containers, as containerd sends them.  The
 * call ends only when the client goes away.  */
#include <string.h>

#include "docker-internal.h"
#include "pbutil.h"
#include "utils.h"

/* The statuses of the pod's containers (the one deleted is gone).  */
static void add_container_statuses(struct docker_backend *d, struct crimp_rpc *rpc, const char *pod,
                                   Runtime__V1__ContainerEventResponse *ev)
{
    Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
    f.pod_sandbox_id = (char *)pod;
    Runtime__V1__ListContainersRequest lreq = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
    lreq.filter = &f;
    Runtime__V1__ListContainersResponse list = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
    crimp_error_t err = NULL;
    if (docker_list_containers(&d->base, rpc, &lreq, &list, &err) < 0) {
        crimp_error_release(&err);
        return;
    }
    ev->containers_statuses = xcalloc(list.n_containers + 1, sizeof(*ev->containers_statuses));
    for (size_t i = 0; i < list.n_containers; i++) {
        Runtime__V1__ContainerStatusRequest sreq = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
        sreq.container_id = list.containers[i]->id;
        Runtime__V1__ContainerStatusResponse st = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
        if (docker_container_status(&d->base, rpc, &sreq, &st, &err) == 0 && st.status) {
            ev->containers_statuses[ev->n_containers_statuses++] = st.status;
            st.status = NULL;
        }
        crimp_error_release(&err);
        crimp_pb_free_fields(&st.base);
    }
    crimp_pb_free_fields(&list.base);
}

static int send_event(struct docker_backend *d, struct crimp_rpc *rpc,
                      const struct docker_inv_event *e, crimp_error_t *err)
{
    Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
    ev.container_id = xstrdup(e->id);
    ev.container_event_type = e->type;
    ev.created_at = e->at_ns;
    if (e->pod_id) {
        Runtime__V1__PodSandboxStatusRequest preq = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
        preq.pod_sandbox_id = e->pod_id;
        Runtime__V1__PodSandboxStatusResponse ps = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
        crimp_error_t perr = NULL;
        if (docker_pod_sandbox_status(&d->base, rpc, &preq, &ps, &perr) == 0) {
            ev.pod_sandbox_status = ps.status;
            ps.status = NULL;
        }
        crimp_error_release(&perr);
        crimp_pb_free_fields(&ps.base);
        add_container_statuses(d, rpc, e->pod_id, &ev);
    }
    int rc = crimp_rpc_send(rpc, &ev.base, err);
    crimp_pb_free_fields(&ev.base);
    return rc;
}

int docker_get_container_events(struct crimp_backend *self, struct crimp_rpc *rpc,
                                const Runtime__V1__GetEventsRequest *req, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    struct docker_inv_sub *sub = docker_inventory_subscribe(d->inventory);
    int rc = 0;
    while (rc == 0 && !crimp_rpc_cancelled(rpc)) {
        struct docker_inv_event e;
        if (!docker_inventory_next_event(d->inventory, sub, 500, &e))
            continue; /* look at the cancel flag twice a second */
        rc = send_event(d, rpc, &e, err);
        docker_inv_event_release(&e);
    }
    docker_inventory_unsubscribe(d->inventory, sub);
    if (rc < 0)
        return -1;
    return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
}
