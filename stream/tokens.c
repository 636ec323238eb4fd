/* Single-use, expiring tokens that stand for a CRI streaming request, as
 * kubelet's streaming library keeps them: 8 characters of URL-safe base64
 * from 6 random bytes, a minute to live, at most 1000 waiting.  */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "stream-internal.h"
#include "utils.h"

#define TOKENS_MAX 1000
#define TOKEN_TTL_NS (60LL * 1000000000LL)

struct token {
    struct token *next;
    char id[9];
    struct stream_request *req;
};

struct stream_tokens {
    pthread_mutex_t lock;
    struct token *head;
    size_t n;
    bool closed; /* stream_tokens_close: no more takes */
};

void stream_request_free(struct stream_request *r)
{
    if (r == NULL)
        return;
    if (r->req)
        protobuf_c_message_free_unpacked(r->req, NULL);
    free(r);
}

struct stream_tokens *stream_tokens_new(void)
{
    struct stream_tokens *t = xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void stream_tokens_free(struct stream_tokens *t)
{
    if (t == NULL)
        return;
    while (t->head) {
        struct token *k = t->head;
        t->head = k->next;
        stream_request_free(k->req);
        free(k);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* Drops expired tokens (lock held).  */
static void expire(struct stream_tokens *t, int64_t now)
{
    for (struct token **p = &t->head; *p;) {
        if ((*p)->req->expires_mono_ns < now) {
            struct token *k = *p;
            *p = k->next;
            stream_request_free(k->req);
            free(k);
            t->n--;
        } else {
            p = &(*p)->next;
        }
    }
}

static bool in_use(struct stream_tokens *t, const char *id)
{
    for (struct token *k = t->head; k; k = k->next)
        if (strcmp(k->id, id) == 0)
            return true;
    return false;
}

char *stream_tokens_add(struct stream_tokens *t, struct stream_request *r, crimp_error_t *err)
{
    int64_t now = crimp_now_mono_ns();
    r->expires_mono_ns = now + TOKEN_TTL_NS;
    pthread_mutex_lock(&t->lock);
    expire(t, now);
    if (t->n >= TOKENS_MAX) {
        pthread_mutex_unlock(&t->lock);
        stream_request_free(r);
        crimp_make_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, 0,
                         "maximum number of in-flight requests exceeded");
        return NULL;
    }
    struct token *k = xcalloc(1, sizeof(*k));
    int rc;
    do
        rc = crimp_random_b64url(k->id, sizeof(k->id) - 1, err);
    while (rc == 0 && in_use(t, k->id));
    if (rc < 0) {
        pthread_mutex_unlock(&t->lock);
        stream_request_free(r);
        free(k);
        return NULL;
    }
    k->req = r;
    k->next = t->head;
    t->head = k;
    t->n++;
    char *id = xstrdup(k->id);
    pthread_mutex_unlock(&t->lock);
    return id;
}

struct stream_request *stream_tokens_take(struct stream_tokens *t, const char *token,
                                          enum crimp_stream_kind kind)
{
    struct stream_request *r = NULL;
    pthread_mutex_lock(&t->lock);
    for (struct token **p = t->closed ? NULL : &t->head; p && *p; p = &(*p)->next) {
        if (strcmp((*p)->id, token) != 0)
            continue;
        struct token *k = *p;
        *p = k->next;
        t->n--;
        r = k->req;
        free(k);
        break;
    }
    if (r && (r->kind != kind || r->expires_mono_ns < crimp_now_mono_ns())) {
        stream_request_free(r);
        r = NULL;
    }
    /* Held under the lock: once stream_tokens_close returned, no new
     * session can hold a backend the router is about to close.  */
    if (r)
        crimp_backend_hold(r->backend);
    pthread_mutex_unlock(&t->lock);
    return r;
}

void stream_tokens_close(struct stream_tokens *t)
{
    pthread_mutex_lock(&t->lock);
    t->closed = true;
    pthread_mutex_unlock(&t->lock);
}
