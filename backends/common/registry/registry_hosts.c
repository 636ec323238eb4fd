/* containerd's registry host files, read into the ordered list of hosts a
 * pull tries (registry_hosts.h).  */
#include "registry_hosts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "toml_lite.h"
#include "utils.h"

/* What one table of the file says; the server's table is the top level.  */
struct host_draft {
    char *url;
    bool has_caps;
    unsigned caps;
    json_t *ca, *client;
    bool skip_verify, override_path;
    json_t *headers; /* object: name -> string or array */
};

struct parse_ctx {
    const char *base_dir, *domain;
    bool domain_plain_http;
    struct host_draft server;
    struct host_draft hosts[REG_HOSTS_MAX];
    size_t n_hosts;
    struct host_draft *current; /* the table pairs go to */
    bool in_header;
};

static void draft_clear(struct host_draft *d)
{
    free(d->url);
    json_decref(d->ca);
    json_decref(d->client);
    json_decref(d->headers);
    memset(d, 0, sizeof(*d));
}

static void strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static void host_clear(struct reg_host *h)
{
    free(h->api);
    free(h->authority);
    strv_free(h->ca_files);
    free(h->client_cert);
    free(h->client_key);
    strv_free(h->headers);
}

void reg_hosts_clear(struct reg_hosts *h)
{
    for (size_t i = 0; i < h->n; i++)
        host_clear(&h->hosts[i]);
    free(h->hosts);
    free(h->source);
    memset(h, 0, sizeof(*h));
}

char *reg_default_server(const char *domain, bool plain_http)
{
    const char *host = strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain;
    return xasprintf("%s://%s", plain_http ? "http" : "https", host);
}

static int bad(crimp_error_t *err, int line, const char *fmt, const char *what)
{
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "line %d: %s %s", line, fmt,
                            what);
}

static int on_table(void *arg, const struct toml_lite_table *t, int line, crimp_error_t *err)
{
    struct parse_ctx *ctx = arg;
    ctx->in_header = false;
    if (t->n == 1 && strcmp(t->path[0], "header") == 0) {
        ctx->current = &ctx->server;
        ctx->in_header = true;
        return 0;
    }
    if (t->n < 2 || t->n > 3 || strcmp(t->path[0], "host") != 0 ||
        (t->n == 3 && strcmp(t->path[2], "header") != 0))
        return bad(err, line, "unknown table", t->path[0]);
    /* The same host may be opened twice (its table, then its header).  */
    struct host_draft *found = NULL;
    for (size_t i = 0; i < ctx->n_hosts && found == NULL; i++)
        if (strcmp(ctx->hosts[i].url, t->path[1]) == 0)
            found = &ctx->hosts[i];
    if (found == NULL) {
        if (ctx->n_hosts == REG_HOSTS_MAX)
            return bad(err, line, "too many hosts at", t->path[1]);
        found = &ctx->hosts[ctx->n_hosts++];
        found->url = xstrdup(t->path[1]);
    }
    ctx->current = found;
    ctx->in_header = t->n == 3;
    return 0;
}

static int take_caps(struct host_draft *d, json_t *v, int line, crimp_error_t *err)
{
    size_t i;
    json_t *item;
    if (!json_is_array(v))
        return bad(err, line, "capabilities must be a list of", "\"pull\", \"resolve\", \"push\"");
    d->has_caps = true;
    d->caps = 0;
    json_array_foreach(v, i, item) {
        const char *s = json_string_value(item);
        unsigned cap = s == NULL                     ? 0
                       : strcmp(s, "pull") == 0     ? REG_CAP_PULL
                       : strcmp(s, "resolve") == 0  ? REG_CAP_RESOLVE
                       : strcmp(s, "push") == 0     ? REG_CAP_PUSH
                                                    : 0;
        if (cap == 0)
            return bad(err, line, "unknown capability", s ? s : "(not a string)");
        d->caps |= cap;
    }
    return 0;
}

static int take_pair(struct host_draft *d, const char *key, json_t *v, int line,
                     crimp_error_t *err)
{
    if (strcmp(key, "capabilities") == 0)
        return take_caps(d, v, line, err);
    if (strcmp(key, "skip_verify") == 0 || strcmp(key, "override_path") == 0) {
        if (!json_is_boolean(v))
            return bad(err, line, "must be true or false:", key);
        *(key[0] == 's' ? &d->skip_verify : &d->override_path) = json_is_true(v);
        return 0;
    }
    if (strcmp(key, "ca") == 0 || strcmp(key, "client") == 0) {
        json_t **slot = key[0] == 'c' && key[1] == 'a' ? &d->ca : &d->client;
        json_decref(*slot);
        *slot = json_incref(v);
        return 0;
    }
    /* dial_timeout and keys of newer containerd releases: not ours to use.  */
    log_info("registry hosts: line %d: `%s` ignored", line, key);
    return 0;
}

static int on_pair(void *arg, const struct toml_lite_table *t, const char *key, json_t *v,
                   int line, crimp_error_t *err)
{
    struct parse_ctx *ctx = arg;
    struct host_draft *d = ctx->current ? ctx->current : &ctx->server;
    if (ctx->in_header) {
        if (!json_is_string(v) && !json_is_array(v))
            return bad(err, line, "a header value must be a string or a list:", key);
        if (d->headers == NULL)
            d->headers = json_object();
        json_object_set(d->headers, key, v);
        return 0;
    }
    if (t->n == 0 && strcmp(key, "server") == 0) {
        if (!json_is_string(v))
            return bad(err, line, "server must be a string", "");
        free(ctx->server.url);
        ctx->server.url = xstrdup(json_string_value(v));
        return 0;
    }
    return take_pair(d, key, v, line, err);
}

/* An absolute path for P, relative ones taken from the file's directory.  */
static char *resolve_path(const char *base_dir, const char *p)
{
    return p[0] == '/' || base_dir == NULL ? xstrdup(p) : xasprintf("%s/%s", base_dir, p);
}

static char **strv_push(char **v, size_t *n, char *s)
{
    v = xrealloc(v, (*n + 2) * sizeof(*v));
    v[(*n)++] = s;
    v[*n] = NULL;
    return v;
}

static int build_cas(struct reg_host *h, json_t *ca, const char *base_dir, crimp_error_t *err)
{
    size_t n = 0, i;
    json_t *item;
    if (json_is_string(ca)) {
        h->ca_files = strv_push(h->ca_files, &n, resolve_path(base_dir, json_string_value(ca)));
        return 0;
    }
    json_array_foreach(ca, i, item) {
        if (!json_is_string(item))
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "host %s: ca must be a path or a list of paths", h->authority);
        h->ca_files = strv_push(h->ca_files, &n, resolve_path(base_dir, json_string_value(item)));
    }
    return 0;
}

/* client = "both.pem" | ["both.pem", …] | [["cert", "key"], …]: the first.  */
static int build_client(struct reg_host *h, json_t *client, const char *base_dir,
                        crimp_error_t *err)
{
    json_t *first = json_is_array(client) ? json_array_get(client, 0) : client;
    if (first == NULL)
        return 0;
    json_t *cert = json_is_array(first) ? json_array_get(first, 0) : first;
    json_t *key = json_is_array(first) ? json_array_get(first, 1) : NULL;
    if (!json_is_string(cert) || (key != NULL && !json_is_string(key)))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "host %s: client must be a path or [cert, key] pairs",
                                h->authority);
    h->client_cert = resolve_path(base_dir, json_string_value(cert));
    if (key != NULL && json_string_length(key) > 0)
        h->client_key = resolve_path(base_dir, json_string_value(key));
    return 0;
}

static void build_headers(struct reg_host *h, json_t *headers)
{
    size_t n = 0, i;
    const char *name;
    json_t *v, *item;
    json_object_foreach(headers, name, v) {
        if (json_is_string(v))
            h->headers = strv_push(h->headers, &n, xasprintf("%s: %s", name, json_string_value(v)));
        json_array_foreach(v, i, item) if (json_is_string(item)) h->headers =
            strv_push(h->headers, &n, xasprintf("%s: %s", name, json_string_value(item)));
    }
}

/* "https://m:5000/path" → scheme, authority and the API root.  A URL
 * without a scheme is HTTPS; without a path the root is /v2, and a path
 * gets /v2 appended unless override_path says it is the root already.  */
static int split_url(struct reg_host *h, const char *url, bool override_path, crimp_error_t *err)
{
    const char *rest = url;
    if (has_prefix(url, "http://")) {
        h->plain_http = true;
        rest = url + 7;
    } else if (has_prefix(url, "https://")) {
        rest = url + 8;
    } else if (strstr(url, "://") != NULL) {
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "host %s: only http and https are supported", url);
    }
    size_t alen = strcspn(rest, "/?#");
    if (alen == 0 || rest[alen] == '?' || rest[alen] == '#')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "host %s: expected [scheme://]host[:port][/path]", url);
    h->authority = strndup(rest, alen);
    if (h->authority == NULL)
        abort();
    if (strcmp(h->authority, "docker.io") == 0) {
        free(h->authority);
        h->authority = xstrdup("registry-1.docker.io");
    }
    cleanup_free char *path = xstrdup(rest + alen);
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        path[--plen] = '\0';
    const char *scheme = h->plain_http ? "http" : "https";
    if (plen == 0)
        h->api = xasprintf("%s://%s/v2", scheme, h->authority);
    else if (override_path || (plen >= 3 && strcmp(path + plen - 3, "/v2") == 0))
        h->api = xasprintf("%s://%s%s", scheme, h->authority, path);
    else
        h->api = xasprintf("%s://%s%s/v2", scheme, h->authority, path);
    return 0;
}

static int build_host(struct reg_host *h, const struct host_draft *d, unsigned default_caps,
                      const char *base_dir, crimp_error_t *err)
{
    if (split_url(h, d->url, d->override_path, err) < 0)
        return -1;
    h->caps = d->has_caps ? d->caps : default_caps;
    h->skip_verify = d->skip_verify;
    if (d->ca != NULL && build_cas(h, d->ca, base_dir, err) < 0)
        return -1;
    if (d->client != NULL && build_client(h, d->client, base_dir, err) < 0)
        return -1;
    build_headers(h, d->headers);
    return 0;
}

static int build_list(struct parse_ctx *ctx, struct reg_hosts *out, crimp_error_t *err)
{
    if (ctx->server.url == NULL)
        ctx->server.url = reg_default_server(ctx->domain, ctx->domain_plain_http);
    out->hosts = xcalloc(ctx->n_hosts + 1, sizeof(*out->hosts));
    for (size_t i = 0; i <= ctx->n_hosts; i++) {
        const struct host_draft *d = i < ctx->n_hosts ? &ctx->hosts[i] : &ctx->server;
        out->n = i + 1;
        if (build_host(&out->hosts[i], d, REG_CAP_ALL, ctx->base_dir, err) < 0)
            return -1;
    }
    return 0;
}

int reg_hosts_parse(const char *text, size_t len, const char *base_dir, const char *domain,
                    bool domain_plain_http, struct reg_hosts *out, crimp_error_t *err)
{
    struct parse_ctx ctx = {
        .base_dir = base_dir, .domain = domain, .domain_plain_http = domain_plain_http};
    memset(out, 0, sizeof(*out));
    int rc = toml_lite_parse(text, len, on_table, on_pair, &ctx, err);
    if (rc == 0)
        rc = build_list(&ctx, out, err);
    draft_clear(&ctx.server);
    for (size_t i = 0; i < ctx.n_hosts; i++)
        draft_clear(&ctx.hosts[i]);
    if (rc < 0)
        reg_hosts_clear(out);
    return rc;
}

/* The file at PATH, whole; 1 with *text set, 0 when there is none.  */
static int read_config_file(const char *path, char **text, size_t *len, crimp_error_t *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : crimp_make_errno_error(err, errno, "registry hosts: open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > REG_HOSTS_FILE_MAX)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "registry hosts: %s is not a regular file of at most %d bytes",
                                path, REG_HOSTS_FILE_MAX);
    cleanup_free char *buf = xmalloc((size_t)st.st_size + 1);
    ssize_t n = read(fd, buf, (size_t)st.st_size);
    if (n < 0)
        return crimp_make_errno_error(err, errno, "registry hosts: read %s", path);
    buf[n] = '\0';
    *len = (size_t)n;
    *text = steal_ptr(&buf);
    return 1;
}

/* Appends file PATH to the buffer; MISSING_OK: a file that is not there adds nothing.  */
static int append_file(char **buf, size_t *len, const char *path, bool missing_ok,
                       crimp_error_t *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 && missing_ok && errno == ENOENT)
        return 0;
    if (fd < 0 || fstat(fd, &st) < 0)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, errno, "CA file %s", path);
    if (!S_ISREG(st.st_mode) || st.st_size > REG_CA_FILE_MAX)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "CA file %s: not a regular file of at most %d bytes", path,
                                REG_CA_FILE_MAX);
    *buf = xrealloc(*buf, *len + (size_t)st.st_size + 2);
    ssize_t n = read(fd, *buf + *len, (size_t)st.st_size);
    if (n < 0)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, errno, "CA file %s", path);
    *len += (size_t)n;
    (*buf)[(*len)++] = '\n'; /* a file without a final newline must not glue PEM blocks */
    return 0;
}

int reg_host_ca_bundle(const struct reg_host *h, char **pem, size_t *len, crimp_error_t *err)
{
    *pem = NULL;
    *len = 0;
    if (h->ca_files == NULL)
        return 0;
    cleanup_free char *buf = NULL;
    size_t n = 0;
    if (append_file(&buf, &n, REG_SYSTEM_CA_BUNDLE, true, err) < 0)
        return -1;
    for (char **f = h->ca_files; *f; f++)
        if (append_file(&buf, &n, *f, false, err) < 0)
            return -1;
    *len = n;
    *pem = steal_ptr(&buf);
    return 0;
}

/* Docker's certs.d layout: *.crt CAs, x.cert + x.key client pairs.  */
static void add_docker_cert_files(struct reg_host *h, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    size_t n_ca = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (has_suffix(e->d_name, ".crt")) {
            h->ca_files = strv_push(h->ca_files, &n_ca, xasprintf("%s/%s", dir, e->d_name));
        } else if (has_suffix(e->d_name, ".cert") && h->client_cert == NULL) {
            cleanup_free char *key = xasprintf("%s/%.*s.key", dir,
                                               (int)(strlen(e->d_name) - 5), e->d_name);
            if (access(key, R_OK) == 0) {
                h->client_cert = xasprintf("%s/%s", dir, e->d_name);
                h->client_key = steal_ptr(&key);
            }
        }
    }
    closedir(d);
}

static int load_default(const char *host_dir, const char *domain, bool plain,
                        struct reg_hosts *out, crimp_error_t *err)
{
    cleanup_free char *server = reg_default_server(domain, plain);
    out->hosts = xcalloc(1, sizeof(*out->hosts));
    out->n = 1;
    if (split_url(&out->hosts[0], server, false, err) < 0) {
        reg_hosts_clear(out);
        return -1;
    }
    out->hosts[0].caps = REG_CAP_ALL;
    if (host_dir != NULL) {
        add_docker_cert_files(&out->hosts[0], host_dir);
        out->source = xstrdup(host_dir);
    }
    return 0;
}

static int load_file(const char *host_dir, const char *domain, bool plain,
                     struct reg_hosts *out, crimp_error_t *err)
{
    cleanup_free char *path = xasprintf("%s/hosts.toml", host_dir);
    cleanup_free char *text = NULL;
    size_t len = 0;
    int rc = read_config_file(path, &text, &len, err);
    if (rc <= 0)
        return rc;
    if (reg_hosts_parse(text, len, host_dir, domain, plain, out, err) < 0)
        return crimp_error_wrap(err, "%s", path);
    out->source = steal_ptr(&path);
    return 1;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int reg_hosts_load(const char *dir, const char *domain, bool domain_plain_http,
                   struct reg_hosts *out, crimp_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (str_empty(dir) || strchr(domain, '/') != NULL || strcmp(domain, "..") == 0)
        return load_default(NULL, domain, domain_plain_http, out, err);
    cleanup_free char *host_dir = xasprintf("%s/%s", dir, domain);
    if (is_dir(host_dir)) {
        int rc = load_file(host_dir, domain, domain_plain_http, out, err);
        return rc != 0 ? (rc < 0 ? -1 : 0)
                       : load_default(host_dir, domain, domain_plain_http, out, err);
    }
    cleanup_free char *fallback = xasprintf("%s/_default", dir);
    int rc = load_file(fallback, domain, domain_plain_http, out, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return load_default(NULL, domain, domain_plain_http, out, err);
}
