/* Which host of a registry a request goes to: the mirrors and the
 * registry itself, in the order the host configuration gives
 * (registry_hosts.h), each with its own CAs, client certificate and
 * headers.  */
#include <string.h>
#include <strings.h>

#include "distribution-session.h"
#include "log.h"
#include "utils.h"

bool dist_is_loopback_host(const char *domain)
{
    cleanup_free char *host = NULL;
    if (domain[0] == '[')
        host = xasprintf("%.*s", (int)strcspn(domain + 1, "]"), domain + 1);
    else
        host = xasprintf("%.*s", (int)strcspn(domain, ":"), domain);
    return strcasecmp(host, "localhost") == 0 || has_prefix(host, "127.") ||
           strcmp(host, "::1") == 0;
}

bool dist_is_listed(const char *const *list, const char *domain)
{
    size_t host_len = domain[0] == '[' ? strcspn(domain, "]") + 1 : strcspn(domain, ":");
    for (; list && *list; list++)
        if (strcmp(*list, domain) == 0 ||
            (strlen(*list) == host_len && strncmp(*list, domain, host_len) == 0))
            return true;
    return false;
}

/* What the host's configuration asks of a request: its CAs, client
 * certificate, skip_verify and extra headers.  */
void dist_set_host_options(struct dist_session *s, struct curl_slist **headers)
{
    CURL *c = s->curl;
    const struct reg_host *h = &s->hosts.hosts[s->cur];
    if (dist_is_loopback_host(h->authority))
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* as Go's ProxyFromEnvironment */
    if (s->ca_pems[s->cur] != NULL) {
        struct curl_blob blob = {
            .data = s->ca_pems[s->cur], .len = s->ca_lens[s->cur], .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (h->client_cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, h->client_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, h->client_key ? h->client_key : h->client_cert);
    }
    if (h->skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    for (char **line = h->headers; line && *line; line++)
        dist_add_header(headers, *line);
}

int dist_load_hosts(struct dist_session *s, const char *dir, bool plain, crimp_error_t *err)
{
    if (reg_hosts_load(dir, s->ref.domain, plain, &s->hosts, err) < 0)
        return crimp_error_wrap(err, "registry %s", s->ref.domain);
    if (s->hosts.source != NULL)
        log_debug("registry %s: %zu host(s) from %s", s->ref.domain, s->hosts.n, s->hosts.source);
    s->ca_pems = xcalloc(s->hosts.n, sizeof(*s->ca_pems));
    s->ca_lens = xcalloc(s->hosts.n, sizeof(*s->ca_lens));
    for (size_t i = 0; i < s->hosts.n; i++)
        if (reg_host_ca_bundle(&s->hosts.hosts[i], &s->ca_pems[i], &s->ca_lens[i], err) < 0)
            return crimp_error_wrap(err, "registry %s", s->ref.domain);
    return 0;
}

/* Switches requests to host I; a token belongs to the host that gave it.  */
static void use_host(struct dist_session *s, size_t i)
{
    if (i == s->cur)
        return;
    s->cur = i;
    if (!s->fixed_bearer) {
        free(steal_ptr(&s->bearer));
        s->mode = AUTH_NONE;
    }
}

/* Runs CALL on each host with capability CAP, host FIRST first and then
 * the others in order, until one succeeds: a mirror that is down or lacks
 * the content falls through to the next, the registry itself last, as
 * containerd tries them.  The error kept is the first one that is not
 * NOT_FOUND, else the first.  *STOP (when given) is set by CALL once a
 * retry elsewhere would repeat bytes already handed to a sink.  */
int dist_on_hosts(struct dist_session *s, unsigned cap, size_t first, dist_host_call_fn call,
                  void *arg, const bool *stop, crimp_error_t *err)
{
    cleanup_error crimp_error_t kept = NULL;
    for (size_t k = 0; k < s->hosts.n && !(stop && *stop); k++) {
        size_t i = k == 0 ? first : (k <= first ? k - 1 : k);
        if (!(s->hosts.hosts[i].caps & cap))
            continue;
        use_host(s, i);
        crimp_error_t e = NULL;
        if (call(s, arg, &e) == 0)
            return 0;
        if (s->hosts.n > 1)
            log_info("registry %s: host %s: %s", s->ref.domain, s->hosts.hosts[i].authority,
                     e->msg);
        bool better = kept == NULL || (kept->code == GRPC_STATUS_NOT_FOUND &&
                                       e->code != GRPC_STATUS_NOT_FOUND);
        crimp_error_release(better ? &kept : &e);
        if (better)
            kept = e;
    }
    crimp_error_release(err);
    if (kept == NULL)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "registry %s: no configured host has the %s capability",
                                s->ref.domain, cap == REG_CAP_RESOLVE ? "resolve" : "pull");
    *err = steal_ptr(&kept);
    return -1;
}


void dist_free_hosts(struct dist_session *s)
{
    for (size_t i = 0; s->ca_pems && i < s->hosts.n; i++)
        free(s->ca_pems[i]);
    free(s->ca_pems);
    free(s->ca_lens);
    reg_hosts_clear(&s->hosts);
}

const char *dist_api(const struct dist_session *s)
{
    return s->hosts.hosts[s->cur].api;
}
