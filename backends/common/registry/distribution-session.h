/* The registry client's session, shared by its files: the HTTP half
 * (distribution_client.c) and the choice of host (distribution_hosts.c).
 * Not for users of distribution.h.  */
#ifndef CRIMP_DISTRIBUTION_SESSION_H
#define CRIMP_DISTRIBUTION_SESSION_H

#include <curl/curl.h>
#include <stdbool.h>

#include "distribution.h"
#include "registry_hosts.h"

enum auth_mode { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct dist_session {
    CURL *curl;
    struct dist_ref ref;
    struct reg_hosts hosts; /* mirrors first, the registry itself last */
    char **ca_pems;         /* per host: the system CAs plus its own, or NULL */
    size_t *ca_lens;
    size_t cur;             /* the host requests go to now */
    char *scope;            /* "repository:library/busybox:pull" */
    char *user_agent;
    long timeout;
    char *username, *password, *basic_auth, *identity_token;
    enum auth_mode mode;
    char *bearer;
    bool fixed_bearer; /* the caller's registry_token: never refreshed */
    char errbuf[CURL_ERROR_SIZE];
};

/* Whether DOMAIN ("host[:port]") is on loopback: no proxy, plain HTTP.  */
bool dist_is_loopback_host(const char *domain);
/* Whether DOMAIN is in LIST, as is or by its host alone.  */
bool dist_is_listed(const char *const *list, const char *domain);

/* Appends header LINE to L.  */
void dist_add_header(struct curl_slist **l, const char *line);

/* Loads the hosts of the session's registry (registry_hosts.h) and their
 * CA bundles; PLAIN: the registry itself is spoken to in HTTP.  */
int dist_load_hosts(struct dist_session *s, const char *dir, bool plain, crimp_error_t *err);
void dist_free_hosts(struct dist_session *s);
/* Sets the current host's TLS options and headers on the session handle.  */
void dist_set_host_options(struct dist_session *s, struct curl_slist **headers);
/* The current host's API root: "https://mirror:5000/v2".  */
const char *dist_api(const struct dist_session *s);

typedef int (*dist_host_call_fn)(struct dist_session *s, void *arg, crimp_error_t *err);
int dist_on_hosts(struct dist_session *s, unsigned cap, size_t first, dist_host_call_fn call,
                  void *arg, const bool *stop, crimp_error_t *err);

#endif
