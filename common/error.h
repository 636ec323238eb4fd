/* crimp's one error type, carried from where a failure happens up to the
 * gRPC status kubelet sees.
 *
 * Contract (after crun): a function that can fail takes `crimp_error_t *err`
 * as its last argument.  On success it returns >= 0 (or a non-NULL pointer)
 * and leaves *err alone; on failure it returns a negative value (or NULL)
 * and sets *err to a new heap object.  The caller returns it, wraps it with
 * context, or releases it.  Only shim/ turns an error into a gRPC status.  */
#ifndef CRIMP_ERROR_H
#define CRIMP_ERROR_H

#include <grpc/status.h>

struct crimp_error_s {
    grpc_status_code code; /* what kubelet sees */
    int errno_;            /* 0 when the cause is not a system call */
    char *msg;             /* "context: cause", lowercase, no period */
};
typedef struct crimp_error_s *crimp_error_t;

/* Sets *err to a new error with CODE and a printf-style message; when ERRNO_
 * is not 0 ": strerror(errno_)" is appended.  Returns a negative number so
 * that callers write `return crimp_make_error (...)`.  If *err is already set
 * it is released first.  */
int crimp_make_error(crimp_error_t *err, grpc_status_code code, int errno_, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Like crimp_make_error, with the gRPC code derived from ERRNO_ by
 * crimp_status_from_errno.  */
int crimp_make_errno_error(crimp_error_t *err, int errno_, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes "context: " to the message of *err, keeping code and errno.
 * Returns a negative number.  */
int crimp_error_wrap(crimp_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Frees *err and sets it to NULL; NULL-safe.  */
void crimp_error_release(crimp_error_t *err);

/* The gRPC code for a system error number: ENOENT → NOT_FOUND, EEXIST →
 * ALREADY_EXISTS, EINVAL → INVALID_ARGUMENT, EPERM/EACCES →
 * PERMISSION_DENIED, ETIMEDOUT → DEADLINE_EXCEEDED, ECONNREFUSED/EAGAIN/
 * ENOTCONN → UNAVAILABLE, ENOTSUP/ENOSYS → UNIMPLEMENTED, ECANCELED →
 * CANCELLED, anything else INTERNAL.  */
grpc_status_code crimp_status_from_errno(int errno_);

/* The gRPC code for an HTTP error status from dockerd or a registry, the
 * one table every HTTP client in crimp uses: 400 → INVALID_ARGUMENT,
 * 401 → UNAUTHENTICATED, 403 → PERMISSION_DENIED, 404 → NOT_FOUND,
 * 408 → DEADLINE_EXCEEDED, 409 → FAILED_PRECONDITION (dockerd's "already
 * running", "name in use"; the caller retries or reports the state),
 * 429 → RESOURCE_EXHAUSTED, 501 → UNIMPLEMENTED, 502/503/504 → UNAVAILABLE
 * (transient: kubelet retries), any other 5xx → INTERNAL, else UNKNOWN.  */
grpc_status_code crimp_status_from_http(long status);

/* The canonical upper-case name of a gRPC code ("NOT_FOUND").  */
const char *crimp_status_name(grpc_status_code code);

#define cleanup_error __attribute__((cleanup(crimp_error_release)))

#endif
