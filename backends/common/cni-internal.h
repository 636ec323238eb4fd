/* Between the CNI runner's chain logic (cni.c) and its process runner
 * (cni_exec.c).  */
#ifndef CRIMP_CNI_INTERNAL_H
#define CRIMP_CNI_INTERNAL_H

#include "cni.h"

struct cni_invocation {
    const char *type;    /* plugin binary name */
    const char *command; /* ADD, DEL, CHECK, VERSION */
    const char *container_id, *netns, *ifname, *args;
    const char *bin_dirs;
    int timeout_seconds;
};

struct cni_output {
    char *out, *err; /* stdout and stderr, NUL-terminated or NULL */
    int status;      /* exit status (128+signal when killed) */
};

/* The plugin binary for TYPE in the colon-separated BIN_DIRS, or NULL.  */
char *cni_find_plugin(const char *bin_dirs, const char *type);

/* Runs the plugin; < 0 only when it could not run or timed out.  A plugin
 * that ran and failed returns 0 with OUT->status != 0.  */
int cni_exec_plugin(const struct cni_invocation *inv, const char *stdin_text,
                    struct cni_output *out, crimp_error_t *err);
void cni_output_release(struct cni_output *o);

#endif
