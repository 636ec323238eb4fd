/* Registry host configuration in containerd's `config_path` layout, so that a
 * node switched to crimp's containerd backend pulls through the same mirrors,
 * CAs and client certificates that containerd's own CRI plugin was given.
 *
 *   <dir>/<host[:port]>/hosts.toml   (else <dir>/_default/hosts.toml)
 *
 *     server = "https://registry.example"        # the upstream, tried last
 *     ca = "ca.crt"                               # or a list; relative to the file
 *     skip_verify = false
 *     client = [["client.cert", "client.key"]]    # or "pem" / ["pem", ...]
 *     [host."https://mirror.local:5000"]          # tried first, in file order
 *       capabilities = ["pull", "resolve"]        # default: all
 *       ca = "/etc/ssl/mirror-ca.pem"
 *       override_path = false                     # true: the URL path is the API root
 *       [host."https://mirror.local:5000".header]
 *         x-custom = "value"
 *
 * A host directory without hosts.toml is read the way Docker reads
 * /etc/docker/certs.d: every `*.crt` is a CA, every `x.cert` with an `x.key`
 * a client certificate, for the registry itself.  docs/registry-hosts.md
 * tells the whole behaviour; this file only parses and resolves.  */
#ifndef CRIMP_REGISTRY_HOSTS_H
#define CRIMP_REGISTRY_HOSTS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum {
    REG_CAP_PULL = 1,
    REG_CAP_RESOLVE = 2,
    REG_CAP_PUSH = 4,
    REG_CAP_ALL = REG_CAP_PULL | REG_CAP_RESOLVE | REG_CAP_PUSH,
};

/* One place to fetch from, in the order it is tried.  */
struct reg_host {
    char *api;        /* "https://mirror.local:5000/v2": requests go to api/<name>/... */
    char *authority;  /* "mirror.local:5000" */
    bool plain_http;
    unsigned caps;    /* REG_CAP_* */
    char **ca_files;  /* NULL-terminated, absolute paths */
    char *client_cert, *client_key; /* NULL when none */
    bool skip_verify;
    char **headers;   /* NULL-terminated "Name: value" lines */
};

struct reg_hosts {
    struct reg_host *hosts;
    size_t n;
    char *source; /* the file the list came from; NULL: built-in default */
};

/* Limits on what is read: a hosts.toml is the operator's file, but a
 * runaway one must not cost a pull more than a bounded parse.  */
#define REG_HOSTS_FILE_MAX (256 << 10)
#define REG_HOSTS_MAX      32
#define REG_CA_FILE_MAX    (4 << 20)

/* Parses the text of one hosts.toml (BASE_DIR resolves relative paths) for
 * registry DOMAIN ("docker.io", "127.0.0.1:5000").  The hosts come out in
 * the order they are tried: the [host] tables in file order, then the
 * server.  A syntax error or an unsupported value is INVALID_ARGUMENT
 * naming the line.  */
int reg_hosts_parse(const char *text, size_t len, const char *base_dir, const char *domain,
                    bool domain_plain_http, struct reg_hosts *out, crimp_error_t *err);

/* The hosts for DOMAIN under config dir DIR (NULL or "" : none): its
 * hosts.toml, its Docker-style certificate files, `_default`, or the
 * built-in single host (plain HTTP when DOMAIN_PLAIN_HTTP).  */
int reg_hosts_load(const char *dir, const char *domain, bool domain_plain_http,
                   struct reg_hosts *out, crimp_error_t *err);

void reg_hosts_clear(struct reg_hosts *h);

/* The PEM bundle H's TLS peer is checked against: the system's CAs
 * (REG_SYSTEM_CA_BUNDLE) followed by H's own, as containerd adds a host's
 * CAs to the system pool.  *PEM stays NULL when H names no CA; a CA file
 * that cannot be read is FAILED_PRECONDITION naming it.  */
#define REG_SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
int reg_host_ca_bundle(const struct reg_host *h, char **pem, size_t *len, crimp_error_t *err);

/* "https://registry-1.docker.io" for docker.io, else "<scheme>://DOMAIN".  */
char *reg_default_server(const char *domain, bool plain_http);

#endif
