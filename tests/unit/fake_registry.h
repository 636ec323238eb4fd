/* A fake registry for test_distribution: a thread answering one HTTP/1.1
 * request per connection on 127.0.0.1, with a bearer token server, a blob
 * redirected to "storage" (which ignores Range and refuses Authorization),
 * and a few broken answers.  Token "tok-1" opens /v2/; it comes from
 * GET /token with basic user:pw or from POST /token with refresh token
 * rt-1.  Also a blob sink that collects what it is given.  */
#ifndef CRIMP_TEST_FAKE_REGISTRY_H
#define CRIMP_TEST_FAKE_REGISTRY_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/registry/distribution.h"
#include "digest.h"
#include "utils.h"

#define FAKE_BLOB "0123456789abcdefghijklmnopqrstuvwxyz"
#define FAKE_MANIFEST                                                                              \
    "{\"schemaVersion\": 2, \"config\": {\"mediaType\": "                                          \
    "\"application/vnd.oci.image.config.v1+json\", \"size\": 2, \"digest\": "                      \
    "\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\"}, \"layers\": "   \
    "[]}"

struct fake_registry {
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int token_gets, token_posts;
    atomic_bool auth_forwarded; /* storage saw an Authorization header */
    char blob_digest[SHA256_DIGEST_STR_LEN];
    char manifest_digest[SHA256_DIGEST_STR_LEN];
    char lying_digest[SHA256_DIGEST_STR_LEN]; /* serves FAKE_BLOB / FAKE_MANIFEST */
    char range_liar[SHA256_DIGEST_STR_LEN];   /* answers any Range with bytes 0- */
};

struct fake_request {
    char method[8];
    char path[512];
    char auth[256];
    char body[1024];
};

static void fake_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void fake_reply(int fd, const struct fake_request *r, int status, const char *headers,
                       const char *body)
{
    char head[1024];
    size_t len = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d Fake\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, len, headers ? headers : "");
    fake_write_all(fd, head, (size_t)n);
    if (body && strcmp(r->method, "HEAD") != 0)
        fake_write_all(fd, body, len);
}

/* Copies header NAME's value from the request text into OUT.  */
static void fake_header(const char *text, const char *name, char *out, size_t size)
{
    const char *h = strcasestr(text, name);
    out[0] = '\0';
    if (h != NULL)
        snprintf(out, size, "%.*s", (int)strcspn(h + strlen(name), "\r\n"), h + strlen(name));
}

static int fake_read(int fd, struct fake_request *r)
{
    char buf[8192];
    size_t n = 0;
    char *end = NULL;
    while (end == NULL && n < sizeof(buf) - 1) {
        ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end == NULL || sscanf(buf, "%7s %511s", r->method, r->path) != 2)
        return -1;
    fake_header(buf, "\r\nAuthorization: ", r->auth, sizeof(r->auth));
    char cl[32];
    fake_header(buf, "\r\nContent-Length: ", cl, sizeof(cl));
    size_t want = (size_t)atol(cl), have = n - (size_t)(end + 4 - buf);
    while (have < want && n < sizeof(buf) - 1) {
        ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        have += (size_t)k;
        buf[n] = '\0';
    }
    snprintf(r->body, sizeof(r->body), "%s", end + 4);
    return 0;
}

static void fake_token(struct fake_registry *f, int fd, const struct fake_request *r)
{
    bool ok;
    if (strcmp(r->method, "POST") == 0) {
        atomic_fetch_add(&f->token_posts, 1);
        ok = strstr(r->body, "grant_type=refresh_token") && strstr(r->body, "refresh_token=rt-1") &&
             strstr(r->body, "scope=repository%3Afake%2Frepo%3Apull");
        if (ok)
            return fake_reply(fd, r, 200, "Content-Type: application/json\r\n",
                              "{\"token\": \"tok-1\"}");
    } else {
        atomic_fetch_add(&f->token_gets, 1);
        ok = strcmp(r->auth, "Basic dXNlcjpwdw==") == 0 &&
             strstr(r->path, "service=fake-registry") &&
             strstr(r->path, "scope=repository%3Afake%2Frepo%3Apull");
        if (ok)
            return fake_reply(fd, r, 200, "Content-Type: application/json\r\n",
                              "{\"access_token\": \"tok-1\", \"expires_in\": 300}");
    }
    fake_reply(fd, r, 401, NULL, "{\"details\": \"incorrect username or password\"}");
}

static void fake_blob(struct fake_registry *f, int fd, const struct fake_request *r,
                      const char *digest)
{
    char headers[256];
    if (strcmp(digest, f->blob_digest) == 0) {
        snprintf(headers, sizeof(headers), "Location: http://localhost:%d/storage/blob\r\n",
                 f->port);
        return fake_reply(fd, r, 307, headers, NULL);
    }
    if (strcmp(digest, f->lying_digest) == 0)
        return fake_reply(fd, r, 200, NULL, FAKE_BLOB);
    if (strcmp(digest, f->range_liar) == 0)
        return fake_reply(fd, r, 206, "Content-Range: bytes 0-35/36\r\n", FAKE_BLOB);
    fake_reply(fd, r, 404, NULL,
               "{\"errors\": [{\"code\": \"BLOB_UNKNOWN\", \"message\": \"blob unknown to "
               "registry\"}]}");
}

static void fake_manifest(struct fake_registry *f, int fd, const struct fake_request *r,
                          const char *reference)
{
    char headers[256];
    if (strcmp(reference, "v1") == 0 || strcmp(reference, f->manifest_digest) == 0 ||
        strcmp(reference, f->lying_digest) == 0) {
        snprintf(headers, sizeof(headers),
                 "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                 "Docker-Content-Digest: %s\r\n",
                 f->manifest_digest);
        return fake_reply(fd, r, 200, headers, FAKE_MANIFEST);
    }
    if (strcmp(reference, "nodigest") == 0)
        return fake_reply(fd, r, 200, "Content-Type: text/plain\r\n", FAKE_MANIFEST);
    if (strcmp(reference, "broken") == 0)
        return fake_reply(fd, r, 500, NULL,
                          "{\"errors\": [{\"code\": \"UNKNOWN\", \"message\": \"storage on "
                          "fire\"}]}");
    fake_reply(fd, r, 404, NULL,
               "{\"errors\": [{\"code\": \"MANIFEST_UNKNOWN\", \"message\": \"manifest "
               "unknown\"}]}");
}

static void fake_handle(struct fake_registry *f, int fd, const struct fake_request *r)
{
    if (has_prefix(r->path, "/token"))
        return fake_token(f, fd, r);
    if (strcmp(r->path, "/storage/blob") == 0) {
        if (r->auth[0] != '\0') {
            atomic_store(&f->auth_forwarded, true);
            return fake_reply(fd, r, 400, NULL, "authorization forwarded to storage");
        }
        return fake_reply(fd, r, 200, NULL, FAKE_BLOB); /* Range ignored */
    }
    if (strcmp(r->auth, "Bearer tok-1") != 0) {
        char headers[512];
        /* Two challenges: the client must answer the Bearer one.  */
        snprintf(headers, sizeof(headers),
                 "WWW-Authenticate: Basic realm=\"fake\"\r\n"
                 "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\","
                 "service=\"fake-registry\",scope=\"repository:fake/repo:pull\"\r\n",
                 f->port);
        return fake_reply(fd, r, 401, headers,
                          "{\"errors\": [{\"code\": \"UNAUTHORIZED\", \"message\": "
                          "\"authentication required\"}]}");
    }
    if (has_prefix(r->path, "/v2/fake/repo/manifests/"))
        return fake_manifest(f, fd, r, r->path + strlen("/v2/fake/repo/manifests/"));
    if (has_prefix(r->path, "/v2/fake/repo/blobs/"))
        return fake_blob(f, fd, r, r->path + strlen("/v2/fake/repo/blobs/"));
    fake_reply(fd, r, 404, NULL, NULL);
}

static void *fake_main(void *arg)
{
    struct fake_registry *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        struct fake_request r = {0};
        if (fake_read(c, &r) == 0)
            fake_handle(f, c, &r);
        close(c);
    }
    return NULL;
}

static int fake_start(struct fake_registry *f)
{
    memset(f, 0, sizeof(*f));
    sha256_digest_string(FAKE_BLOB, strlen(FAKE_BLOB), f->blob_digest);
    sha256_digest_string(FAKE_MANIFEST, strlen(FAKE_MANIFEST), f->manifest_digest);
    sha256_digest_string("lie", 3, f->lying_digest);
    sha256_digest_string("range", 5, f->range_liar);
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(f->fd, 16) < 0 ||
        getsockname(f->fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->thread, NULL, fake_main, f) == 0 ? 0 : -1;
}

static void fake_stop(struct fake_registry *f)
{
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    close(f->fd);
}

/* A sink that keeps what it gets, failing on call FAIL_AT_CALL.  */
struct collected {
    char *data;
    size_t len;
    int calls, fail_at_call;
};

static inline int collect_sink(void *ctx, const void *data, size_t len, crimp_error_t *err)
{
    struct collected *c = ctx;
    if (++c->calls == c->fail_at_call)
        return crimp_make_error(err, GRPC_STATUS_ABORTED, 0, "sink: content writer gone");
    c->data = xrealloc(c->data, c->len + len + 1);
    memcpy(c->data + c->len, data, len);
    c->len += len;
    c->data[c->len] = '\0';
    return 0;
}

static inline void collected_release(struct collected *c)
{
    free(c->data);
    memset(c, 0, sizeof(*c));
}
#define cleanup_collected __attribute__((cleanup(collected_release)))

/* A session for 127.0.0.1:<port>/fake/repo<TAIL>.  */
static inline struct dist_session *fake_session(const struct fake_registry *f, const char *tail,
                                         const struct dist_auth *auth, struct dist_ref *ref,
                                         crimp_error_t *err)
{
    char name[200];
    snprintf(name, sizeof(name), "127.0.0.1:%d/fake/repo%s", f->port, tail);
    if (dist_ref_parse(name, ref, err) < 0)
        return NULL;
    return dist_session_new(ref, auth, NULL, err);
}

static inline bool registry_port_answers(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A real docker-registry (Debian's) with CONFIG written to DIR/config.yml,
 * once it answers on 127.0.0.1:PORT: its pid, or -1 (see DIR/registry.log).  */
static inline pid_t spawn_docker_registry(const char *dir, const char *config, int port)
{
    cleanup_free char *cfg = xasprintf("%s/config.yml", dir);
    cleanup_free char *log = xasprintf("%s/registry.log", dir);
    FILE *f = fopen(cfg, "w");
    bool written = f && fputs(config, f) >= 0;
    if (f == NULL || fclose(f) != 0 || !written)
        return -1;
    fflush(NULL); /* or the child's freopen writes our buffered output again */
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen(log, "w", stdout) == NULL || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit(126);
        execlp("docker-registry", "docker-registry", "serve", cfg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) != 0)
            break; /* it died (port taken?): see registry.log */
        if (registry_port_answers(port))
            return pid;
        usleep(100 * 1000);
    }
    fprintf(stderr, "docker-registry did not start; see %s\n", log);
    return -1;
}

#endif
