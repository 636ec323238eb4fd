/* Unit tests for the Docker API client (backends/docker/client.c) against a
 * small HTTP server on a unix socket that records every request path: API
 * version negotiation on one thread while another makes ordinary calls
 * must never send an ordinary call without its /v1.41 prefix.  */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "docker/client.h"
#include "unit.h"
#include "utils.h"

#define ROUNDS 300

struct server {
    int fd;
    atomic_int unprefixed_calls; /* ordinary paths sent without the prefix */
    atomic_int versions, calls;
};

#define BODY "{\"ApiVersion\":\"1.41\",\"Version\":\"x\"}\n"
static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: 36\r\n\r\n" BODY;
_Static_assert(sizeof(BODY) - 1 == 36, "Content-Length matches the body");

struct conn {
    struct server *s;
    int fd;
};

/* One keep-alive connection: GET requests (no body) answered in turn.  */
static void *serve_conn(void *arg)
{
    struct conn *c = arg;
    char buf[8192];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(c->fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        char *end;
        while ((end = strstr(buf, "\r\n\r\n")) != NULL) {
            char path[256] = "";
            sscanf(buf, "GET %255s", path);
            if (strcmp(path, "/version") == 0)
                atomic_fetch_add(&c->s->versions, 1);
            else if (strncmp(path, "/v1.41/", 7) == 0)
                atomic_fetch_add(&c->s->calls, 1);
            else
                atomic_fetch_add(&c->s->unprefixed_calls, 1);
            if (write(c->fd, reply, sizeof(reply) - 1) < 0)
                goto out;
            size_t used = (size_t)(end + 4 - buf);
            memmove(buf, buf + used, len - used + 1);
            len -= used;
        }
    }
out:
    close(c->fd);
    free(c);
    return NULL;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    int fd;
    while ((fd = accept(s->fd, NULL, NULL)) >= 0) {
        struct conn *c = xmalloc(sizeof(*c));
        *c = (struct conn){s, fd};
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, c);
        pthread_detach(t);
    }
    return NULL;
}

static void *negotiate_loop(void *arg)
{
    struct docker_client *c = arg;
    for (int i = 0; i < ROUNDS; i++) {
        crimp_error_t err = NULL;
        char *v = NULL;
        if (docker_client_negotiate(c, &v, &err) < 0)
            crimp_error_release(&err);
        free(v);
    }
    return NULL;
}

static int test_negotiation_never_unprefixes_other_calls(void)
{
    char dir[] = "/tmp/crimp-dc-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    cleanup_free char *path = xasprintf("%s/docker.sock", dir);
    struct server s = {.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    CHECK(bind(s.fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s.fd, 64) == 0);
    pthread_t server;
    pthread_create(&server, NULL, serve, &s);

    struct docker_client *c = docker_client_new(path);
    pthread_t negotiator;
    pthread_create(&negotiator, NULL, negotiate_loop, c);
    for (int i = 0; i < ROUNDS; i++) {
        json_t *out = NULL;
        crimp_error_t err = NULL;
        CHECK_OK(docker_get_json(c, "/containers/json", NULL, NULL, &out, &err));
        json_decref(out);
    }
    pthread_join(negotiator, NULL);
    docker_client_free(c);
    shutdown(s.fd, SHUT_RDWR);
    close(s.fd);
    pthread_join(server, NULL);
    unlink(path);
    rmdir(dir);
    CHECK(atomic_load(&s.versions) == ROUNDS);
    CHECK(atomic_load(&s.calls) == ROUNDS);
    CHECK(atomic_load(&s.unprefixed_calls) == 0);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_negotiation_never_unprefixes_other_calls),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
