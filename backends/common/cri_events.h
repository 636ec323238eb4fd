/* GetContainerEvents for backends that see every lifecycle change
 * themselves (containerd: crimp makes each change and watches each exit),
 * and the event message every backend sends.
 *
 * A hub keeps one bounded queue per GetContainerEvents call: publishing
 * never blocks on a slow client; a client that falls more than
 * CRIMP_EVENT_QUEUE_MAX events behind loses the oldest ones (logged), and
 * kubelet's periodic relist repairs what it missed, as with containerd.  */
#ifndef CRIMP_CRI_EVENTS_H
#define CRIMP_CRI_EVENTS_H

#include "backend.h"

#define CRIMP_EVENT_QUEUE_MAX 4096

struct crimp_event_hub;

struct crimp_event_hub *crimp_event_hub_new(void);
/* Ends every follower's call (they return CANCELLED) and frees the hub
 * once they have left.  */
void crimp_event_hub_free(struct crimp_event_hub *hub);

void crimp_event_hub_publish(struct crimp_event_hub *hub, Runtime__V1__ContainerEventType type,
                             const char *container_id, const char *pod_id, int64_t at_ns);

/* Serves one GetContainerEvents call on backend B from HUB until the
 * client goes away; returns -1 with CANCELLED then.  */
int crimp_event_hub_follow(struct crimp_event_hub *hub, struct crimp_backend *b,
                           struct crimp_rpc *rpc, crimp_error_t *err);

/* Sends one event on RPC: the container, what happened and when, the
 * pod's status and the statuses of the pod's containers (asked of B's own
 * operations).  -1 when the client went away.  */
int crimp_container_event_send(struct crimp_backend *b, struct crimp_rpc *rpc,
                               Runtime__V1__ContainerEventType type, const char *container_id,
                               const char *pod_id, int64_t at_ns, crimp_error_t *err);

#endif
