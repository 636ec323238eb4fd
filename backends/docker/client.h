/* The Docker Engine API client: HTTP/1.1 over dockerd's unix socket with
 * libcurl and JSON bodies with jansson.
 *
 * Connections persist: finished curl handles go back to a free list and
 * keep their connection open, so a worker's next request skips the connect.
 * Every request is reported to the current CRI call's trace as a span named
 * by its method and path *template* ("POST /containers/{id}/start"), so
 * latency is grouped per kind of request, not per container.
 *
 * Errors are classified by HTTP status, never by message text:
 * 404 → NOT_FOUND, 409 → ALREADY_EXISTS (name conflicts) or
 * FAILED_PRECONDITION, 400 → INVALID_ARGUMENT, other 4xx/5xx → UNKNOWN with
 * Docker's own message; a dockerd that does not answer → UNAVAILABLE.  */
#ifndef CRIMP_DOCKER_CLIENT_H
#define CRIMP_DOCKER_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct docker_client;

/* A client for the dockerd listening on SOCKET_PATH.  No I/O yet.  */
struct docker_client *docker_client_new(const char *socket_path);
void docker_client_free(struct docker_client *c);
const char *docker_client_socket(const struct docker_client *c);

/* Asks GET /version once and fixes the API version every later path is
 * prefixed with; refuses daemons older than API 1.41.  Fills VERSION (the
 * Engine version, caller frees) when not NULL.  */
int docker_client_negotiate(struct docker_client *c, char **version, crimp_error_t *err);

/* The check of negotiate on /version's reply V (from dockerd at
 * SOCKET_PATH): FAILED_PRECONDITION below API 1.41.  */
int docker_version_check(json_t *v, const char *socket_path, char **version, crimp_error_t *err);

/* The "/v1.41" prefix in use (after negotiation).  */
const char *docker_client_api_prefix(const struct docker_client *c);

/* Timeout of requests made outside any CRI call (background threads) that
 * set none, as kubelet's runtime-request-timeout.  Requests made for a CRI
 * call end by kubelet's deadline (less a margin, so that the error naming
 * dockerd arrives first) or, without one, by the backend's call_timeout;
 * and they end at once when kubelet cancels (common/deadline.h).  */
#define DOCKER_TIMEOUT_DEFAULT_MS (2 * 60 * 1000)
/* For long-running calls (pull, logs): no overall timeout.  */
#define DOCKER_TIMEOUT_NONE (-1)

struct docker_request {
    const char *method;   /* "GET", "POST", "DELETE" */
    const char *path;     /* template: "/containers/{id}/json" */
    const char *id;       /* substituted for {id}, URL-escaped; NULL if none */
    const char *query;    /* "all=1&filters=…" already escaped; NULL if none */
    json_t *body;         /* sent as application/json; NULL: no body */
    long timeout_ms;      /* its own limit; 0: none of its own; DOCKER_TIMEOUT_NONE: unbounded
                             (either way never past the CRI call's deadline) */
    /* Abort when no byte arrives for this many seconds (0: never).  The
     * pull-progress deadline: a stalled pull fails, a slow one does not.  */
    long stall_seconds;
    const atomic_bool *cancelled; /* checked while the request runs */
    const char *extra_header;     /* one "Name: value" header, or NULL */
    bool unversioned;             /* PATH without the API version prefix */
    /* Streaming replies: when set, body bytes go here as they arrive
     * instead of being collected; return false to abort.  */
    bool (*on_data)(void *ctx, const char *data, size_t len);
    void *ctx;
};

struct docker_response {
    long status;  /* HTTP status */
    char *body;   /* raw body (collected replies only), NUL-terminated */
    size_t len;
    json_t *json; /* body parsed as JSON when it is JSON, else NULL */
};

void docker_response_release(struct docker_response *r);
#define cleanup_docker_response __attribute__((cleanup(docker_response_release)))

/* Sends R and waits for the reply.  0 for 2xx and 304 (Docker's "already
 * started / stopped"; check resp->status), < 0 with *err otherwise.  RESP
 * may be NULL when the caller needs nothing of the reply.  */
int docker_do(struct docker_client *c, const struct docker_request *r,
              struct docker_response *resp, crimp_error_t *err);

/* Shorthands for the common cases, with the default timeout.  */
int docker_get_json(struct docker_client *c, const char *path, const char *id, const char *query,
                    json_t **out, crimp_error_t *err);
int docker_post(struct docker_client *c, const char *path, const char *id, const char *query,
                json_t *body, struct docker_response *resp, crimp_error_t *err);

/* Escapes S for a query string value (caller frees).  */
char *docker_query_escape(const char *s);

/* The "filters=" query value for a JSON filter object such as
 * {"label": {"a=b": true}} (caller frees).  */
char *docker_filters_query(json_t *filters);

#endif
