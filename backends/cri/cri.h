/* The cri backend: passthrough to any CRI v1 endpoint (containerd's CRI
 * plugin, CRI-O, cri-dockerd).  Requests and replies, status codes and
 * messages, and streaming URLs go through unchanged.  */
#ifndef CRIMP_BACKEND_CRI_H
#define CRIMP_BACKEND_CRI_H

#include "backend.h"

extern const struct crimp_backend_ops crimp_backend_cri;

#endif
