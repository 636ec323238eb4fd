/* Opening files crimp reads or writes for a container without letting the
 * container (or its image) choose another file: a symlink out of the
 * container's root, a magic link, a FIFO that would block the reader
 * forever, a device.  */
#ifndef CRIMP_SAFE_OPEN_H
#define CRIMP_SAFE_OPEN_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Opens REL (relative; a leading '/' is ignored) below the directory ROOT
 * for reading, as a process chrooted at ROOT would: REL and every symlink
 * met on the way resolve inside ROOT (an absolute target or ".." stops at
 * ROOT), magic links (/proc/<pid>/fd/…) are refused, the open never blocks
 * (O_NONBLOCK) and only a regular file is accepted.  Uses openat2(2)
 * RESOLVE_IN_ROOT; on a kernel without it (before 5.6), falls back to a
 * walk that refuses every symlink.  Returns the fd (O_CLOEXEC), or < 0
 * with *err: NOT_FOUND when absent, FAILED_PRECONDITION for what is not a
 * regular file, the errno's code otherwise.  */
int crimp_open_in_root(const char *root, const char *rel, crimp_error_t *err);

/* The text of ROOT/REL opened as above, at most MAX bytes, NUL-terminated
 * (caller frees); NULL with *err.  */
char *crimp_read_in_root(const char *root, const char *rel, size_t max, crimp_error_t *err);

/* Opens PATH itself without following a symlink in its last component and
 * without blocking, and checks it is a regular file (FAILED_PRECONDITION
 * otherwise): for crimp's own files in directories a container may write
 * to (CRI log files).  FLAGS are open(2)'s (O_CLOEXEC and O_NOFOLLOW are
 * added; O_NONBLOCK is cleared again once the file is known regular).  */
int crimp_open_regular(const char *path, int flags, unsigned mode, crimp_error_t *err);

/* Whether openat2(2) is used (false: the fallback walk).  */
bool crimp_have_openat2(void);

/* Makes crimp_open_in_root use the fallback walk (true) or probe again
 * (false): for tests of the fallback on kernels that have openat2.  */
void crimp_safe_open_force_fallback(bool on);

#endif
