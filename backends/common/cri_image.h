/* Pieces of CRI ImageService replies that every backend builds the same
 * way, whatever its runtime says about images.  */
#ifndef CRIMP_CRI_IMAGE_H
#define CRIMP_CRI_IMAGE_H

#include <stdint.h>

#include "cri.pb-c.h"

/* A new Image (heap, owned by the caller's response) for image ID of SIZE
 * bytes whose config runs as USER (may be NULL: "1000", "1000:1000" → uid;
 * "nobody" → username), spec.image = ID.  Tags and digests are left empty
 * for the caller.  */
Runtime__V1__Image *crimp_cri_image_new(const char *id, uint64_t size, const char *user);

/* A new FilesystemUsage (heap) of MOUNTPOINT, stamped now.  */
Runtime__V1__FilesystemUsage *crimp_fs_usage_new(const char *mountpoint, uint64_t used_bytes,
                                                 uint64_t inodes_used);

#endif
