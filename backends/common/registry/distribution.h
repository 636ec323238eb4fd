/* A client of the registry HTTP API v2 (the OCI distribution spec) on
 * libcurl: what a runtime that pulls images itself needs (the containerd
 * native backend; containerd's Go client does this part in-process).
 *
 *   dist_ref_parse       "busybox" → docker.io/library/busybox:latest
 *   dist_session_new     one pull from one repository, with credentials
 *   dist_resolve         HEAD (or GET) the manifest of a tag or digest
 *   dist_fetch_manifest  a manifest or index body, digest verified
 *   dist_fetch_blob      a blob streamed to a sink, digest verified
 *
 * Registries on loopback (127.0.0.0/8, ::1, localhost) and those listed as
 * insecure are spoken to in plain HTTP, everything else in HTTPS.  A 401
 * with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` is answered by
 * fetching a token from the realm (with the credentials, when given) and
 * retrying; `Basic` is answered with the credentials.  docker.io's API host
 * is registry-1.docker.io.  Every HTTP request is a trace span named by
 * method and path template ("GET /v2/{name}/blobs/{digest}") with the HTTP
 * status.  Errors: NOT_FOUND for 404 (naming the reference), UNAUTHENTICATED
 * / PERMISSION_DENIED for 401/403 after auth, UNAVAILABLE when the registry
 * cannot be reached, DATA_LOSS for a digest mismatch, INVALID_ARGUMENT for
 * a reference that does not parse.  */
#ifndef CRIMP_DISTRIBUTION_H
#define CRIMP_DISTRIBUTION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* A parsed image reference.  */
struct dist_ref {
    char *domain;     /* "docker.io", "127.0.0.1:5100", "registry.k8s.io" */
    char *path;       /* "library/busybox", "crimp/pause" */
    char *tag;        /* "latest", "3.10"; NULL when only a digest was given */
    char *digest;     /* "sha256:…" or NULL */
    char *normalized; /* "docker.io/library/busybox:latest" (tag and/or "@digest") */
};

/* Parses S the way Docker and containerd do: no domain → docker.io, a
 * docker.io path without '/' → library/, no tag and no digest → latest.
 * A first component with '.' or ':' or equal to "localhost" is a domain.
 * Upper case in the path, an empty name or a bad digest → INVALID_ARGUMENT.  */
int dist_ref_parse(const char *s, struct dist_ref *ref, crimp_error_t *err);
void dist_ref_clear(struct dist_ref *ref);
/* "<domain>/<path>@<digest>" (caller frees).  */
char *dist_ref_with_digest(const struct dist_ref *ref, const char *digest);
/* "<domain>/<path>" (caller frees).  */
char *dist_ref_repository(const struct dist_ref *ref);

/* Credentials, as CRI's AuthConfig carries them; all may be NULL.  */
struct dist_auth {
    const char *username, *password;
    const char *auth;           /* base64 "user:password" */
    const char *identity_token; /* refresh token for the token endpoint */
    const char *registry_token; /* bearer token used as is */
};

struct dist_options {
    const char *const *insecure; /* NULL-terminated "host[:port]" list spoken to in HTTP */
    long timeout_seconds;        /* per request without progress; 0: 60 */
    const char *user_agent;      /* NULL: "crimp/<version>" */
    const char *hosts_dir;       /* containerd's config_path (registry_hosts.h); NULL: none */
};

/* A content descriptor.  */
struct dist_descriptor {
    char *media_type;
    char *digest; /* "sha256:…" */
    int64_t size;
};
void dist_descriptor_clear(struct dist_descriptor *d);

struct dist_session;

/* A session for REF's repository; keeps the curl handle and the token.  */
struct dist_session *dist_session_new(const struct dist_ref *ref, const struct dist_auth *auth,
                                      const struct dist_options *opts, crimp_error_t *err);
void dist_session_free(struct dist_session *s);

/* The descriptor REF's tag or digest names (Accept: docker v2 manifest and
 * manifest list, OCI manifest and index).  */
int dist_resolve(struct dist_session *s, struct dist_descriptor *out, crimp_error_t *err);

/* GETs manifest DIGEST; checks its digest; *BODY (NUL-terminated, caller
 * frees), *LEN and *MEDIA_TYPE (caller frees) describe it.  */
int dist_fetch_manifest(struct dist_session *s, const char *digest, char **body, size_t *len,
                        char **media_type, crimp_error_t *err);

/* Called with consecutive pieces of a blob; a negative return aborts the
 * transfer with *err.  */
typedef int (*dist_sink_fn)(void *ctx, const void *data, size_t len, crimp_error_t *err);

/* GETs blob D from byte OFFSET (Range request when > 0), following
 * redirects, handing the bytes to SINK.  When OFFSET is 0 the digest and
 * the size are checked at the end (DATA_LOSS on mismatch).  */
int dist_fetch_blob(struct dist_session *s, const struct dist_descriptor *d, int64_t offset,
                    dist_sink_fn sink, void *ctx, crimp_error_t *err);

/* Pure helpers on manifest JSON, exposed for unit tests.  */

/* Whether MEDIA_TYPE is an index / manifest list.  */
bool dist_is_index(const char *media_type);
/* From an index, the manifest for OS/ARCH (variant ignored for amd64);
 * NOT_FOUND naming the platforms offered when none matches.  */
int dist_index_select(json_t *index, const char *os, const char *arch,
                      struct dist_descriptor *out, crimp_error_t *err);
/* From an image manifest, its config and layers (*LAYERS: array of N
 * descriptors, caller frees with dist_descriptor_clear each + free).  */
int dist_manifest_parse(json_t *manifest, struct dist_descriptor *config,
                        struct dist_descriptor **layers, size_t *n_layers, crimp_error_t *err);
/* Parses a WWW-Authenticate value: scheme into *SCHEME ("Bearer"/"Basic"),
 * parameters into *PARAMS (object of strings).  */
int dist_parse_www_authenticate(const char *value, char **scheme, json_t **params);

#endif
