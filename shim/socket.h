/* The CRI socket file: made ready before gRPC binds it and removed after.  */
#ifndef CRIMP_SOCKET_H
#define CRIMP_SOCKET_H

#include <sys/types.h>

#include "error.h"

/* Makes PATH bindable: creates its directory, removes a stale socket left by
 * a crimpd that died, and refuses (FAILED_PRECONDITION) when a server still
 * answers on it or PATH is not a socket.  */
int crimp_socket_prepare(const char *path, crimp_error_t *err);

/* Applies MODE to the bound socket and records its identity (DEV, INO).  */
int crimp_socket_finish(const char *path, unsigned mode, dev_t *dev, ino_t *ino,
                        crimp_error_t *err);

/* Removes PATH if it is still the socket identified by DEV/INO: another
 * crimpd may have replaced it in the meantime.  */
void crimp_socket_remove(const char *path, dev_t dev, ino_t ino);

#endif
