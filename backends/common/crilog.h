/* A container log file in the CRI format kubelet reads:
 *
 *     2026-11-23T03:40:00.123456789Z stdout F hello world
 *
 * one line per line of output; a line longer than CRILOG_MAX_LINE is cut
 * into pieces tagged P (partial) with the last tagged F (full).  The writer
 * appends to the file and can reopen it after kubelet rotated (renamed) it.  */
#ifndef CRIMP_CRILOG_H
#define CRIMP_CRILOG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CRILOG_MAX_LINE (16 * 1024)

enum crilog_stream { CRILOG_STDOUT = 0, CRILOG_STDERR = 1 };

struct crilog;

/* Checks a container's LOG_PATH against its pod's LOG_DIRECTORY the way
 * the CRI defines it: relative to the directory and inside it.
 * INVALID_ARGUMENT for an absolute path or a ".." component (either would
 * make crimp create and write a file anywhere as root); an empty LOG_PATH
 * (no log) passes.  */
int crilog_path_check(const char *log_directory, const char *log_path, crimp_error_t *err);

/* Opens (creating, appending) PATH and its directory; refuses (FAILED_PRECONDITION)
 * a PATH that is a symlink, a FIFO or anything but a regular file.  */
struct crilog *crilog_open(const char *path, crimp_error_t *err);

/* Appends LEN bytes of output of STREAM that arrived at TIME_NS (wall clock,
 * ns).  Bytes after the last newline wait for the rest of their line.  */
int crilog_write(struct crilog *l, enum crilog_stream stream, int64_t time_ns, const char *data,
                 size_t len, crimp_error_t *err);

/* Appends one complete line whose timestamp is already formatted (RFC 3339
 * with nanoseconds), as Docker's log endpoint gives it.  */
int crilog_write_line(struct crilog *l, enum crilog_stream stream, const char *timestamp,
                      const char *line, size_t len, crimp_error_t *err);

/* Closes the current file and opens PATH anew: after kubelet renamed the
 * old file, output goes to a fresh one at the same path.  */
int crilog_reopen(struct crilog *l, crimp_error_t *err);

/* Flushes pending partial lines (tagged F) and closes.  NULL-safe.  */
void crilog_close(struct crilog *l);

/* Formats TIME_NS as 2006-01-02T15:04:05.999999999Z into BUF (>= 40).  */
void crilog_format_time(int64_t time_ns, char *buf, size_t size);

#endif
