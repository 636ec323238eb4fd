/* systemd's readiness and watchdog notifications, spoken by hand (no
 * libsystemd).  Outside systemd they do nothing.  Socket activation is
 * sd_listen.h.  */
#ifndef CRIMP_SD_NOTIFY_H
#define CRIMP_SD_NOTIFY_H

#include <stdint.h>

#include "error.h"

/* Sends STATE ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=…", several
 * separated by newlines) to $NOTIFY_SOCKET as one datagram.  0 when sent
 * or when there is no $NOTIFY_SOCKET (not under systemd); -1 with ERR set
 * when the socket is named but the datagram could not go.  */
int crimp_sd_notify(const char *state, crimp_error_t *err);

/* How often to send WATCHDOG=1, in microseconds: half of $WATCHDOG_USEC
 * when it is set for this process ($WATCHDOG_PID, when set, is ours);
 * 0 when no watchdog is asked for.  */
int64_t crimp_sd_watchdog_interval_us(void);

#endif
