/* The CRI socket from systemd's socket activation (LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES), served without libsystemd.  Debian's grpc core (1.51)
 * cannot listen on a socket it did not bind; it takes connected sockets
 * (grpc_server_add_channel_from_fd), so crimp accepts on the passed socket
 * itself, on a thread of its own, and hands each connection over.  */
#ifndef CRIMP_SD_LISTEN_H
#define CRIMP_SD_LISTEN_H

#include <grpc/grpc.h>

#include "error.h"

/* The listening socket systemd passed for the CRI (LISTEN_PID is this
 * process, LISTEN_FDS > 0): the one named "cri" in LISTEN_FDNAMES, else
 * the only one, else the unix socket bound to PATH.  Returns its fd; -1
 * when systemd passed none (bind PATH as usual); -2 with ERR set when
 * sockets were passed but none fits, or the one chosen is not a listening
 * unix stream socket.  Every passed fd is made close-on-exec, so that CNI
 * plugins and other children never inherit them.  */
int crimp_sd_listen_fd(const char *path, crimp_error_t *err);

struct crimp_sd_acceptor;

/* Accepts connections on FD and adds each to SERVER (which must have been
 * started).  FD stays systemd's: it is never closed or unlinked here.  */
struct crimp_sd_acceptor *crimp_sd_acceptor_start(int fd, grpc_server *server,
                                                  crimp_error_t *err);

/* Stops accepting (connections already handed over stay with gRPC) and
 * frees A; NULL is fine.  Call before shutting the server down.  */
void crimp_sd_acceptor_stop(struct crimp_sd_acceptor *a);

#endif
