/* Which backend owns each pod and container.
 *
 * kubelet names pods and containers by ID only, so crimp must remember
 * where each lives: filled from the backends' own lists at start (nothing is
 * stored on disk — the backends are the truth), kept current as pods and
 * containers are made and removed through crimp, and completed on demand
 * when an unknown ID shows up (a backend that was down at start).  IDs of
 * different runtimes do not collide (64 random hex digits).  */
#ifndef CRIMP_OWNERSHIP_H
#define CRIMP_OWNERSHIP_H

#include <stdbool.h>
#include <stddef.h>

struct crimp_ownership;

struct crimp_ownership *crimp_ownership_new(void);
void crimp_ownership_free(struct crimp_ownership *o);

/* Records that BACKEND owns ID: a pod (POD_ID NULL) or a container of pod
 * POD_ID.  */
void crimp_ownership_set(struct crimp_ownership *o, const char *id, const char *pod_id,
                         int backend);
void crimp_ownership_remove(struct crimp_ownership *o, const char *id);
/* Forgets a pod and every container recorded under it.  */
void crimp_ownership_remove_pod(struct crimp_ownership *o, const char *pod_id);

/* The owner of ID or alias key exactly; -1 when unknown.  */
int crimp_ownership_get(struct crimp_ownership *o, const char *id);

/* The owner of pod (POD) or container ID, or of the pods or containers
 * whose IDs start with it; -1 when unknown.  *ALSO (may be NULL) is set to
 * a second backend holding one such ID, else -1: the prefix is then
 * ambiguous across backends.  */
int crimp_ownership_get_kind(struct crimp_ownership *o, const char *id, bool pod, int *also);

/* Shorter IDs are prefixes (IDs are 64 hex digits on every backend).  */
#define CRIMP_FULL_ID_LEN 64

/* How many pods and containers BACKEND owns.  */
void crimp_ownership_count(struct crimp_ownership *o, int backend, size_t *pods,
                           size_t *containers);

#endif
