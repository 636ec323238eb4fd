/* The pure half of the registry client: image references parsed the way
 * docker/distribution's reference.ParseNormalizedNamed does, descriptors
 * read from manifest and index JSON, and WWW-Authenticate challenges.  The
 * HTTP half is distribution_client.c.  */
#include "distribution.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "distribution-internal.h"
#include "utils.h"

#define NAME_TOTAL_MAX 255 /* reference.NameTotalLengthMax */
#define TAG_MAX        128

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*  */
static bool valid_path_component(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (!is_lower_alnum(p[i]))
            return false;
        while (i < n && is_lower_alnum(p[i]))
            i++;
        if (i == n)
            return true;
        if (p[i] == '.') {
            i++;
        } else if (p[i] == '_') {
            i += i + 1 < n && p[i + 1] == '_' ? 2 : 1;
        } else if (p[i] == '-') {
            while (i < n && p[i] == '-')
                i++;
        } else {
            return false;
        }
    }
    return false; /* empty, or ends in a separator */
}

static bool valid_path(const char *path)
{
    for (const char *p = path;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!valid_path_component(p, n))
            return false;
        if (slash == NULL)
            return true;
        p = slash + 1;
    }
}

/* [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]  */
static bool valid_host_label(const char *p, size_t n)
{
    if (n == 0 || !isalnum((unsigned char)p[0]) || !isalnum((unsigned char)p[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '-')
            return false;
    return true;
}

static bool valid_port(const char *p)
{
    if (*p == '\0')
        return false;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    return true;
}

/* host[:port], where host is dotted labels or a bracketed IPv6 address.  */
static bool valid_domain(const char *d)
{
    const char *port = NULL;
    if (d[0] == '[') {
        const char *close = strchr(d, ']');
        if (close == NULL || close == d + 1 ||
            strspn(d + 1, "0123456789abcdefABCDEF:") != (size_t)(close - d - 1))
            return false;
        if (close[1] != '\0' && close[1] != ':')
            return false;
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(d, ':');
        size_t host_len = colon ? (size_t)(colon - d) : strlen(d);
        for (const char *p = d; p < d + host_len;) {
            const char *dot = memchr(p, '.', (size_t)(d + host_len - p));
            size_t n = dot ? (size_t)(dot - p) : (size_t)(d + host_len - p);
            if (!valid_host_label(p, n))
                return false;
            p += n + (dot ? 1 : 0);
            if (dot && p == d + host_len)
                return false; /* trailing dot */
        }
        if (host_len == 0)
            return false;
        port = colon ? colon + 1 : NULL;
    }
    return port == NULL || valid_port(port);
}

/* [\w][\w.-]{0,127}  */
static bool valid_tag(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > TAG_MAX || !is_word(t[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_word(t[i]) && t[i] != '.' && t[i] != '-')
            return false;
    return true;
}

bool dist_digest_valid(const char *d)
{
    static const struct {
        const char *prefix;
        size_t hex;
    } algos[] = {{"sha256:", 64}, {"sha384:", 96}, {"sha512:", 128}};
    if (d == NULL)
        return false;
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(algos); i++) {
        if (!has_prefix(d, algos[i].prefix))
            continue;
        const char *hex = d + strlen(algos[i].prefix);
        return strlen(hex) == algos[i].hex && strspn(hex, "0123456789abcdef") == algos[i].hex;
    }
    return false;
}

static bool all_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isupper((unsigned char)s[i]))
            return false;
    return true;
}

static bool has_upper(const char *s)
{
    return !all_lower(s, strlen(s));
}

/* The domain of NAME (tag and digest already cut off) as
 * reference.splitDockerDomain decides it: the first component when it has
 * a '.' or ':', is "localhost", or has upper case; docker.io otherwise.  */
static void split_domain(const char *name, char **domain, char **path)
{
    const char *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : 0;
    if (slash == NULL || (memchr(name, '.', n) == NULL && memchr(name, ':', n) == NULL &&
                          !(n == 9 && memcmp(name, "localhost", 9) == 0) && all_lower(name, n))) {
        *domain = xstrdup("docker.io");
        *path = xstrdup(name);
    } else {
        *domain = xasprintf("%.*s", (int)n, name);
        *path = xstrdup(slash + 1);
    }
    if (strcmp(*domain, "index.docker.io") == 0) {
        free(*domain);
        *domain = xstrdup("docker.io");
    }
    if (strcmp(*domain, "docker.io") == 0 && strchr(*path, '/') == NULL) {
        char *library = xasprintf("library/%s", *path);
        free(*path);
        *path = library;
    }
}

static int ref_invalid(const char *s, const char *why, crimp_error_t *err)
{
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "invalid reference \"%s\": %s", s,
                            why);
}

/* Cuts "@digest" and ":tag" off NAME in place into REF.  */
static int split_tag_digest(const char *s, char *name, struct dist_ref *ref, crimp_error_t *err)
{
    char *at = strchr(name, '@');
    if (at != NULL) {
        *at = '\0';
        if (!dist_digest_valid(at + 1))
            return ref_invalid(s, "invalid digest", err);
        ref->digest = xstrdup(at + 1);
    }
    char *last_slash = strrchr(name, '/');
    char *colon = strrchr(last_slash ? last_slash : name, ':');
    if (colon != NULL) {
        *colon = '\0';
        if (!valid_tag(colon + 1))
            return ref_invalid(s, "invalid tag", err);
        ref->tag = xstrdup(colon + 1);
    }
    return 0;
}

static char *format_normalized(const struct dist_ref *ref)
{
    return xasprintf("%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "",
                     ref->tag ? ref->tag : "", ref->digest ? "@" : "",
                     ref->digest ? ref->digest : "");
}

static int parse_into(const char *s, struct dist_ref *ref, crimp_error_t *err)
{
    if (str_empty(s))
        return ref_invalid("", "empty", err);
    /* A bare 64-hex string is an image ID, never a repository name.  */
    if (strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64)
        return ref_invalid(s, "cannot specify 64-byte hexadecimal strings", err);
    cleanup_free char *name = xstrdup(s);
    if (split_tag_digest(s, name, ref, err) < 0)
        return -1;
    if (name[0] == '\0')
        return ref_invalid(s, "empty name", err);
    split_domain(name, &ref->domain, &ref->path);
    if (!valid_domain(ref->domain))
        return ref_invalid(s, "invalid domain", err);
    if (has_upper(ref->path))
        return ref_invalid(s, "repository name must be lowercase", err);
    if (!valid_path(ref->path))
        return ref_invalid(s, "invalid repository name", err);
    if (strlen(ref->domain) + 1 + strlen(ref->path) > NAME_TOTAL_MAX)
        return ref_invalid(s, "repository name longer than 255 characters", err);
    if (ref->tag == NULL && ref->digest == NULL)
        ref->tag = xstrdup("latest");
    ref->normalized = format_normalized(ref);
    return 0;
}

int dist_ref_parse(const char *s, struct dist_ref *ref, crimp_error_t *err)
{
    memset(ref, 0, sizeof(*ref));
    if (parse_into(s, ref, err) < 0) {
        dist_ref_clear(ref);
        return -1;
    }
    return 0;
}

void dist_ref_clear(struct dist_ref *ref)
{
    if (ref == NULL)
        return;
    free(ref->domain);
    free(ref->path);
    free(ref->tag);
    free(ref->digest);
    free(ref->normalized);
    memset(ref, 0, sizeof(*ref));
}

char *dist_ref_with_digest(const struct dist_ref *ref, const char *digest)
{
    return xasprintf("%s/%s@%s", ref->domain, ref->path, digest);
}

char *dist_ref_repository(const struct dist_ref *ref)
{
    return xasprintf("%s/%s", ref->domain, ref->path);
}

void dist_descriptor_clear(struct dist_descriptor *d)
{
    if (d == NULL)
        return;
    free(d->media_type);
    free(d->digest);
    memset(d, 0, sizeof(*d));
}

bool dist_is_index(const char *media_type)
{
    return media_type != NULL &&
           (strcmp(media_type, MT_OCI_INDEX) == 0 || strcmp(media_type, MT_DOCKER_LIST) == 0);
}

static int descriptor_from_json(json_t *j, const char *what, struct dist_descriptor *out,
                                crimp_error_t *err)
{
    const char *mt = json_string_value(json_object_get(j, "mediaType"));
    const char *digest = json_string_value(json_object_get(j, "digest"));
    json_t *size = json_object_get(j, "size");
    if (mt == NULL || !dist_digest_valid(digest) || !json_is_integer(size) ||
        json_integer_value(size) < 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: not a descriptor with mediaType, digest and size", what);
    out->media_type = xstrdup(mt);
    out->digest = xstrdup(digest);
    out->size = json_integer_value(size);
    return 0;
}

/* "linux/arm/v7" for an index entry's platform.  */
static char *platform_name(json_t *platform)
{
    const char *os = json_string_value(json_object_get(platform, "os"));
    const char *arch = json_string_value(json_object_get(platform, "architecture"));
    const char *variant = json_string_value(json_object_get(platform, "variant"));
    return xasprintf("%s/%s%s%s", os ? os : "?", arch ? arch : "?", variant ? "/" : "",
                     variant ? variant : "");
}

int dist_index_select(json_t *index, const char *os, const char *arch, struct dist_descriptor *out,
                      crimp_error_t *err)
{
    memset(out, 0, sizeof(*out));
    json_t *manifests = json_object_get(index, "manifests");
    if (!json_is_array(manifests))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "image index: no \"manifests\" array");
    cleanup_free char *offered = NULL;
    size_t i;
    json_t *m;
    json_array_foreach (manifests, i, m) {
        json_t *platform = json_object_get(m, "platform");
        const char *m_os = json_string_value(json_object_get(platform, "os"));
        const char *m_arch = json_string_value(json_object_get(platform, "architecture"));
        if (m_os && m_arch && strcmp(m_os, os) == 0 && strcmp(m_arch, arch) == 0)
            return descriptor_from_json(m, "image index entry", out, err);
        cleanup_free char *name = platform_name(platform);
        char *more = xasprintf("%s%s%s", offered ? offered : "", offered ? ", " : "", name);
        free(offered);
        offered = more;
    }
    return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0,
                            "image index: no manifest for %s/%s (offered: %s)", os, arch,
                            offered ? offered : "none");
}

static void descriptors_free(struct dist_descriptor *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dist_descriptor_clear(&d[i]);
    free(d);
}

static int check_manifest_kind(json_t *manifest, crimp_error_t *err)
{
    const char *mt = json_string_value(json_object_get(manifest, "mediaType"));
    json_t *version = json_object_get(manifest, "schemaVersion");
    if ((json_is_integer(version) && json_integer_value(version) == 1) ||
        (mt && (strcmp(mt, MT_DOCKER_SCHEMA1) == 0 || strcmp(mt, MT_DOCKER_SCHEMA1_JWS) == 0)))
        return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0,
                                "manifest: docker schema 1 images are not supported (deprecated "
                                "since docker 1.10; push the image again with a current docker)");
    if (dist_is_index(mt))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "manifest: %s is an index, not an image manifest", mt);
    if (mt && strcmp(mt, MT_DOCKER_MANIFEST) != 0 && strcmp(mt, MT_OCI_MANIFEST) != 0)
        return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0,
                                "manifest: media type %s is not supported", mt);
    return 0;
}

int dist_manifest_parse(json_t *manifest, struct dist_descriptor *config,
                        struct dist_descriptor **layers, size_t *n_layers, crimp_error_t *err)
{
    memset(config, 0, sizeof(*config));
    *layers = NULL;
    *n_layers = 0;
    if (!json_is_object(manifest))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "manifest: not an object");
    if (check_manifest_kind(manifest, err) < 0)
        return -1;
    json_t *list = json_object_get(manifest, "layers");
    if (!json_is_array(list))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "manifest: no \"layers\" array");
    if (descriptor_from_json(json_object_get(manifest, "config"), "manifest config", config, err) <
        0)
        return -1;
    size_t n = json_array_size(list);
    struct dist_descriptor *out = xcalloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        if (descriptor_from_json(json_array_get(list, i), "manifest layer", &out[i], err) < 0) {
            descriptors_free(out, i);
            dist_descriptor_clear(config);
            return crimp_error_wrap(err, "layer %zu", i);
        }
    }
    *layers = out;
    *n_layers = n;
    return 0;
}

/* RFC 7230 token characters.  */
static size_t token_len(const char *p)
{
    return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                     "!#$%&'*+.^_`|~-");
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A quoted-string at P (after the opening quote) into *OUT; returns the
 * position after the closing quote, NULL if there is none.  */
static const char *parse_quoted(const char *p, char **out)
{
    size_t cap = strlen(p) + 1, n = 0;
    cleanup_free char *buf = xmalloc(cap);
    for (; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        buf[n++] = *p;
    }
    if (*p != '"')
        return NULL;
    buf[n] = '\0';
    *out = steal_ptr(&buf);
    return p + 1;
}

/* key=value or key="quoted", lower-cased key, into PARAMS.  Returns the
 * position after it, P itself if P is not a parameter (e.g. the scheme of
 * a second challenge), NULL when malformed.  */
static const char *parse_param(const char *p, json_t *params)
{
    size_t klen = token_len(p);
    const char *eq = skip_space(p + klen);
    if (klen == 0 || *eq != '=')
        return p;
    cleanup_free char *key = xasprintf("%.*s", (int)klen, p);
    for (char *k = key; *k; k++)
        *k = (char)tolower((unsigned char)*k);
    const char *v = skip_space(eq + 1);
    char *value = NULL;
    if (*v == '"') {
        v = parse_quoted(v + 1, &value);
        if (v == NULL)
            return NULL;
    } else {
        size_t vlen = token_len(v);
        value = xasprintf("%.*s", (int)vlen, v);
        v += vlen;
    }
    json_object_set_new(params, key, json_string(value));
    free(value);
    return v;
}

int dist_parse_www_authenticate(const char *value, char **scheme, json_t **params)
{
    *scheme = NULL;
    *params = NULL;
    if (value == NULL)
        return -1;
    const char *p = skip_space(value);
    size_t slen = token_len(p);
    if (slen == 0)
        return -1;
    json_auto_t *out = json_object();
    const char *q = skip_space(p + slen);
    while (*q != '\0') {
        const char *next = parse_param(q, out);
        if (next == NULL)
            return -1;
        if (next == q)
            break; /* another challenge follows: only the first is read */
        q = next;
        q = skip_space(q);
        if (*q == ',')
            q = skip_space(q + 1);
    }
    if (slen == 6 && strncasecmp(p, "bearer", 6) == 0)
        *scheme = xstrdup("Bearer");
    else if (slen == 5 && strncasecmp(p, "basic", 5) == 0)
        *scheme = xstrdup("Basic");
    else
        *scheme = xasprintf("%.*s", (int)slen, p);
    *params = steal_ptr(&out);
    return 0;
}
