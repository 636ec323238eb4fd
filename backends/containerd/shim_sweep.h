/* Containerd shims left idle in crimp's namespace (shim_sweep.c).  */
#ifndef CRIMP_CTRD_SHIM_SWEEP_H
#define CRIMP_CTRD_SHIM_SWEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What a shim's command line says; pointers into the argv parsed.  */
struct ctrd_shim_args {
    const char *ns, *id, *address;
};

/* Fills A from a `containerd-shim*` process's ARGV (Go flag forms:
 * `-flag value`, `--flag value`, `-flag=value`); false when ARGV is not a
 * shim's or lacks one of the three flags.  */
bool ctrd_shim_args_parse(char *const *argv, size_t argc, struct ctrd_shim_args *a);

/* The socket path of a containerd endpoint: "unix:///p", "unix:/p", "/p".  */
const char *ctrd_endpoint_path(const char *endpoint);

enum ctrd_shim_verdict {
    CTRD_SHIM_NOT_OURS, /* another namespace or another containerd */
    CTRD_SHIM_IN_USE,   /* a container (or a group of them) has its ID */
    CTRD_SHIM_BUSY,     /* it still has a child: a task runs under it */
    CTRD_SHIM_ORPHAN,
};

/* The decision for shim A of backend (NS, SOCKET): IN_USE keys are the IDs
 * of containerd's containers in NS, their runc group labels and the IDs of
 * calls in flight.  */
enum ctrd_shim_verdict ctrd_shim_judge(const struct ctrd_shim_args *a, const char *ns,
                                       const char *socket, json_t *in_use, bool has_child);

#endif
