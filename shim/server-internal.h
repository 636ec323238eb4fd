/* The server's state, shared by server.c and call.c only.  */
#ifndef CRIMP_SERVER_INTERNAL_H
#define CRIMP_SERVER_INTERNAL_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "call.h"
#include "config.h"
#include "pool.h"
#include "recorder.h"
#include "stream.h"
#include "router.h"
#include "sd_listen.h"

struct crimp_server {
    const struct crimp_config *cfg;
    struct crimp_router *router;
    struct crimp_recorder *recorder;
    struct crimp_stream_server *stream; /* NULL when stream_listen is empty */
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t *pollers;
    int npollers;
    struct crimp_pool *fast, *slow;
    void **registered; /* one handle per crimp_methods[] entry */

    atomic_bool stopping;
    /* Answers parked calls whose deadline nears (crimp_call_expire_parked);
     * asleep on expirer_wake while no call is parked, so an idle crimpd
     * has no thread waking for nothing.  */
    pthread_t expirer;
    bool expirer_started;
    atomic_bool expirer_stop;
    pthread_mutex_t expirer_lock;
    pthread_cond_t expirer_wake;
    atomic_int unary_in_flight;
    atomic_int streams_in_flight;

    struct crimp_tag shutdown_tag;
    pthread_mutex_t shutdown_lock;
    pthread_cond_t shutdown_cond;
    bool shutdown_done;

    dev_t sock_dev; /* to remove only our own socket at exit */
    ino_t sock_ino;
    /* Socket activation: the CRI socket systemd passed (-1: none, crimp
     * binds its own) and the thread accepting on it.  */
    int activated_fd;
    struct crimp_sd_acceptor *acceptor;
};

/* Wakes the expirer: a call was just parked on SRV's backend queues.  */
void crimp_server_note_parked(struct crimp_server *srv);

#endif
