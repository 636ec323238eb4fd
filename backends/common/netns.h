/* Pinned network namespaces: a runtime that creates the pod's network
 * namespace itself (the containerd native backend; the docker backend uses
 * the pause container's) makes a new one, keeps it alive by bind-mounting
 * it on a file, hands the path to CNI and to the OCI spec, and removes it
 * when the pod is stopped.  */
#ifndef CRIMP_NETNS_H
#define CRIMP_NETNS_H

#include <jansson.h>

#include "error.h"

/* Creates a new network namespace pinned at DIR/cni-<random uuid> (DIR is
 * created, mode 0755); *PATH caller frees.  The calling thread's own
 * namespace is not changed (the work is done on a short-lived thread).  */
int netns_create(const char *dir, char **path, crimp_error_t *err);

/* Unmounts (MNT_DETACH) and removes PATH; a path that is gone is success.  */
int netns_remove(const char *path, crimp_error_t *err);

/* Whether PATH is a pinned network namespace (an nsfs mount).  */
int netns_is_pinned(const char *path);

/* The global addresses of interface IFNAME inside the network namespace
 * at PATH (such as /proc/<pid>/ns/net), IPv4 first, as a new JSON array of
 * strings.  Read on a short-lived thread that enters the namespace; the
 * daemon's own threads stay where they are.  */
int netns_addresses(const char *path, const char *ifname, json_t **ips, crimp_error_t *err);

#endif
