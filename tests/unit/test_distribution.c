/* The registry client.  Pure parts: reference parsing, WWW-Authenticate,
 * index selection, manifest parsing.  Against a fake registry on loopback
 * (a thread in this test): the bearer token dance, identity and registry
 * tokens, a blob redirect that must not carry Authorization, a 200 answer
 * to a Range request, digest mismatches, error replies, trace spans.  With
 * $CRIMP_BED: the bed's docker-registry (pull busybox, resolve by digest,
 * missing tag / repo, a Range fetch), and a second one with htpasswd
 * (basic) auth on 127.0.0.1:5112.  */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/registry/distribution-internal.h"
#include "common/registry/distribution.h"
#include "digest.h"
#include "fake_registry.h"
#include "trace.h"
#include "unit.h"
#include "utils.h"

/* Fails unless EXPR failed with WANT and a message containing NEEDLE.  */
#define CHECK_FAILS(expr, want, needle)                                                            \
    do {                                                                                           \
        crimp_error_release(&err);                                                                 \
        CHECK((expr) < 0);                                                                         \
        CHECK(err != NULL);                                                                        \
        if (err->code != (want) || strstr(err->msg, needle) == NULL) {                             \
            fprintf(stderr, "%s:%d: got %s \"%s\"\n", __FILE__, __LINE__,                          \
                    crimp_status_name(err->code), err->msg);                                       \
            return -1;                                                                             \
        }                                                                                          \
        crimp_error_release(&err);                                                                 \
    } while (0)

static void session_freep(struct dist_session **s)
{
    dist_session_free(*s);
}
#define cleanup_session __attribute__((cleanup(session_freep)))
#define cleanup_ref     __attribute__((cleanup(dist_ref_clear)))
#define cleanup_desc    __attribute__((cleanup(dist_descriptor_clear)))

static int test_ref_parse_good(void)
{
    static const char D[] =
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    static const struct {
        const char *in, *domain, *path, *tag, *digest, *normalized;
    } v[] = {
        {"busybox", "docker.io", "library/busybox", "latest", NULL,
         "docker.io/library/busybox:latest"},
        {"docker.io/busybox:1.36", "docker.io", "library/busybox", "1.36", NULL, NULL},
        {"index.docker.io/library/x", "docker.io", "library/x", "latest", NULL, NULL},
        {"crimp/busybox", "docker.io", "crimp/busybox", "latest", NULL, NULL},
        {"127.0.0.1:5100/crimp/busybox:1.35", "127.0.0.1:5100", "crimp/busybox", "1.35", NULL,
         "127.0.0.1:5100/crimp/busybox:1.35"},
        {"localhost/foo", "localhost", "foo", "latest", NULL, "localhost/foo:latest"},
        {"localhost:5000/a/b/c_d__e.f-g---h", "localhost:5000", "a/b/c_d__e.f-g---h", "latest",
         NULL, NULL},
        {"registry.k8s.io/pause:3.10", "registry.k8s.io", "pause", "3.10", NULL, NULL},
        {"[::1]:5000/x:T_ag-1.0", "[::1]:5000", "x", "T_ag-1.0", NULL, NULL},
        {"x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io",
         "x/y", NULL, D, NULL},
        {"quay.io/a/b:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "quay.io", "a/b", "v1", D,
         "quay.io/a/b:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    };
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(v); i++) {
        cleanup_error crimp_error_t err = NULL;
        cleanup_ref struct dist_ref r = {0};
        if (dist_ref_parse(v[i].in, &r, &err) < 0) {
            fprintf(stderr, "%s: %s\n", v[i].in, err->msg);
            return -1;
        }
        CHECK(strcmp(r.domain, v[i].domain) == 0 && strcmp(r.path, v[i].path) == 0);
        CHECK(v[i].tag ? r.tag && strcmp(r.tag, v[i].tag) == 0 : r.tag == NULL);
        CHECK(v[i].digest ? r.digest && strcmp(r.digest, v[i].digest) == 0 : r.digest == NULL);
        if (v[i].normalized && strcmp(r.normalized, v[i].normalized) != 0) {
            fprintf(stderr, "%s: normalized %s\n", v[i].in, r.normalized);
            return -1;
        }
    }
    cleanup_error crimp_error_t err = NULL;
    cleanup_ref struct dist_ref r = {0};
    CHECK_OK(dist_ref_parse("busybox:1.36", &r, &err));
    cleanup_free char *repo = dist_ref_repository(&r);
    cleanup_free char *pinned = dist_ref_with_digest(&r, "sha256:ab");
    CHECK(strcmp(repo, "docker.io/library/busybox") == 0);
    CHECK(strcmp(pinned, "docker.io/library/busybox@sha256:ab") == 0);
    return 0;
}

static int test_ref_parse_bad(void)
{
    static const char *const bad[] = {
        "",
        "Busybox",
        "crimp/BusyBox",
        "a//b",
        "/a",
        "a/",
        "a:",
        "x@sha256:abc",
        "x@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "x@md5:0123456789abcdef0123456789abcdef",
        "x:-tag",
        "a..b/c",
        "-x.io/y",
        "x.io:/y",
        "a/b:c:d",
        "foo_/bar",
        "__x",
        "x!y",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(bad); i++) {
        cleanup_error crimp_error_t err = NULL;
        struct dist_ref r;
        if (dist_ref_parse(bad[i], &r, &err) == 0) {
            fprintf(stderr, "\"%s\" parsed as %s\n", bad[i], r.normalized);
            dist_ref_clear(&r);
            return -1;
        }
        CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
        CHECK(r.domain == NULL && r.normalized == NULL);
    }
    cleanup_error crimp_error_t err = NULL;
    struct dist_ref r;
    CHECK(dist_ref_parse("crimp/BusyBox", &r, &err) < 0);
    CHECK(strstr(err->msg, "must be lowercase") && strstr(err->msg, "crimp/BusyBox"));
    return 0;
}

/* A plain-text error body is read within its length: the reply buffer
 * need not end in a NUL (fuzz_registry_reply read past it with strcspn).  */
static int test_reply_message_bounded(void)
{
    static const char text[] = "upstream down\r\nmore";
    for (size_t len = 1; len < sizeof(text); len++) {
        char *body = xmalloc(len); /* exactly LEN bytes, no terminator */
        memcpy(body, text, len);
        cleanup_free char *m = dist_reply_message(body, len);
        free(body);
        CHECK(m != NULL && strncmp(m, text, strlen(m)) == 0);
        CHECK(strlen(m) == (len < 13 ? len : 13));
    }
    cleanup_free char *j = dist_reply_message("{\"errors\":[{\"message\":\"denied\"}]}", 33);
    CHECK(j && strcmp(j, "denied") == 0);
    cleanup_free char *t = dist_token_of_reply("{\"token\":\"\",\"access_token\":\"a\"}", 31);
    CHECK(t && strcmp(t, "a") == 0);
    return 0;
}

static int test_www_authenticate(void)
{
    cleanup_free char *scheme = NULL;
    json_auto_t *p = NULL;
    CHECK(dist_parse_www_authenticate(
              "bearer Realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\", "
              "scope=\"repository:library/busybox:pull\" , error=invalid_token, x=\"a\\\"b,c\"",
              &scheme, &p) == 0);
    CHECK(strcmp(scheme, "Bearer") == 0);
    CHECK(strcmp(json_string_value(json_object_get(p, "realm")), "https://auth.docker.io/token") ==
          0);
    CHECK(strcmp(json_string_value(json_object_get(p, "service")), "registry.docker.io") == 0);
    CHECK(strcmp(json_string_value(json_object_get(p, "scope")),
                 "repository:library/busybox:pull") == 0);
    CHECK(strcmp(json_string_value(json_object_get(p, "error")), "invalid_token") == 0);
    CHECK(strcmp(json_string_value(json_object_get(p, "x")), "a\"b,c") == 0);
    free(steal_ptr(&scheme));
    json_decref(steal_ptr(&p));

    CHECK(dist_parse_www_authenticate("Basic realm=\"r\", Bearer realm=\"x\"", &scheme, &p) == 0);
    CHECK(strcmp(scheme, "Basic") == 0 && json_object_size(p) == 1);
    free(steal_ptr(&scheme));
    json_decref(steal_ptr(&p));

    CHECK(dist_parse_www_authenticate("Negotiate", &scheme, &p) == 0);
    CHECK(strcmp(scheme, "Negotiate") == 0 && json_object_size(p) == 0);
    free(steal_ptr(&scheme));
    json_decref(steal_ptr(&p));

    CHECK(dist_parse_www_authenticate("", &scheme, &p) < 0 && scheme == NULL && p == NULL);
    CHECK(dist_parse_www_authenticate("Bearer realm=\"open", &scheme, &p) < 0 && p == NULL);
    CHECK(dist_parse_www_authenticate(NULL, &scheme, &p) < 0);
    return 0;
}

/* "sha256:" and 64 copies of the hex digit C.  */
#define DG(c)                                                                                      \
    "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
        c c c c c c c c c c c c c c c c c c c c c c

static int test_index_select(void)
{
    cleanup_error crimp_error_t err = NULL;
    json_auto_t *idx =
        json_pack("{s:i, s:s, s:[{s:s, s:s, s:i, s:{s:s, s:s, s:s}}, {s:s, s:s, s:i, s:{s:s, s:s}},"
                  " {s:s, s:s, s:i, s:{s:s, s:s}}]}",
                  "schemaVersion", 2, "mediaType",
                  "application/vnd.docker.distribution.manifest.list.v2+json", "manifests",
                  "mediaType", "application/vnd.docker.distribution.manifest.v2+json", "digest",
                  DG("1"), "size", 10, "platform", "os", "linux", "architecture", "arm", "variant",
                  "v7", "mediaType", "application/vnd.docker.distribution.manifest.v2+json",
                  "digest", DG("2"), "size", 528, "platform", "os", "linux", "architecture",
                  "amd64", "mediaType", "application/vnd.oci.image.manifest.v1+json", "digest",
                  DG("3"), "size", 30, "platform", "os", "windows", "architecture", "amd64");
    cleanup_desc struct dist_descriptor d = {0};
    CHECK_OK(dist_index_select(idx, "linux", "amd64", &d, &err));
    CHECK(strcmp(d.digest, DG("2")) == 0 && d.size == 528);
    CHECK(strcmp(d.media_type, "application/vnd.docker.distribution.manifest.v2+json") == 0);

    cleanup_desc struct dist_descriptor none = {0};
    CHECK(dist_index_select(idx, "linux", "s390x", &none, &err) < 0);
    CHECK(err->code == GRPC_STATUS_NOT_FOUND && strstr(err->msg, "linux/s390x") != NULL);
    CHECK(strstr(err->msg, "(offered: linux/arm/v7, linux/amd64, windows/amd64)") != NULL);
    crimp_error_release(&err);
    CHECK(none.digest == NULL);

    json_auto_t *bad = json_pack("{s:[{s:s, s:i, s:{s:s, s:s}}]}", "manifests", "digest", "nope",
                                 "size", 1, "platform", "os", "linux", "architecture", "amd64");
    CHECK_FAILS(dist_index_select(bad, "linux", "amd64", &none, &err), GRPC_STATUS_INVALID_ARGUMENT,
                "descriptor");
    json_auto_t *empty = json_object();
    CHECK_FAILS(dist_index_select(empty, "linux", "amd64", &none, &err),
                GRPC_STATUS_INVALID_ARGUMENT, "manifests");

    CHECK(dist_is_index("application/vnd.oci.image.index.v1+json"));
    CHECK(dist_is_index("application/vnd.docker.distribution.manifest.list.v2+json"));
    CHECK(!dist_is_index("application/vnd.oci.image.manifest.v1+json") && !dist_is_index(NULL));
    return 0;
}

static int check_parsed(const char *text, const char *layer_type, size_t n_layers)
{
    cleanup_error crimp_error_t err = NULL;
    json_auto_t *m = json_loads(text, 0, NULL);
    cleanup_desc struct dist_descriptor config = {0};
    struct dist_descriptor *layers = NULL;
    size_t n = 0;
    CHECK_OK(dist_manifest_parse(m, &config, &layers, &n, &err));
    bool good = n == n_layers && strcmp(config.digest, DG("c")) == 0 && config.size == 7 &&
                strcmp(layers[n - 1].media_type, layer_type) == 0 &&
                strcmp(layers[n - 1].digest, DG("e")) == 0 && layers[n - 1].size == 99;
    for (size_t i = 0; i < n; i++)
        dist_descriptor_clear(&layers[i]);
    free(layers);
    CHECK(good);
    return 0;
}

static int test_manifest_parse(void)
{
    const char *docker =
        "{\"schemaVersion\": 2, \"mediaType\": "
        "\"application/vnd.docker.distribution.manifest.v2+json\", \"config\": {\"mediaType\": "
        "\"application/vnd.docker.container.image.v1+json\", \"size\": 7, \"digest\": \"" DG(
            "c") "\"}, \"layers\": [{\"mediaType\": "
                 "\"application/vnd.docker.image.rootfs.diff.tar.gzip\", \"size\": 5, \"digest\": "
                 "\"" DG("d") "\"}, {\"mediaType\": "
                              "\"application/vnd.docker.image.rootfs.diff.tar.gzip\", \"size\": "
                              "99, \"digest\": \"" DG("e") "\"}]}";
    CHECK(check_parsed(docker, "application/vnd.docker.image.rootfs.diff.tar.gzip", 2) == 0);
    /* OCI without the optional top-level mediaType.  */
    const char *oci = "{\"schemaVersion\": 2, \"config\": {\"mediaType\": "
                      "\"application/vnd.oci.image.config.v1+json\", \"size\": 7, \"digest\": "
                      "\"" DG("c") "\"}, \"layers\": [{\"mediaType\": "
                                   "\"application/vnd.oci.image.layer.v1.tar+zstd\", \"size\": "
                                   "99, \"digest\": \"" DG("e") "\"}]}";
    CHECK(check_parsed(oci, "application/vnd.oci.image.layer.v1.tar+zstd", 1) == 0);

    static const struct {
        const char *text;
        grpc_status_code code;
        const char *needle;
    } bad[] = {
        {"{\"schemaVersion\": 1, \"name\": \"x\", \"fsLayers\": []}", GRPC_STATUS_UNIMPLEMENTED,
         "schema 1"},
        {"{\"mediaType\": \"application/vnd.docker.distribution.manifest.v1+prettyjws\"}",
         GRPC_STATUS_UNIMPLEMENTED, "schema 1"},
        {"{\"mediaType\": \"application/vnd.oci.image.index.v1+json\", \"manifests\": []}",
         GRPC_STATUS_INVALID_ARGUMENT, "is an index"},
        {"{\"mediaType\": \"application/x-other\", \"layers\": []}", GRPC_STATUS_UNIMPLEMENTED,
         "x-other"},
        {"{\"schemaVersion\": 2, \"layers\": []}", GRPC_STATUS_INVALID_ARGUMENT, "config"},
        {"{\"schemaVersion\": 2, \"config\": {\"mediaType\": \"a\", \"size\": 1, \"digest\": "
         "\"" DG("c") "\"}}",
         GRPC_STATUS_INVALID_ARGUMENT, "layers"},
        {"{\"schemaVersion\": 2, \"config\": {\"mediaType\": \"a\", \"size\": 1, \"digest\": "
         "\"" DG("c") "\"}, \"layers\": [{\"mediaType\": \"a\", \"size\": -1, \"digest\": "
                      "\"" DG("d") "\"}]}",
         GRPC_STATUS_INVALID_ARGUMENT, "layer 0"},
        {"[]", GRPC_STATUS_INVALID_ARGUMENT, "not an object"},
    };
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(bad); i++) {
        cleanup_error crimp_error_t err = NULL;
        json_auto_t *m = json_loads(bad[i].text, 0, NULL);
        struct dist_descriptor config, *layers = NULL;
        size_t n = 7;
        CHECK_FAILS(dist_manifest_parse(m, &config, &layers, &n, &err), bad[i].code, bad[i].needle);
        CHECK(layers == NULL && n == 0 && config.digest == NULL);
    }
    return 0;
}

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"

/* Resolves <fake>/fake/repo<TAIL> with AUTH; < 0 with ERR set on failure.  */
static int fake_resolve(const struct fake_registry *f, const char *tail,
                        const struct dist_auth *auth, struct dist_descriptor *d, crimp_error_t *err)
{
    cleanup_ref struct dist_ref ref = {0};
    cleanup_session struct dist_session *s = fake_session(f, tail, auth, &ref, err);
    if (s == NULL)
        return -1;
    return dist_resolve(s, d, err);
}

static int with_fake(int (*body)(struct fake_registry *f))
{
    struct fake_registry f;
    if (fake_start(&f) < 0) {
        perror("fake registry");
        return -1;
    }
    int r = body(&f);
    fake_stop(&f);
    return r;
}

static int fake_bearer(struct fake_registry *f)
{
    cleanup_error crimp_error_t err = NULL;
    struct dist_auth auth = {.username = "user", .password = "pw"};
    cleanup_ref struct dist_ref ref = {0};
    cleanup_session struct dist_session *s = fake_session(f, ":v1", &auth, &ref, &err);
    CHECK(s != NULL);
    struct crimp_trace tr = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&tr);
    cleanup_desc struct dist_descriptor d = {0};
    int r = dist_resolve(s, &d, &err);
    crimp_trace_set_current(NULL);
    CHECK_OK(r);
    CHECK(strcmp(d.digest, f->manifest_digest) == 0 && d.size == (int64_t)strlen(FAKE_MANIFEST));
    CHECK(strcmp(d.media_type, MT_OCI_MANIFEST) == 0);
    CHECK(tr.n_spans == 3);
    CHECK(strcmp(tr.spans[0].name, "HEAD /v2/{name}/manifests/{reference}") == 0);
    CHECK(tr.spans[0].status == 401 && tr.spans[0].kind == CRIMP_SPAN_HTTP);
    CHECK(strcmp(tr.spans[1].name, "GET {realm}") == 0 && tr.spans[1].status == 200);
    CHECK(strcmp(tr.spans[2].name, tr.spans[0].name) == 0 && tr.spans[2].status == 200);

    /* The token is kept on the session: no second token request.  */
    cleanup_free char *body = NULL, *mt = NULL;
    size_t len = 0;
    CHECK_OK(dist_fetch_manifest(s, d.digest, &body, &len, &mt, &err));
    CHECK(len == strlen(FAKE_MANIFEST) && strcmp(body, FAKE_MANIFEST) == 0);
    CHECK(strcmp(mt, MT_OCI_MANIFEST) == 0);
    CHECK(atomic_load(&f->token_gets) == 1);

    struct dist_auth wrong = {.username = "user", .password = "nope"};
    cleanup_desc struct dist_descriptor d2 = {0};
    CHECK_FAILS(fake_resolve(f, ":v1", &wrong, &d2, &err), GRPC_STATUS_UNAUTHENTICATED,
                "incorrect username or password");
    CHECK_FAILS(fake_resolve(f, ":v1", NULL, &d2, &err), GRPC_STATUS_UNAUTHENTICATED,
                "/fake/repo:v1");
    return 0;
}

static int fake_other_credentials(struct fake_registry *f)
{
    cleanup_error crimp_error_t err = NULL;
    struct dist_auth encoded = {.auth = "dXNlcjpwdw=="};
    struct dist_auth identity = {.identity_token = "rt-1"};
    struct dist_auth token = {.registry_token = "tok-1"};
    struct dist_auth stale = {.registry_token = "tok-0"};
    cleanup_desc struct dist_descriptor a = {0}, b = {0}, c = {0}, d = {0};
    CHECK_OK(fake_resolve(f, ":v1", &encoded, &a, &err));
    CHECK(atomic_load(&f->token_gets) == 1 && atomic_load(&f->token_posts) == 0);
    CHECK_OK(fake_resolve(f, ":v1", &identity, &b, &err));
    CHECK(atomic_load(&f->token_gets) == 1 && atomic_load(&f->token_posts) == 1);
    CHECK_OK(fake_resolve(f, ":v1", &token, &c, &err));
    CHECK(strcmp(a.digest, f->manifest_digest) == 0 && strcmp(b.digest, a.digest) == 0 &&
          strcmp(c.digest, a.digest) == 0);
    /* A given registry token is used as is, never refreshed.  */
    CHECK_FAILS(fake_resolve(f, ":v1", &stale, &d, &err), GRPC_STATUS_UNAUTHENTICATED,
                "/fake/repo:v1: unauthorized");
    CHECK(atomic_load(&f->token_gets) == 1 && atomic_load(&f->token_posts) == 1);
    return 0;
}

/* Fetches DIGEST (SIZE) from OFFSET into *C.  */
static int fake_fetch(struct dist_session *s, const char *digest, int64_t size, int64_t offset,
                      struct collected *c, crimp_error_t *err)
{
    struct dist_descriptor d = {.media_type = "x", .digest = (char *)digest, .size = size};
    collected_release(c);
    return dist_fetch_blob(s, &d, offset, collect_sink, c, err);
}

static int fake_blobs(struct fake_registry *f)
{
    cleanup_error crimp_error_t err = NULL;
    struct dist_auth auth = {.registry_token = "tok-1"};
    cleanup_ref struct dist_ref ref = {0};
    cleanup_session struct dist_session *s = fake_session(f, ":v1", &auth, &ref, &err);
    CHECK(s != NULL);
    cleanup_collected struct collected c = {0};
    const int64_t n = (int64_t)strlen(FAKE_BLOB);
    CHECK_OK(fake_fetch(s, f->blob_digest, n, 0, &c, &err));
    CHECK(c.len == (size_t)n && strcmp(c.data, FAKE_BLOB) == 0);
    CHECK(!atomic_load(&f->auth_forwarded)); /* the redirect went to another host */
    /* Storage ignores Range and answers 200: the sink still gets the tail.  */
    CHECK_OK(fake_fetch(s, f->blob_digest, n, 7, &c, &err));
    CHECK(c.len == (size_t)n - 7 && strcmp(c.data, &FAKE_BLOB[7]) == 0);
    CHECK_OK(fake_fetch(s, f->blob_digest, n, n, &c, &err));
    CHECK(c.calls == 0);

    CHECK_FAILS(fake_fetch(s, f->blob_digest, n, n + 1, &c, &err), GRPC_STATUS_INVALID_ARGUMENT,
                "offset");
    CHECK_FAILS(fake_fetch(s, f->blob_digest, n - 1, 0, &c, &err), GRPC_STATUS_DATA_LOSS,
                "got 36 bytes, expected 35");
    CHECK_FAILS(fake_fetch(s, f->lying_digest, n, 0, &c, &err), GRPC_STATUS_DATA_LOSS,
                "digest mismatch");
    CHECK_FAILS(fake_fetch(s, f->range_liar, n, 5, &c, &err), GRPC_STATUS_DATA_LOSS,
                "Content-Range bytes 0-35/36");
    CHECK(c.calls == 0);
    CHECK_FAILS(fake_fetch(s, DG("9"), 1, 0, &c, &err), GRPC_STATUS_NOT_FOUND,
                "/fake/repo@" DG("9") ": blob unknown to registry");
    c.fail_at_call = 1;
    CHECK_FAILS(dist_fetch_blob(s, &(struct dist_descriptor){.digest = f->blob_digest, .size = n},
                                0, collect_sink, &c, &err),
                GRPC_STATUS_ABORTED, "content writer gone");
    CHECK_FAILS(fake_fetch(s, "sha256:12", 1, 0, &c, &err), GRPC_STATUS_INVALID_ARGUMENT,
                "invalid digest");
    cleanup_free char *sha512 = xasprintf("sha512:%s%s", &DG("1")[7], &DG("2")[7]);
    CHECK_FAILS(fake_fetch(s, sha512, 1, 0, &c, &err), GRPC_STATUS_UNIMPLEMENTED, "only sha256");
    return 0;
}

static int fake_manifests(struct fake_registry *f)
{
    cleanup_error crimp_error_t err = NULL;
    struct dist_auth auth = {.registry_token = "tok-1"};
    cleanup_desc struct dist_descriptor a = {0}, b = {0}, x = {0};
    /* No Docker-Content-Digest and a text/plain type: GET, hash, guess.  */
    CHECK_OK(fake_resolve(f, ":nodigest", &auth, &a, &err));
    CHECK(strcmp(a.digest, f->manifest_digest) == 0 && strcmp(a.media_type, MT_OCI_MANIFEST) == 0);
    CHECK(a.size == (int64_t)strlen(FAKE_MANIFEST));
    cleanup_free char *by_digest = xasprintf("@%s", f->manifest_digest);
    CHECK_OK(fake_resolve(f, by_digest, &auth, &b, &err));
    CHECK(strcmp(b.digest, a.digest) == 0 && b.size == a.size);

    CHECK_FAILS(fake_resolve(f, ":broken", &auth, &x, &err), GRPC_STATUS_INTERNAL,
                "fake/repo:broken: storage on fire (HTTP 500)");
    CHECK_FAILS(fake_resolve(f, ":missing", &auth, &x, &err), GRPC_STATUS_NOT_FOUND,
                "/fake/repo:missing: manifest unknown");

    cleanup_ref struct dist_ref ref = {0};
    cleanup_session struct dist_session *s = fake_session(f, ":v1", &auth, &ref, &err);
    CHECK(s != NULL);
    char *body = NULL, *mt = NULL;
    size_t len = 7;
    CHECK_FAILS(dist_fetch_manifest(s, f->lying_digest, &body, &len, &mt, &err),
                GRPC_STATUS_DATA_LOSS, "digest mismatch");
    CHECK(body == NULL && mt == NULL && len == 0);
    return 0;
}

static int test_fake_bearer(void)
{
    return with_fake(fake_bearer);
}

static int test_fake_other_credentials(void)
{
    return with_fake(fake_other_credentials);
}

static int test_fake_blobs(void)
{
    return with_fake(fake_blobs);
}

static int test_fake_manifests(void)
{
    return with_fake(fake_manifests);
}

static int test_unreachable(void)
{
    cleanup_error crimp_error_t err = NULL;
    cleanup_ref struct dist_ref ref = {0};
    CHECK_OK(dist_ref_parse("127.0.0.1:1/x:y", &ref, &err));
    cleanup_session struct dist_session *s = dist_session_new(&ref, NULL, NULL, &err);
    cleanup_desc struct dist_descriptor d = {0};
    CHECK_FAILS(dist_resolve(s, &d, &err), GRPC_STATUS_UNAVAILABLE,
                "HEAD http://127.0.0.1:1/v2/x/manifests/y: ");
    return 0;
}

/* CRIMP_BED_REGISTRY from $CRIMP_BED/env into *REGISTRY: 0, or 77 when
 * there is no bed, -1 when the bed is broken.  */
static int bed_registry(char **registry)
{
    const char *bed = getenv("CRIMP_BED");
    *registry = NULL;
    if (str_empty(bed)) {
        printf("# registry part skipped: CRIMP_BED is not set\n");
        return 77;
    }
    cleanup_free char *path = xasprintf("%s/env", bed);
    cleanup_file FILE *f = fopen(path, "r");
    char line[512];
    const char *key = "export CRIMP_BED_REGISTRY=";
    while (f && fgets(line, sizeof(line), f))
        if (has_prefix(line, key)) {
            line[strcspn(line, "\n")] = '\0';
            *registry = xstrdup(line + strlen(key));
            return 0;
        }
    fprintf(stderr, "CRIMP_BED is set but %s has no CRIMP_BED_REGISTRY\n", path);
    return -1;
}

static struct dist_session *named_session(const char *name, const struct dist_auth *auth,
                                          struct dist_ref *ref, crimp_error_t *err)
{
    if (dist_ref_parse(name, ref, err) < 0)
        return NULL;
    return dist_session_new(ref, auth, NULL, err);
}

/* Fetches D whole and checks, independently of the client, its size and
 * digest.  */
static int fetch_and_hash(struct dist_session *s, const struct dist_descriptor *d,
                          struct collected *c, crimp_error_t *err)
{
    collected_release(c);
    if (dist_fetch_blob(s, d, 0, collect_sink, c, err) < 0)
        return -1;
    char digest[SHA256_DIGEST_STR_LEN];
    sha256_digest_string(c->data ? c->data : "", c->len, digest);
    if ((int64_t)c->len != d->size || strcmp(digest, d->digest) != 0)
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0, "blob %s: got %zu bytes hashing %s",
                                d->digest, c->len, digest);
    return 0;
}

/* The image manifest of the resolved TOP (through an index if it is one).  */
static int fetch_image_manifest(struct dist_session *s, const struct dist_descriptor *top,
                                json_t **manifest, crimp_error_t *err)
{
    cleanup_free char *body = NULL, *mt = NULL;
    size_t len = 0;
    if (dist_fetch_manifest(s, top->digest, &body, &len, &mt, err) < 0)
        return -1;
    if ((int64_t)len != top->size || strcmp(mt, top->media_type) != 0)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "manifest is not what resolve said");
    json_auto_t *j = json_loadb(body, len, 0, NULL);
    if (!dist_is_index(mt)) {
        *manifest = steal_ptr(&j);
        return 0;
    }
    cleanup_desc struct dist_descriptor one = {0};
    if (dist_index_select(j, "linux", "amd64", &one, err) < 0)
        return -1;
    return fetch_image_manifest(s, &one, manifest, err);
}

static int bed_pull(const char *reg)
{
    cleanup_error crimp_error_t err = NULL;
    cleanup_free char *name = xasprintf("%s/crimp/busybox:1.35", reg);
    cleanup_ref struct dist_ref ref = {0};
    cleanup_session struct dist_session *s = named_session(name, NULL, &ref, &err);
    CHECK(s != NULL);
    cleanup_desc struct dist_descriptor top = {0}, config = {0};
    CHECK_OK(dist_resolve(s, &top, &err));
    json_auto_t *manifest = NULL;
    CHECK_OK(fetch_image_manifest(s, &top, &manifest, &err));
    struct dist_descriptor *layers = NULL;
    size_t n = 0;
    CHECK_OK(dist_manifest_parse(manifest, &config, &layers, &n, &err));
    cleanup_collected struct collected c = {0}, first = {0}, tail = {0};
    int r = fetch_and_hash(s, &config, &c, &err);
    json_auto_t *cfg = r == 0 ? json_loadb(c.data, c.len, 0, NULL) : NULL;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = fetch_and_hash(s, &layers[i], i == 0 ? &first : &c, &err);
    /* The tail of the first layer by a Range request (206 from the registry).  */
    int64_t half = n ? layers[0].size / 2 : 0;
    struct crimp_trace tr = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&tr);
    if (r == 0 && n > 0)
        r = dist_fetch_blob(s, &layers[0], half, collect_sink, &tail, &err);
    crimp_trace_set_current(NULL);
    for (size_t i = 0; i < n; i++)
        dist_descriptor_clear(&layers[i]);
    free(layers);
    CHECK_OK(r);
    CHECK(n >= 1);
    CHECK(json_array_size(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids")) == n);
    CHECK(tr.n_spans == 1 && tr.spans[0].status == 206);
    CHECK(strcmp(tr.spans[0].name, "GET /v2/{name}/blobs/{digest}") == 0);
    CHECK(tail.len == first.len - (size_t)half && tail.len > 0);
    CHECK(memcmp(tail.data, first.data + half, tail.len) == 0);
    return 0;
}

static int bed_missing(const char *reg)
{
    cleanup_error crimp_error_t err = NULL;
    cleanup_free char *tag = xasprintf("%s/crimp/busybox:no-such-tag", reg);
    cleanup_free char *repo = xasprintf("%s/crimp/no-such-repo:1", reg);
    cleanup_ref struct dist_ref r1 = {0}, r2 = {0};
    cleanup_session struct dist_session *s1 = named_session(tag, NULL, &r1, &err);
    cleanup_session struct dist_session *s2 = named_session(repo, NULL, &r2, &err);
    CHECK(s1 && s2);
    cleanup_desc struct dist_descriptor d = {0};
    CHECK_FAILS(dist_resolve(s1, &d, &err), GRPC_STATUS_NOT_FOUND,
                "/crimp/busybox:no-such-tag: manifest unknown");
    CHECK_FAILS(dist_resolve(s2, &d, &err), GRPC_STATUS_NOT_FOUND, "/crimp/no-such-repo:1: ");
    struct collected c = {0};
    CHECK_FAILS(fake_fetch(s1, DG("7"), 3, 0, &c, &err), GRPC_STATUS_NOT_FOUND, "blob unknown");
    return 0;
}

/* The digest TAG_NAME resolves to; the same again by digest.  */
static int bed_by_digest(const char *reg, char **digest)
{
    cleanup_error crimp_error_t err = NULL;
    cleanup_free char *name = xasprintf("%s/crimp/busybox:1.35", reg);
    cleanup_desc struct dist_descriptor a = {0}, b = {0};
    cleanup_ref struct dist_ref r1 = {0}, r2 = {0};
    cleanup_session struct dist_session *s1 = named_session(name, NULL, &r1, &err);
    CHECK(s1 != NULL);
    CHECK_OK(dist_resolve(s1, &a, &err));
    cleanup_free char *pinned = dist_ref_with_digest(&r1, a.digest);
    cleanup_session struct dist_session *s2 = named_session(pinned, NULL, &r2, &err);
    CHECK(s2 != NULL);
    CHECK_OK(dist_resolve(s2, &b, &err));
    CHECK(strcmp(a.digest, b.digest) == 0 && a.size == b.size);
    CHECK(strcmp(a.media_type, b.media_type) == 0);
    *digest = xstrdup(a.digest);
    return 0;
}

static int test_bed_pull(void)
{
    cleanup_free char *reg = NULL, *digest = NULL;
    int r = bed_registry(&reg);
    if (r != 0)
        return r;
    if (bed_pull(reg) < 0 || bed_missing(reg) < 0)
        return -1;
    return bed_by_digest(reg, &digest);
}

#define AUTH_REGISTRY "127.0.0.1:5112"
/* crimp:s3cret, bcrypt cost 5 (python3 crypt.METHOD_BLOWFISH).  */
#define HTPASSWD "crimp:$2b$05$tPsrVo99xn0f9qqVHNxiruSuUqDaaLh46avhSltN.R69XPEdjghE2\n"

static int write_file(const char *dir, const char *name, const char *text)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    cleanup_file FILE *f = fopen(path, "w");
    return f && fputs(text, f) >= 0 ? 0 : -1;
}

/* docker-registry with htpasswd auth on AUTH_REGISTRY, serving the bed
 * registry's storage; its pid, or -1.  */
static pid_t start_auth_registry(const char *dir)
{
    cleanup_free char *config =
        xasprintf("version: 0.1\nlog: {level: warn}\n"
                  "storage: {filesystem: {rootdirectory: %s/registry/data}}\n"
                  "http: {addr: \"" AUTH_REGISTRY "\"}\n"
                  "auth: {htpasswd: {realm: crimp-test, path: %s/htpasswd}}\n",
                  getenv("CRIMP_BED"), dir);
    if (write_file(dir, "htpasswd", HTPASSWD) < 0)
        return -1;
    return spawn_docker_registry(dir, config, 5112);
}

static int basic_auth_checks(const char *expected_digest)
{
    cleanup_error crimp_error_t err = NULL;
    const char *name = AUTH_REGISTRY "/crimp/busybox:1.35";
    struct dist_auth good = {.username = "crimp", .password = "s3cret"};
    struct dist_auth encoded = {.auth = "Y3JpbXA6czNjcmV0"};
    struct dist_auth wrong = {.username = "crimp", .password = "nope"};
    cleanup_ref struct dist_ref r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0};
    cleanup_session struct dist_session *s1 = named_session(name, NULL, &r1, &err);
    cleanup_session struct dist_session *s2 = named_session(name, &good, &r2, &err);
    cleanup_session struct dist_session *s3 = named_session(name, &encoded, &r3, &err);
    cleanup_session struct dist_session *s4 = named_session(name, &wrong, &r4, &err);
    CHECK(s1 && s2 && s3 && s4);
    cleanup_desc struct dist_descriptor d = {0}, e = {0}, x = {0};
    CHECK_FAILS(dist_resolve(s1, &x, &err), GRPC_STATUS_UNAUTHENTICATED, "basic credentials");
    CHECK_OK(dist_resolve(s2, &d, &err));
    CHECK(strcmp(d.digest, expected_digest) == 0);
    CHECK_OK(dist_resolve(s3, &e, &err));
    CHECK(strcmp(e.digest, expected_digest) == 0);
    /* Later requests of the session stay authenticated.  */
    cleanup_free char *body = NULL, *mt = NULL;
    size_t len = 0;
    CHECK_OK(dist_fetch_manifest(s3, e.digest, &body, &len, &mt, &err));
    CHECK_FAILS(dist_resolve(s4, &x, &err), GRPC_STATUS_UNAUTHENTICATED, "unauthorized");
    return 0;
}

static int test_bed_basic_auth(void)
{
    cleanup_free char *reg = NULL, *digest = NULL;
    int r = bed_registry(&reg);
    if (r != 0)
        return r;
    if (bed_by_digest(reg, &digest) < 0)
        return -1;
    char dir[] = "/tmp/crimp-dist-auth.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    pid_t pid = start_auth_registry(dir);
    r = pid > 0 ? basic_auth_checks(digest) : -1;
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    const char *files[] = {"htpasswd", "config.yml", "registry.log"};
    for (size_t i = 0; r == 0 && i < CRIMP_ARRAY_SIZE(files); i++) {
        cleanup_free char *path = xasprintf("%s/%s", dir, files[i]);
        unlink(path);
    }
    if (r == 0)
        rmdir(dir);
    return r;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_ref_parse_good),
        UNIT_TEST(test_ref_parse_bad),
        UNIT_TEST(test_www_authenticate),
        UNIT_TEST(test_reply_message_bounded),
        UNIT_TEST(test_index_select),
        UNIT_TEST(test_manifest_parse),
        UNIT_TEST(test_fake_bearer),
        UNIT_TEST(test_fake_other_credentials),
        UNIT_TEST(test_fake_blobs),
        UNIT_TEST(test_fake_manifests),
        UNIT_TEST(test_unreachable),
        UNIT_TEST(test_bed_pull),
        UNIT_TEST(test_bed_basic_auth),
    };
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
