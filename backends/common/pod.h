/* Facts of a pod's CRI config that every backend running pods itself needs
 * (docker, containerd): its network mode, its port mappings in CNI form,
 * its resolv.conf.  */
#ifndef CRIMP_POD_H
#define CRIMP_POD_H

#include <jansson.h>
#include <stdbool.h>

#include "cri.pb-c.h"
#include "error.h"

/* Whether the pod runs in the node's network namespace.  */
bool crimp_pod_host_network(const Runtime__V1__PodSandboxConfig *cfg);

/* CRI port mappings with a host port, in the form CNI's portmap takes
 * ([{hostPort, containerPort, protocol, hostIP}]).  */
json_t *crimp_pod_port_mappings(const Runtime__V1__PodSandboxConfig *cfg);

/* Writes DNS as resolv.conf at PATH (in place: the inode stays, so bind
 * mounts of it see the change).  Nothing is written when DNS is empty;
 * returns 1 then, 0 when written.  */
int crimp_pod_write_resolv_conf(const char *path, const Runtime__V1__DNSConfig *dns,
                                crimp_error_t *err);



/* Whether every entry of the SELECTOR map (CRI filter label_selector) is in
 * LABELS with the same value; both are protobuf-c map<string,string>
 * entries (struct crimp_pb_map_entry).  */
bool crimp_labels_match(void *const *labels, size_t n_labels, void *const *selector,
                        size_t n_selector);

#endif
