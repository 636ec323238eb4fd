/* GetContainerEvents on the containerd backend: the event hub
 * (backends/common/cri_events) that crimp's own lifecycle calls and the exit
 * monitor publish to.  */
#include "common/cri_events.h"
#include "containerd-internal.h"

/* Every lifecycle change goes through crimp (container.c) or is an exit
 * crimp's monitor sees (monitor.c): both publish to the hub.  */
int ctrd_get_container_events(struct crimp_backend *self, struct crimp_rpc *rpc,
                              const Runtime__V1__GetEventsRequest *req, crimp_error_t *err)
{
    (void)req;
    return crimp_event_hub_follow(ctrd_of(self)->events, self, rpc, err);
}
