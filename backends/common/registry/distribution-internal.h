/* What distribution.c (references, manifest JSON) and distribution_client.c
 * (HTTP, auth) share.  */
#ifndef CRIMP_DISTRIBUTION_INTERNAL_H
#define CRIMP_DISTRIBUTION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#define MT_DOCKER_MANIFEST    "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST        "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_SCHEMA1     "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_JWS "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_OCI_MANIFEST       "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX          "application/vnd.oci.image.index.v1+json"

/* Whether D is "<algorithm>:<hex>" as the OCI spec defines it, with
 * sha256 (64), sha384 (96) and sha512 (128) lower-case hex digits.  */
bool dist_digest_valid(const char *d);

/* Readers of replies (distribution_reply.c).  */

/* One header line as libcurl hands it (CRLF included; LINE is cut up):
 * a status line sets *STATUS, a header sets *NAME and *VALUE (trimmed,
 * pointing into LINE).  */
enum dist_line { DIST_LINE_OTHER, DIST_LINE_STATUS, DIST_LINE_HEADER };
enum dist_line dist_header_line(char *line, long *status, char **name, char **value);

/* The registry's words for a failed reply BODY of LEN bytes: the
 * distribution spec's {"errors": [{"message"}]}, token servers' "details"
 * / "error", or a short plain-text body; NULL without any (caller frees).  */
char *dist_reply_message(const char *body, size_t len);

/* The bearer token of a token server's reply ("token", else
 * "access_token"), or NULL (caller frees).  */
char *dist_token_of_reply(const char *body, size_t len);

/* Whether MT says nothing of a manifest's kind (application/json…).  */
bool dist_is_generic_type(const char *mt);

/* What a fetched manifest is: the type its body declares, else the reply's
 * CONTENT_TYPE (may be NULL), else a guess from its shape (OCI allows no
 * mediaType); NULL when unknown (caller frees).  */
char *dist_manifest_media_type(const char *body, size_t len, const char *content_type);

#endif
