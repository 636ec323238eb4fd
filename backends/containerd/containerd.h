/* The containerd backend (type "containerd"): the CRI on containerd's
 * native API.  Options: namespace (k8s.io), snapshotter (overlayfs),
 * runtime (io.containerd.runc.v2), pause_image, cni_bin_dirs, cni_conf_dir,
 * cni_timeout, oom_score_adj_min, insecure_registries.  */
#ifndef CRIMP_CONTAINERD_H
#define CRIMP_CONTAINERD_H

#include "backend.h"

extern const struct crimp_backend_ops crimp_backend_containerd;

#endif
