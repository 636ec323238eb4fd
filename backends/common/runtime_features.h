/* What the node's kernel and OCI runtime can do for the features kubelet
 * asks about per runtime handler (StatusResponse.runtime_handlers, kubelet
 * >= 1.30): recursive read-only mounts and user namespaces.  A backend says
 * true only for what it really carries out.  */
#ifndef CRIMP_RUNTIME_FEATURES_H
#define CRIMP_RUNTIME_FEATURES_H

#include <stdbool.h>

#include "cri.pb-c.h"

/* Whether the kernel has mount_setattr(2) (Linux >= 5.12), which recursive
 * read-only mounts need.  Probed once.  */
bool crimp_kernel_has_mount_setattr(void);

/* Whether the JSON of `runc features` (FEATURES_JSON) lists mount option
 * OPTION ("rro").  */
bool crimp_runc_features_have(const char *features_json, const char *option);

/* The same for the runc binary RUNC, run once (false when it is missing,
 * fails, or predates `runc features`).  */
bool crimp_runc_supports_mount_option(const char *runc, const char *option);

/* Adds runtime handler NAME with its two features to RESP.  */
void crimp_status_add_handler(Runtime__V1__StatusResponse *resp, const char *name, bool rro,
                              bool userns);

#endif
