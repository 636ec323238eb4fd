/* What cri-dockerd keeps outside Docker: one checkpoint per pod sandbox at
 * <root>/sandbox/<id> with the pod's name, namespace, port mappings and
 * host-network flag.  crimp reads it to adopt cri-dockerd's pods (their
 * port mappings for CNI DEL), and writes it for its own pods so that a
 * cri-dockerd started on the node afterwards can stop them (cri-dockerd's
 * teardown fails without one).
 *
 * File: {"version":"v1","name":…,"namespace":…,"data":{"port_mappings":
 * [{"protocol","container_port","host_port","host_ip"}],"host_network":b},
 * "checksum":N}; N is FNV-32a over the text go-spew prints for the data
 * (%#v), which cri-dockerd compares on every read.  */
#ifndef CRIMP_DOCKER_CRI_DOCKERD_H
#define CRIMP_DOCKER_CRI_DOCKERD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

struct docker_backend;

/* The checksum cri-dockerd expects for DATA ({"port_mappings", "host_network"}).  */
uint32_t cri_dockerd_checksum(json_t *data);

/* Writes the checkpoint of the new sandbox ID made from CFG (nothing when
 * D has no cri-dockerd root).  */
int cri_dockerd_checkpoint_write(struct docker_backend *d, const char *id,
                                 const Runtime__V1__PodSandboxConfig *cfg, crimp_error_t *err);

/* Removes sandbox ID's checkpoint, if any (a full Docker ID only).  */
void cri_dockerd_checkpoint_remove(struct docker_backend *d, const char *id);

/* The sandboxes cri-dockerd's checkpoints name (full IDs): a JSON object
 * id -> {"name", "namespace"}.  */
json_t *cri_dockerd_checkpointed(struct docker_backend *d);

/* crimp's own checkpoint data (see sandbox.c) for sandbox ID that crimp did
 * not make, built from cri-dockerd's checkpoint and, when the pause
 * container runs, the addresses of eth0 in its network namespace (where
 * cri-dockerd reads the pod IP too).  INSPECT may be NULL (pause container
 * gone).  NULL when neither tells anything.  */
json_t *cri_dockerd_adopt_checkpoint(struct docker_backend *d, const char *id, json_t *inspect);

#endif
