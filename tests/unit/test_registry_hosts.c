/* Registry host configuration (containerd's hosts.toml layout).  Pure: the
 * TOML subset, the host list a file gives (order, API roots, capabilities,
 * CAs and client certificates relative to the file, headers), the
 * fallbacks (_default, Docker's certs.d files, none), and errors naming the
 * line.  Against the fake registry: a dead mirror falls through to the
 * next host, a pull-only mirror is not asked to resolve.  With $CRIMP_BED:
 * a docker-registry speaking TLS with a private CA, serving the bed
 * registry's storage, reached as a mirror of a registry that does not
 * exist — with its CA, without it (refused), and with skip_verify.  */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/registry/distribution.h"
#include "common/registry/registry_hosts.h"
#include "fake_registry.h"
#include "unit.h"
#include "utils.h"

static void hosts_freep(struct reg_hosts *h)
{
    reg_hosts_clear(h);
}
#define cleanup_hosts __attribute__((cleanup(hosts_freep)))

static int parse(const char *text, const char *domain, struct reg_hosts *out, crimp_error_t *err)
{
    return reg_hosts_parse(text, strlen(text), "/etc/containerd/certs.d/x", domain, false, out,
                           err);
}

static int test_full_file(void)
{
    cleanup_error crimp_error_t err = NULL;
    cleanup_hosts struct reg_hosts h = {0};
    const char *text = "# a mirror in front of docker.io\n"
                       "server = \"https://registry-1.docker.io\"  # upstream\n"
                       "ca = [\"up.pem\", '/abs/up2.pem']\n\n"
                       "[host.\"https://mirror.local:5000\"]\n"
                       "  capabilities = [\"pull\", \"resolve\"]\n"
                       "  ca = \"mirror-ca.crt\"\n"
                       "  client = [[\"c.cert\", \"c.key\"], [\"other.cert\", \"\"]]\n"
                       "  skip_verify = false\n"
                       "  dial_timeout = \"1s\"\n"
                       "[host.\"https://mirror.local:5000\".header]\n"
                       "  x-token = \"a\\\"b\"\n"
                       "  x-multi = [\"1\",\n    \"2\", # comment inside\n  ]\n"
                       "[host.\"http://plain.local/prefix\"]\n"
                       "  capabilities = [\"pull\"]\n"
                       "  skip_verify = true\n"
                       "[host.\"https://raw.local/api/root/\"]\n"
                       "  override_path = true\n"
                       "  client = \"both.pem\"\n";
    CHECK_OK(parse(text, "docker.io", &h, &err));
    CHECK(h.n == 4);
    const struct reg_host *m = &h.hosts[0], *p = &h.hosts[1], *r = &h.hosts[2], *s = &h.hosts[3];
    CHECK(strcmp(m->api, "https://mirror.local:5000/v2") == 0);
    CHECK(strcmp(m->authority, "mirror.local:5000") == 0 && !m->plain_http);
    CHECK(m->caps == (REG_CAP_PULL | REG_CAP_RESOLVE));
    CHECK(m->ca_files && strcmp(m->ca_files[0], "/etc/containerd/certs.d/x/mirror-ca.crt") == 0);
    CHECK(m->ca_files[1] == NULL);
    CHECK(strcmp(m->client_cert, "/etc/containerd/certs.d/x/c.cert") == 0);
    CHECK(strcmp(m->client_key, "/etc/containerd/certs.d/x/c.key") == 0);
    CHECK(m->headers && strcmp(m->headers[0], "x-token: a\"b") == 0);
    CHECK(strcmp(m->headers[1], "x-multi: 1") == 0 && strcmp(m->headers[2], "x-multi: 2") == 0);
    CHECK(strcmp(p->api, "http://plain.local/prefix/v2") == 0 && p->plain_http);
    CHECK(p->caps == REG_CAP_PULL && p->skip_verify);
    CHECK(strcmp(r->api, "https://raw.local/api/root") == 0 && r->caps == REG_CAP_ALL);
    CHECK(strcmp(r->client_cert, "/etc/containerd/certs.d/x/both.pem") == 0 && !r->client_key);
    CHECK(strcmp(s->api, "https://registry-1.docker.io/v2") == 0 && s->caps == REG_CAP_ALL);
    CHECK(strcmp(s->ca_files[0], "/etc/containerd/certs.d/x/up.pem") == 0);
    CHECK(strcmp(s->ca_files[1], "/abs/up2.pem") == 0);
    return 0;
}

static int test_defaults(void)
{
    cleanup_error crimp_error_t err = NULL;
    cleanup_hosts struct reg_hosts a = {0}, b = {0}, c = {0};
    CHECK_OK(parse("", "docker.io", &a, &err));
    CHECK(a.n == 1 && strcmp(a.hosts[0].api, "https://registry-1.docker.io/v2") == 0);
    CHECK_OK(reg_hosts_parse("", 0, NULL, "127.0.0.1:5000", true, &b, &err));
    CHECK(b.n == 1 && strcmp(b.hosts[0].api, "http://127.0.0.1:5000/v2") == 0);
    /* A server without a scheme is HTTPS; a path ending in /v2 is kept.  */
    CHECK_OK(parse("server = \"quay.example/v2\"\n", "quay.example", &c, &err));
    CHECK(strcmp(c.hosts[0].api, "https://quay.example/v2") == 0);
    return 0;
}

/* Fails unless parsing TEXT fails with a message containing NEEDLE.  */
static int refused(const char *text, const char *needle)
{
    cleanup_error crimp_error_t err = NULL;
    cleanup_hosts struct reg_hosts h = {0};
    if (parse(text, "r.example", &h, &err) == 0 || err == NULL ||
        err->code != GRPC_STATUS_INVALID_ARGUMENT || strstr(err->msg, needle) == NULL) {
        fprintf(stderr, "text %s: got %s\n", text, err ? err->msg : "success");
        return -1;
    }
    return 0;
}

static int test_errors(void)
{
    CHECK(refused("[host.\"https://m\"]\ncapabilities = [\"pull\", \"fly\"]\n",
                  "line 2: unknown capability fly") == 0);
    CHECK(refused("server = \"https://x\n", "line 1: unterminated string") == 0);
    CHECK(refused("[mirrors]\n", "line 1: unknown table") == 0);
    CHECK(refused("skip_verify = \"yes\"\n", "must be true or false") == 0);
    CHECK(refused("server = \"ftp://x\"\n", "only http and https") == 0);
    CHECK(refused("a.b = 1\n", "dotted keys") == 0);
    CHECK(refused("x = { a = 1 }\n", "unsupported value") == 0);
    CHECK(refused("x = \"\"\"long\"\"\"\n", "multi-line") == 0);
    CHECK(refused("x = 1 2\n", "after the value") == 0);
    CHECK(refused("x = [[[[[1]]]]]\n", "nested too deeply") == 0);
    CHECK(refused("[[host]]\n", "arrays of tables") == 0);
    CHECK(refused("x = \"\\q\"\n", "unsupported escape") == 0);
    CHECK(refused("ca = [1]\n", "ca must be a path") == 0);
    return 0;
}

static int write_text(const char *path, const char *text)
{
    cleanup_file FILE *f = fopen(path, "w");
    return f && fputs(text, f) >= 0 ? 0 : -1;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? 0 : -1;
}

/* The lookup order: <dir>/<host>/hosts.toml, else that directory's
 * Docker-style certificate files, else <dir>/_default/hosts.toml.  */
static int test_load_layout(void)
{
    cleanup_error crimp_error_t err = NULL;
    char dir[] = "/tmp/crimp-hosts.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    cleanup_free char *mkdirs = xasprintf("mkdir -p %s/a.example:5000 %s/b.example %s/_default",
                                          dir, dir, dir);
    CHECK(run(mkdirs) == 0);
    cleanup_free char *fa = xasprintf("%s/a.example:5000/hosts.toml", dir);
    cleanup_free char *fb1 = xasprintf("%s/b.example/ca.crt", dir);
    cleanup_free char *fb2 = xasprintf("%s/b.example/me.cert", dir);
    cleanup_free char *fb3 = xasprintf("%s/b.example/me.key", dir);
    cleanup_free char *fd = xasprintf("%s/_default/hosts.toml", dir);
    CHECK(write_text(fa, "[host.\"http://m:1\"]\n") == 0);
    CHECK(write_text(fb1, "x") == 0 && write_text(fb2, "x") == 0 && write_text(fb3, "x") == 0);
    CHECK(write_text(fd, "[host.\"https://fallback\"]\ncapabilities = [\"pull\"]\n") == 0);
    cleanup_hosts struct reg_hosts a = {0}, b = {0}, c = {0}, d = {0};
    CHECK_OK(reg_hosts_load(dir, "a.example:5000", false, &a, &err));
    CHECK(a.n == 2 && strcmp(a.hosts[0].api, "http://m:1/v2") == 0);
    CHECK(strcmp(a.hosts[1].api, "https://a.example:5000/v2") == 0);
    CHECK(strcmp(a.source, fa) == 0);
    CHECK_OK(reg_hosts_load(dir, "b.example", false, &b, &err));
    CHECK(b.n == 1 && b.hosts[0].ca_files && strcmp(b.hosts[0].ca_files[0], fb1) == 0);
    CHECK(strcmp(b.hosts[0].client_cert, fb2) == 0 && strcmp(b.hosts[0].client_key, fb3) == 0);
    CHECK_OK(reg_hosts_load(dir, "c.example", false, &c, &err));
    CHECK(c.n == 2 && strcmp(c.hosts[0].api, "https://fallback/v2") == 0);
    CHECK(strcmp(c.hosts[1].api, "https://c.example/v2") == 0);
    CHECK_OK(reg_hosts_load(NULL, "c.example", false, &d, &err));
    CHECK(d.n == 1 && d.source == NULL);
    /* A CA file that cannot be read is named when the bundle is built.  */
    char *pem = NULL;
    size_t len = 0;
    CHECK(reg_host_ca_bundle(&b.hosts[0], &pem, &len, &err) == 0 && len > 0);
    free(pem);
    unlink(fb1);
    CHECK(reg_host_ca_bundle(&b.hosts[0], &pem, &len, &err) < 0);
    CHECK(err->code == GRPC_STATUS_FAILED_PRECONDITION && strstr(err->msg, "ca.crt") != NULL);
    cleanup_free char *rm = xasprintf("rm -rf %s", dir);
    return run(rm);
}

/* A session for DOMAIN/REPO with the hosts file TEXT.  */
static struct dist_session *session_with_hosts(const char *dir, const char *domain,
                                               const char *repo, const char *text,
                                               struct dist_ref *ref, crimp_error_t *err)
{
    cleanup_free char *host_dir = xasprintf("%s/%s", dir, domain);
    cleanup_free char *file = xasprintf("%s/hosts.toml", host_dir);
    mkdir(host_dir, 0700);
    if (write_text(file, text) < 0)
        return NULL;
    cleanup_free char *name = xasprintf("%s/%s", domain, repo);
    if (dist_ref_parse(name, ref, err) < 0)
        return NULL;
    struct dist_auth auth = {.username = "user", .password = "pw"};
    struct dist_options opts = {.hosts_dir = dir, .timeout_seconds = 5};
    return dist_session_new(ref, &auth, &opts, err);
}

static int fallback_checks(const struct fake_registry *f, const char *dir)
{
    cleanup_error crimp_error_t err = NULL;
    struct dist_descriptor d = {0};
    /* A dead mirror first: the resolve and the fetch fall through.  */
    cleanup_free char *t1 = xasprintf(
        "server = \"http://127.0.0.1:%d\"\n[host.\"http://127.0.0.1:1\"]\n", f->port);
    struct dist_ref r1 = {0};
    struct dist_session *s1 = session_with_hosts(dir, "one.invalid", "fake/repo:v1", t1, &r1, &err);
    CHECK(s1 != NULL);
    int rc = dist_resolve(s1, &d, &err);
    cleanup_free char *body = NULL, *mt = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = dist_fetch_manifest(s1, d.digest, &body, &len, &mt, &err);
    dist_descriptor_clear(&d);
    dist_session_free(s1);
    dist_ref_clear(&r1);
    CHECK_OK(rc);
    CHECK(len == strlen(FAKE_MANIFEST));
    /* The only working host may pull but not resolve: the resolve fails
     * at the dead server, and says so.  */
    cleanup_free char *t2 = xasprintf("server = \"http://127.0.0.1:1\"\n"
                                      "[host.\"http://127.0.0.1:%d\"]\ncapabilities = [\"pull\"]\n",
                                      f->port);
    struct dist_ref r2 = {0};
    struct dist_session *s2 = session_with_hosts(dir, "two.invalid", "fake/repo:v1", t2, &r2, &err);
    CHECK(s2 != NULL);
    rc = dist_resolve(s2, &d, &err);
    dist_session_free(s2);
    dist_ref_clear(&r2);
    CHECK(rc < 0 && err->code == GRPC_STATUS_UNAVAILABLE);
    CHECK(strstr(err->msg, "127.0.0.1:1/v2/fake/repo/manifests/v1") != NULL);
    return 0;
}

static int test_fake_fallback(void)
{
    struct fake_registry f;
    CHECK(fake_start(&f) == 0);
    char dir[] = "/tmp/crimp-hosts.XXXXXX";
    int rc = mkdtemp(dir) != NULL ? fallback_checks(&f, dir) : -1;
    fake_stop(&f);
    cleanup_free char *rm = xasprintf("rm -rf %s", dir);
    return rc == 0 ? run(rm) : rc;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
                       getsockname(fd, (struct sockaddr *)&a, &len) == 0
                   ? ntohs(a.sin_port)
                   : -1;
    if (fd >= 0)
        close(fd);
    return port;
}

/* A private CA and a certificate for 127.0.0.1 signed by it, in DIR.  */
static int make_certs(const char *dir)
{
    cleanup_free char *cmd = xasprintf(
        "(cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=crimp-test-ca "
        "-keyout ca.key -out ca.crt && openssl req -newkey rsa:2048 -nodes -subj /CN=mirror "
        "-keyout reg.key -out reg.csr && printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
        "openssl x509 -req -in reg.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile ext -out reg.crt) >%s/openssl.log 2>&1",
        dir, dir);
    return run(cmd);
}

/* docker-registry over TLS on PORT serving the bed registry's storage.  */
static pid_t start_tls_registry(const char *dir, int port)
{
    cleanup_free char *config = xasprintf(
        "version: 0.1\nlog: {level: warn}\n"
        "storage: {filesystem: {rootdirectory: %s/registry/data}}\n"
        "http: {addr: \"127.0.0.1:%d\", tls: {certificate: %s/reg.crt, key: %s/reg.key}}\n",
        getenv("CRIMP_BED"), port, dir, dir);
    return spawn_docker_registry(dir, config, port);
}

/* Resolves tls-mirror.invalid/crimp/busybox:1.35 through the hosts file
 * TEXT and fetches its manifest: 0, or -1 with *err.  */
static int pull_through(const char *dir, const char *domain, const char *text,
                        crimp_error_t *err)
{
    struct dist_ref ref = {0};
    struct dist_session *s = session_with_hosts(dir, domain, "crimp/busybox:1.35", text, &ref, err);
    struct dist_descriptor d = {0};
    cleanup_free char *body = NULL, *mt = NULL;
    size_t len = 0;
    int rc = s != NULL ? dist_resolve(s, &d, err) : -1;
    if (rc == 0)
        rc = dist_fetch_manifest(s, d.digest, &body, &len, &mt, err);
    dist_descriptor_clear(&d);
    dist_session_free(s);
    dist_ref_clear(&ref);
    return rc;
}

static int tls_checks(const char *dir, int port)
{
    cleanup_error crimp_error_t err = NULL;
    cleanup_free char *with_ca = xasprintf(
        "server = \"https://tls-mirror.invalid\"\n[host.\"https://127.0.0.1:%d\"]\n"
        "capabilities = [\"pull\", \"resolve\"]\nca = \"../ca.crt\"\n",
        port);
    CHECK_OK(pull_through(dir, "a.tls-mirror.invalid", with_ca, &err));
    cleanup_free char *no_ca =
        xasprintf("server = \"https://tls-mirror.invalid\"\n[host.\"https://127.0.0.1:%d\"]\n",
                  port);
    CHECK(pull_through(dir, "b.tls-mirror.invalid", no_ca, &err) < 0);
    if (err->code != GRPC_STATUS_UNAVAILABLE || strstr(err->msg, "certificate") == NULL) {
        fprintf(stderr, "without the CA: got %s \"%s\"\n", crimp_status_name(err->code),
                err->msg);
        return -1;
    }
    crimp_error_release(&err);
    cleanup_free char *skip = xasprintf(
        "server = \"https://tls-mirror.invalid\"\n[host.\"https://127.0.0.1:%d\"]\n"
        "skip_verify = true\n",
        port);
    CHECK_OK(pull_through(dir, "c.tls-mirror.invalid", skip, &err));
    return 0;
}

static int test_bed_tls_mirror(void)
{
    if (getenv("CRIMP_BED") == NULL)
        return 77;
    char dir[] = "/tmp/crimp-hosts-tls.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int port = free_port();
    int rc = make_certs(dir);
    pid_t pid = rc == 0 && port > 0 ? start_tls_registry(dir, port) : -1;
    rc = pid > 0 ? tls_checks(dir, port) : -1;
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    cleanup_free char *rm = xasprintf("rm -rf %s", dir);
    return rc == 0 ? run(rm) : rc;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_full_file),   UNIT_TEST(test_defaults),      UNIT_TEST(test_errors),
        UNIT_TEST(test_load_layout), UNIT_TEST(test_fake_fallback), UNIT_TEST(test_bed_tls_mirror),
    };
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
