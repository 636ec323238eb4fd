/* What distribution.c (references, manifest JSON) and distribution_client.c
 * (HTTP, auth) share.  */
#ifndef CRIMP_DISTRIBUTION_INTERNAL_H
#define CRIMP_DISTRIBUTION_INTERNAL_H

#include <stdbool.h>

#define MT_DOCKER_MANIFEST    "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST        "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_SCHEMA1     "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_JWS "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_OCI_MANIFEST       "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX          "application/vnd.oci.image.index.v1+json"

/* Whether D is "<algorithm>:<hex>" as the OCI spec defines it, with
 * sha256 (64), sha384 (96) and sha512 (128) lower-case hex digits.  */
bool dist_digest_valid(const char *d);

#endif
