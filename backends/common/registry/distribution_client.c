/* The HTTP half of the registry client: one libcurl easy handle per
 * session (so requests reuse the connection), the token dance on 401, and
 * digest checks on what comes back.  */
#include "distribution.h"

#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "distribution-internal.h"
#include "log.h"
#include "distribution-session.h"
#include "digest.h"
#include "trace.h"
#include "utils.h"

#define MANIFEST_MAX    (4 << 20) /* containerd refuses bigger manifests too */
#define TOKEN_REPLY_MAX (1 << 20)
#define ERROR_BODY_MAX  (64 << 10)
#define DEFAULT_TIMEOUT 60

static const char ACCEPT_MANIFESTS[] = "Accept: " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST
                                       ", " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", */*";

/* Whose credentials a request carries.  */
enum req_auth { REQ_SESSION, REQ_CREDENTIALS, REQ_ANONYMOUS };

struct transfer {
    const char *method, *url;
    const char *span;      /* trace name: method and path template */
    const char *accept;    /* header line or NULL */
    const char *form;      /* POST body */
    const char *not_found; /* message for a 404 without a body */
    enum req_auth auth;
    int64_t range_from; /* > 0: Range request */
    size_t body_max;    /* bigger 2xx bodies abort the transfer */
    dist_sink_fn sink;  /* NULL: 2xx bodies are kept in body */
    void *sink_ctx;

    long status;
    char *digest, *content_type, *www_authenticate, *content_range;
    int64_t content_length;
    char *body;
    size_t len;
    bool too_big;

    bool started;     /* the first byte of a streamed body was seen */
    int64_t skip;     /* bytes to drop before the sink: a 200 answered a Range */
    int64_t received; /* bytes of the streamed body, skipped ones included */
    struct sha256_ctx sha;
    crimp_error_t sink_err;
};

static void transfer_reset_response(struct transfer *t)
{
    free(t->digest);
    free(t->content_type);
    free(t->www_authenticate);
    free(t->content_range);
    free(t->body);
    t->digest = t->content_type = t->www_authenticate = t->content_range = t->body = NULL;
    t->len = 0;
    t->content_length = -1;
    t->started = false;
    t->skip = t->received = 0;
    sha256_release(&t->sha);
    sha256_init(&t->sha);
}

static void transfer_release(struct transfer *t)
{
    transfer_reset_response(t);
    sha256_release(&t->sha);
    crimp_error_release(&t->sink_err);
}

#define cleanup_transfer __attribute__((cleanup(transfer_release)))

static void replace(char **slot, const char *value)
{
    free(*slot);
    *slot = xstrdup(value);
}

/* Header NAME's VALUE (trimmed) into T.  */
static void take_header(struct transfer *t, const char *name, char *value)
{
    if (strcasecmp(name, "docker-content-digest") == 0) {
        replace(&t->digest, value);
    } else if (strcasecmp(name, "content-type") == 0) {
        value[strcspn(value, "; \t")] = '\0'; /* "application/json; charset=utf-8" */
        replace(&t->content_type, value);
    } else if (strcasecmp(name, "content-length") == 0) {
        t->content_length = strtoll(value, NULL, 10);
    } else if (strcasecmp(name, "content-range") == 0) {
        replace(&t->content_range, value);
    } else if (strcasecmp(name, "www-authenticate") == 0) {
        /* Several challenges: Bearer is the one to answer.  */
        if (t->www_authenticate == NULL || (strncasecmp(value, "bearer", 6) == 0 &&
                                            strncasecmp(t->www_authenticate, "bearer", 6) != 0))
            replace(&t->www_authenticate, value);
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *t = arg;
    size_t n = size * nmemb;
    cleanup_free char *line = xasprintf("%.*s", (int)n, data);
    long status = 0;
    char *name = NULL, *value = NULL;
    switch (dist_header_line(line, &status, &name, &value)) {
    case DIST_LINE_STATUS:
        /* A new reply (after a redirect or a 100): forget the last one.  */
        transfer_reset_response(t);
        t->status = status;
        break;
    case DIST_LINE_HEADER:
        take_header(t, name, value);
        break;
    default:
        break;
    }
    return n;
}

/* A 200 to a Range request is the whole blob (the registry ignored the
 * Range): drop the bytes before the offset.  A 206 must start there.  */
static int begin_stream(struct transfer *t, crimp_error_t *err)
{
    if (t->range_from == 0)
        return 0;
    if (t->status == 200) {
        t->skip = t->range_from;
        return 0;
    }
    long long start = -1;
    if (t->content_range == NULL || sscanf(t->content_range, "bytes %lld-", &start) != 1 ||
        start != t->range_from)
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "asked for bytes from %" PRId64 ", got Content-Range %s",
                                t->range_from, t->content_range ? t->content_range : "(none)");
    return 0;
}

static int stream_body(struct transfer *t, const char *data, size_t n)
{
    if (!t->started) {
        t->started = true;
        if (begin_stream(t, &t->sink_err) < 0)
            return -1;
    }
    sha256_update(&t->sha, data, n);
    t->received += (int64_t)n;
    size_t drop = t->skip < (int64_t)n ? (size_t)t->skip : n;
    t->skip -= (int64_t)drop;
    if (n == drop)
        return 0;
    if (t->sink(t->sink_ctx, data + drop, n - drop, &t->sink_err) < 0) {
        if (t->sink_err == NULL)
            crimp_make_error(&t->sink_err, GRPC_STATUS_INTERNAL, 0, "blob sink failed");
        return -1;
    }
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *t = arg;
    size_t n = size * nmemb;
    bool ok = t->status >= 200 && t->status < 300;
    if (ok && t->sink != NULL)
        return stream_body(t, data, n) < 0 ? 0 : n;
    size_t max = ok ? t->body_max : ERROR_BODY_MAX;
    size_t keep = t->len + n > max ? max - t->len : n;
    if (keep < n && ok) {
        t->too_big = true;
        return 0;
    }
    /* Error bodies are only read for a message: the rest is dropped.  */
    t->body = xrealloc(t->body, t->len + keep + 1);
    memcpy(t->body + t->len, data, keep);
    t->len += keep;
    t->body[t->len] = '\0';
    return n;
}

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void slist_freep(struct curl_slist **l)
{
    curl_slist_free_all(*l);
}

#define cleanup_slist __attribute__((cleanup(slist_freep)))

void dist_add_header(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);
    if (n == NULL) {
        fprintf(stderr, "crimp: out of memory in curl_slist_append\n");
        abort();
    }
    *l = n;
}

static bool has_credentials(const struct dist_session *s)
{
    return s->basic_auth != NULL || s->username != NULL;
}

static void set_credentials(struct dist_session *s, struct curl_slist **headers)
{
    if (s->basic_auth != NULL) {
        cleanup_free char *h = xasprintf("Authorization: Basic %s", s->basic_auth);
        dist_add_header(headers, h);
    } else if (s->username != NULL) {
        curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->username);
        curl_easy_setopt(s->curl, CURLOPT_PASSWORD, s->password ? s->password : "");
    }
}

static void set_auth(struct dist_session *s, const struct transfer *t, struct curl_slist **headers)
{
    if (t->auth == REQ_CREDENTIALS || (t->auth == REQ_SESSION && s->mode == AUTH_BASIC)) {
        set_credentials(s, headers);
    } else if (t->auth == REQ_SESSION && s->mode == AUTH_BEARER) {
        cleanup_free char *h = xasprintf("Authorization: Bearer %s", s->bearer);
        dist_add_header(headers, h);
    }
}

/* Options for T on the session's handle; curl_easy_reset keeps the
 * connection cache, so the next request reuses the connection.  libcurl
 * (>= 7.58) drops Authorization and credentials when a redirect leaves the
 * host, so blob redirects to storage never see the registry's token.  */
static void set_options(struct dist_session *s, struct transfer *t, struct curl_slist **headers)
{
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, t->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, s->user_agent);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->timeout);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->timeout);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    dist_set_host_options(s, headers);
    if (strcmp(t->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (t->form != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, t->form);
    if (t->accept != NULL)
        dist_add_header(headers, t->accept);
    if (t->range_from > 0) {
        char range[48];
        snprintf(range, sizeof(range), "Range: bytes=%" PRId64 "-", t->range_from);
        dist_add_header(headers, range);
    }
    set_auth(s, t, headers);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
}

static int curl_failure(const struct dist_session *s, const struct transfer *t, CURLcode rc,
                        crimp_error_t *err)
{
    char why[CURL_ERROR_SIZE];
    snprintf(why, sizeof(why), "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
    why[0] = (char)tolower((unsigned char)why[0]); /* "Failed to connect…" */
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return crimp_make_error(err, GRPC_STATUS_DEADLINE_EXCEEDED, 0, "%s %s: %s", t->method,
                                t->url, why);
    return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0, "%s %s: %s", t->method, t->url, why);
}

/* One HTTP exchange; < 0 only when no reply came (or the sink failed).  */
static int http_do(struct dist_session *s, struct transfer *t, crimp_error_t *err)
{
    cleanup_slist struct curl_slist *headers = NULL;
    transfer_reset_response(t);
    t->status = 0;
    t->too_big = false;
    s->errbuf[0] = '\0';
    set_options(s, t, &headers);
    int64_t start = crimp_now_mono_ns();
    CURLcode rc = curl_easy_perform(s->curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &t->status);
    crimp_trace_span(CRIMP_SPAN_HTTP, t->span, rc == CURLE_OK ? (int)t->status : -1, start,
                     crimp_now_mono_ns());
    if (t->sink_err != NULL) {
        *err = steal_ptr(&t->sink_err);
        return -1;
    }
    if (t->too_big)
        return crimp_make_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, 0,
                                "%s %s: reply larger than %zu bytes", t->method, t->url,
                                t->body_max);
    if (rc != CURLE_OK)
        return curl_failure(s, t, rc, err);
    return 0;
}

static int reply_error(const struct transfer *t, const char *what, crimp_error_t *err)
{
    cleanup_free char *msg = dist_reply_message(t->body, t->len);
    grpc_status_code code = crimp_status_from_http(t->status);
    switch (t->status) {
    case 401:
        return crimp_make_error(err, code, 0, "%s: %s", what, msg ? msg : "unauthorized");
    case 403:
        return crimp_make_error(err, code, 0, "%s: %s", what, msg ? msg : "denied");
    case 404:
        return crimp_make_error(err, code, 0, "%s: %s", what,
                                msg            ? msg
                                : t->not_found ? t->not_found
                                               : "not found");
    default:
        return crimp_make_error(err, code, 0, "%s: %s%sHTTP %ld%s", what, msg ? msg : "",
                                msg ? " (" : "", t->status, msg ? ")" : "");
    }
}

static char *token_query(const struct dist_session *s, const char *service)
{
    char *esc_scope = curl_easy_escape(s->curl, s->scope, 0);
    char *esc_service = service ? curl_easy_escape(s->curl, service, 0) : NULL;
    if (esc_scope == NULL || (service && esc_service == NULL)) {
        fprintf(stderr, "crimp: out of memory in curl_easy_escape\n");
        abort();
    }
    char *q = xasprintf("%s%s%sscope=%s", service ? "service=" : "", service ? esc_service : "",
                        service ? "&" : "", esc_scope);
    curl_free(esc_scope);
    curl_free(esc_service);
    return q;
}

/* POSTs the identity (refresh) token as an OAuth2 form: 1 when answered,
 * 0 when the token server has no POST endpoint (GCR answers 404, others
 * 405) and a GET must be tried, -1 when it could not be reached.  */
static int post_refresh_token(struct dist_session *s, struct transfer *t, const char *realm,
                              const char *query, crimp_error_t *err)
{
    char *esc = curl_easy_escape(s->curl, s->identity_token, 0);
    cleanup_free char *form = xasprintf(
        "grant_type=refresh_token&refresh_token=%s&client_id=crimp&%s", esc ? esc : "", query);
    curl_free(esc);
    t->method = "POST";
    t->url = realm;
    t->span = "POST {realm}";
    t->form = form;
    int r = http_do(s, t, err);
    t->form = NULL;
    if (r < 0)
        return -1;
    return t->status != 404 && t->status != 405;
}

static int token_request(struct dist_session *s, struct transfer *t, const char *realm,
                         const char *query, crimp_error_t *err)
{
    if (s->identity_token != NULL) {
        int posted = post_refresh_token(s, t, realm, query, err);
        if (posted != 0)
            return posted;
    }
    cleanup_free char *url = xasprintf("%s%c%s", realm, strchr(realm, '?') ? '&' : '?', query);
    t->method = "GET";
    t->url = url;
    t->span = "GET {realm}";
    t->auth = REQ_CREDENTIALS;
    int r = http_do(s, t, err);
    t->url = NULL; /* URL is freed on return */
    return r;
}

static int fetch_token(struct dist_session *s, json_t *challenge, crimp_error_t *err)
{
    const char *realm = json_string_value(json_object_get(challenge, "realm"));
    const char *service = json_string_value(json_object_get(challenge, "service"));
    if (realm == NULL || !(has_prefix(realm, "https://") || has_prefix(realm, "http://")))
        return crimp_make_error(err, GRPC_STATUS_UNAUTHENTICATED, 0,
                                "bearer challenge without an http(s) realm");
    cleanup_free char *query = token_query(s, service);
    cleanup_transfer struct transfer t = {.auth = REQ_ANONYMOUS, .body_max = TOKEN_REPLY_MAX};
    if (token_request(s, &t, realm, query, err) < 0)
        return crimp_error_wrap(err, "token");
    cleanup_free char *what = xasprintf("token from %s", realm);
    if (t.status != 200)
        return reply_error(&t, what, err);
    cleanup_free char *token = dist_token_of_reply(t.body, t.len);
    if (token == NULL)
        return crimp_make_error(err, GRPC_STATUS_UNAUTHENTICATED, 0, "%s: no token in the reply",
                                what);
    replace(&s->bearer, token);
    s->mode = AUTH_BEARER;
    return 0;
}

/* Answers a 401's challenge: fetches a bearer token or switches to basic
 * credentials, for the retry.  */
static int authorize(struct dist_session *s, const struct transfer *t, crimp_error_t *err)
{
    cleanup_free char *scheme = NULL;
    json_auto_t *params = NULL;
    if (dist_parse_www_authenticate(t->www_authenticate, &scheme, &params) < 0)
        return crimp_make_error(err, GRPC_STATUS_UNAUTHENTICATED, 0,
                                "unauthorized, and no usable WWW-Authenticate challenge");
    if (strcmp(scheme, "Bearer") == 0)
        return fetch_token(s, params, err);
    if (strcmp(scheme, "Basic") != 0)
        return crimp_make_error(err, GRPC_STATUS_UNAUTHENTICATED, 0,
                                "unsupported authentication scheme %s", scheme);
    if (!has_credentials(s))
        return crimp_make_error(err, GRPC_STATUS_UNAUTHENTICATED, 0,
                                "the registry wants basic credentials and none were given");
    s->mode = AUTH_BASIC;
    return 0;
}

/* A registry request with the session's credentials, answering one 401
 * (no token yet, or an expired one); any non-2xx final reply is an error
 * naming WHAT.  */
static int request(struct dist_session *s, struct transfer *t, const char *what, crimp_error_t *err)
{
    if (http_do(s, t, err) < 0)
        return -1;
    bool may_retry = s->mode == AUTH_NONE || (s->mode == AUTH_BEARER && !s->fixed_bearer);
    if (t->status == 401 && may_retry) {
        if (authorize(s, t, err) < 0)
            return crimp_error_wrap(err, "%s", what);
        if (http_do(s, t, err) < 0)
            return -1;
    }
    if (t->status >= 200 && t->status < 300)
        return 0;
    return reply_error(t, what, err);
}

static void copy_ref(struct dist_ref *dst, const struct dist_ref *src)
{
    dst->domain = xstrdup(src->domain);
    dst->path = xstrdup(src->path);
    dst->tag = xstrdup_or_null(src->tag);
    dst->digest = xstrdup_or_null(src->digest);
    dst->normalized = xstrdup(src->normalized);
}

static void copy_auth(struct dist_session *s, const struct dist_auth *a)
{
    if (a == NULL)
        return;
    if (!str_empty(a->username)) {
        s->username = xstrdup(a->username);
        s->password = xstrdup_or_null(a->password);
    }
    if (!str_empty(a->auth))
        s->basic_auth = xstrdup(a->auth);
    if (!str_empty(a->identity_token))
        s->identity_token = xstrdup(a->identity_token);
    if (!str_empty(a->registry_token)) {
        s->bearer = xstrdup(a->registry_token);
        s->mode = AUTH_BEARER;
        s->fixed_bearer = true;
    }
}

struct dist_session *dist_session_new(const struct dist_ref *ref, const struct dist_auth *auth,
                                      const struct dist_options *opts, crimp_error_t *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "registry %s: curl_easy_init failed",
                         ref->domain);
        return NULL;
    }
    struct dist_session *s = xcalloc(1, sizeof(*s));
    s->curl = curl;
    copy_ref(&s->ref, ref);
    bool plain = dist_is_loopback_host(ref->domain) || dist_is_listed(opts ? opts->insecure : NULL, ref->domain);
    if (dist_load_hosts(s, opts ? opts->hosts_dir : NULL, plain, err) < 0) {
        dist_session_free(s);
        return NULL;
    }
    s->scope = xasprintf("repository:%s:pull", ref->path);
    s->user_agent =
        opts && opts->user_agent ? xstrdup(opts->user_agent) : xstrdup("crimp/" CRIMP_VERSION);
    s->timeout = opts && opts->timeout_seconds > 0 ? opts->timeout_seconds : DEFAULT_TIMEOUT;
    copy_auth(s, auth);
    return s;
}

void dist_session_free(struct dist_session *s)
{
    if (s == NULL)
        return;
    curl_easy_cleanup(s->curl);
    dist_ref_clear(&s->ref);
    dist_free_hosts(s);
    free(s->scope);
    free(s->user_agent);
    free(s->username);
    free(s->password);
    free(s->basic_auth);
    free(s->identity_token);
    free(s->bearer);
    free(s);
}

static int verify_digest(const char *expected, const char *actual, const char *what,
                         crimp_error_t *err)
{
    if (strcmp(expected, actual) != 0)
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "%s: digest mismatch: content hashes to %s", what, actual);
    return 0;
}

static int check_digest_arg(const char *digest, crimp_error_t *err)
{
    if (!dist_digest_valid(digest))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "invalid digest \"%s\"",
                                digest ? digest : "");
    if (!has_prefix(digest, "sha256:"))
        return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0,
                                "%s: only sha256 digests can be verified", digest);
    return 0;
}

static int get_manifest(struct dist_session *s, const char *reference, const char *what,
                        struct transfer *t, crimp_error_t *err)
{
    cleanup_free char *url = xasprintf("%s/%s/manifests/%s", dist_api(s), s->ref.path, reference);
    t->method = "GET";
    t->url = url;
    t->span = "GET /v2/{name}/manifests/{reference}";
    t->accept = ACCEPT_MANIFESTS;
    t->not_found = "manifest unknown";
    t->body_max = MANIFEST_MAX;
    int r = request(s, t, what, err);
    t->url = NULL;
    return r;
}

/* Resolves by GET and hashing, for registries that send no
 * Docker-Content-Digest.  */
static int resolve_by_get(struct dist_session *s, const char *reference,
                          struct dist_descriptor *out, crimp_error_t *err)
{
    cleanup_transfer struct transfer t = {0};
    if (get_manifest(s, reference, s->ref.normalized, &t, err) < 0)
        return -1;
    char digest[SHA256_DIGEST_STR_LEN];
    sha256_digest_string(t.body ? t.body : "", t.len, digest);
    if (s->ref.digest && verify_digest(s->ref.digest, digest, s->ref.normalized, err) < 0)
        return -1;
    char *mt = dist_manifest_media_type(t.body, t.len, t.content_type);
    if (mt == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: reply is not a manifest of a known type", s->ref.normalized);
    out->media_type = mt;
    out->digest = xstrdup(digest);
    out->size = (int64_t)t.len;
    return 0;
}

static int resolve_on_host(struct dist_session *s, void *arg, crimp_error_t *err)
{
    struct dist_descriptor *out = arg;
    const char *reference = s->ref.digest ? s->ref.digest : s->ref.tag;
    cleanup_free char *url = xasprintf("%s/%s/manifests/%s", dist_api(s), s->ref.path, reference);
    cleanup_transfer struct transfer t = {.method = "HEAD",
                                          .url = url,
                                          .span = "HEAD /v2/{name}/manifests/{reference}",
                                          .accept = ACCEPT_MANIFESTS,
                                          .not_found = "manifest unknown"};
    if (request(s, &t, s->ref.normalized, err) < 0) {
        /* A HEAD error has no body to explain it, and some registries
         * answer HEAD with 405: GET says more, or works.  */
        if (t.status < 400 || t.status == 401 || t.status == 403 || t.status == 404)
            return -1;
        crimp_error_release(err);
        return resolve_by_get(s, reference, out, err);
    }
    /* For a digest reference the digest is the reference's, whatever the
     * header says.  */
    const char *digest = s->ref.digest ? s->ref.digest : t.digest;
    if (!dist_digest_valid(digest) || t.content_type == NULL || dist_is_generic_type(t.content_type) ||
        t.content_length < 0)
        return resolve_by_get(s, reference, out, err);
    out->media_type = xstrdup(t.content_type);
    out->digest = xstrdup(digest);
    out->size = t.content_length;
    return 0;
}

int dist_resolve(struct dist_session *s, struct dist_descriptor *out, crimp_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (s->ref.digest && check_digest_arg(s->ref.digest, err) < 0)
        return -1;
    return dist_on_hosts(s, REG_CAP_RESOLVE, 0, resolve_on_host, out, NULL, err);
}

struct manifest_fetch {
    const char *digest, *what;
    char **body, **media_type;
    size_t *len;
};

static int fetch_manifest_on_host(struct dist_session *s, void *arg, crimp_error_t *err)
{
    struct manifest_fetch *m = arg;
    cleanup_transfer struct transfer t = {0};
    if (get_manifest(s, m->digest, m->what, &t, err) < 0)
        return -1;
    char actual[SHA256_DIGEST_STR_LEN];
    sha256_digest_string(t.body ? t.body : "", t.len, actual);
    if (verify_digest(m->digest, actual, m->what, err) < 0)
        return -1;
    char *mt = dist_manifest_media_type(t.body, t.len, t.content_type);
    if (mt == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: not a manifest of a known type", m->what);
    *m->media_type = mt;
    *m->len = t.len;
    *m->body = t.body ? steal_ptr(&t.body) : xstrdup("");
    return 0;
}

int dist_fetch_manifest(struct dist_session *s, const char *digest, char **body, size_t *len,
                        char **media_type, crimp_error_t *err)
{
    *body = NULL;
    *len = 0;
    *media_type = NULL;
    if (check_digest_arg(digest, err) < 0)
        return -1;
    cleanup_free char *what = dist_ref_with_digest(&s->ref, digest);
    struct manifest_fetch m = {digest, what, body, media_type, len};
    return dist_on_hosts(s, REG_CAP_PULL, s->cur, fetch_manifest_on_host, &m, NULL, err);
}

/* Size and (for a whole body) digest of a finished blob transfer.  */
static int check_blob(struct transfer *t, const struct dist_descriptor *d, const char *what,
                      crimp_error_t *err)
{
    bool whole = t->range_from == 0 || t->status == 200;
    int64_t total = whole ? t->received : t->range_from + t->received;
    if (d->size >= 0 && total != d->size)
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "%s: got %" PRId64 " bytes, expected %" PRId64, what, total,
                                d->size);
    if (!whole)
        return 0;
    char actual[SHA256_DIGEST_STR_LEN];
    sha256_final_string(&t->sha, actual);
    return verify_digest(d->digest, actual, what, err);
}

struct blob_fetch {
    const struct dist_descriptor *d;
    const char *what;
    int64_t offset;
    dist_sink_fn sink;
    void *ctx;
    bool started; /* the sink has bytes: another host would repeat them */
};

static int fetch_blob_on_host(struct dist_session *s, void *arg, crimp_error_t *err)
{
    struct blob_fetch *b = arg;
    cleanup_free char *url =
        xasprintf("%s/%s/blobs/%s", dist_api(s), s->ref.path, b->d->digest);
    cleanup_transfer struct transfer t = {.method = "GET",
                                          .url = url,
                                          .span = "GET /v2/{name}/blobs/{digest}",
                                          .not_found = "blob unknown",
                                          .range_from = b->offset,
                                          .sink = b->sink,
                                          .sink_ctx = b->ctx};
    int r = request(s, &t, b->what, err);
    b->started = t.started;
    if (r < 0)
        return -1;
    return check_blob(&t, b->d, b->what, err);
}

int dist_fetch_blob(struct dist_session *s, const struct dist_descriptor *d, int64_t offset,
                    dist_sink_fn sink, void *ctx, crimp_error_t *err)
{
    if (check_digest_arg(d->digest, err) < 0)
        return -1;
    cleanup_free char *what = dist_ref_with_digest(&s->ref, d->digest);
    if (offset < 0 || (d->size >= 0 && offset > d->size))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: offset %" PRId64 " outside the blob", what, offset);
    if (offset > 0 && offset == d->size)
        return 0; /* nothing left; a Range from the end would be a 416 */
    struct blob_fetch b = {d, what, offset, sink, ctx, false};
    return dist_on_hosts(s, REG_CAP_PULL, s->cur, fetch_blob_on_host, &b, &b.started, err);
}
