/* Docker's images kept in memory for ListImages, ImageStatus, ImageFsInfo
 * and the pause image check: one entry per image ID with its tags, digests,
 * size and configured user.
 *
 * Kept current by a thread that follows Docker's image events (pull, tag,
 * untag, delete, import, load, ...): after every (re)connect and after each
 * event it lists the images again and inspects only the IDs it has not seen
 * (an ID's config never changes).  crimp's own pulls refresh it and its
 * removals drop the image before they return, so a status right after them
 * reflects them.  While the stream is down the cache does not answer and
 * the callers ask Docker.  */
#ifndef CRIMP_DOCKER_IMAGE_CACHE_H
#define CRIMP_DOCKER_IMAGE_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct docker_backend;
struct docker_image_cache;

struct docker_image_cache *docker_image_cache_new(struct docker_backend *d);
void docker_image_cache_free(struct docker_image_cache *c);

/* Lists and inspects what is new now (after crimp's own pull or remove).  */
int docker_image_cache_refresh(struct docker_image_cache *c, crimp_error_t *err);

/* Drops image ID (removed by crimp), so a status right after the removal
 * does not find it; the removal's events resync the rest.  */
void docker_image_cache_forget(struct docker_image_cache *c, const char *id);

/* Whether the cache is current (its events stream is followed).  */
bool docker_image_cache_current(struct docker_image_cache *c);

/* The images as an array of {Id, RepoTags, RepoDigests, Size, Config:{User}}
 * (new reference), or NULL when the cache is not current.  */
json_t *docker_image_cache_list(struct docker_image_cache *c);

/* Docker's root directory (caller frees), asked of /info the first time
 * only; NULL with *ERR when dockerd cannot be asked.  */
char *docker_image_cache_root(struct docker_image_cache *c, crimp_error_t *err);

#endif
