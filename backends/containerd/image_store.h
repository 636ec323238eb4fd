/* containerd's image records (name → target) and which image snapshots
 * are known to be unpacked, kept in memory so that ListImages, ImageStatus
 * and CreateContainer's image lookup make no call to containerd.
 *
 * Kept current by a thread subscribed to containerd's events of the
 * namespace: /images/create and /images/update (the record is read again
 * with Images/Get), /images/delete, /snapshot/remove (an unpacked chain
 * goes).  It subscribes first and then lists every record (Images/List),
 * at start and after every reconnect, so nothing falls between the two.
 * crimp's own pulls and removals update it before they return.  While the
 * subscription is down the store does not answer: callers ask containerd.
 * A NULL store (a backend without one, as in unit tests) never answers.  */
#ifndef CRIMP_CTRD_IMAGE_STORE_H
#define CRIMP_CTRD_IMAGE_STORE_H

#include <stdbool.h>

#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"

struct ctrd_backend;
struct ctrd_image_store;

struct ctrd_image_store *ctrd_image_store_new(struct ctrd_backend *b);
/* Cancels the subscription, joins the thread, frees (NULL-safe).  */
void ctrd_image_store_free(struct ctrd_image_store *s);

/* The record named NAME, a copy in *REC (caller frees): 1 found, 0 none,
 * -1 when the store is not current (ask containerd).  */
int ctrd_image_store_get(struct ctrd_image_store *s, const char *name,
                         Containerd__Services__Images__V1__Image **rec);

/* Every record, or those pointing at DIGEST (non-NULL), as a list
 * response (caller frees); NULL when the store is not current.  */
Containerd__Services__Images__V1__ListImagesResponse *
ctrd_image_store_list(struct ctrd_image_store *s, const char *digest);

/* What crimp itself just wrote or deleted: REC is copied in; NAME goes.  */
void ctrd_image_store_put(struct ctrd_image_store *s,
                          const Containerd__Services__Images__V1__Image *rec);
void ctrd_image_store_forget(struct ctrd_image_store *s, const char *name);

/* Whether the snapshot CHAIN_ID is known to exist (a Snapshots/Stat said so
 * and no /snapshot/remove of it came since); and recording that it does.  */
bool ctrd_image_store_unpacked(struct ctrd_image_store *s, const char *chain_id);
void ctrd_image_store_set_unpacked(struct ctrd_image_store *s, const char *chain_id);

#endif
