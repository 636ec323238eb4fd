/* The docker backend's ops table (type "docker"): see docker-internal.h
 * for how it is put together.  */
#ifndef CRIMP_DOCKER_H
#define CRIMP_DOCKER_H

#include "backend.h"

extern const struct crimp_backend_ops crimp_backend_docker;

#endif
