/* crimp_error_t: construction, wrapping and the errno → gRPC code table.  */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils.h"

static int make_error_v(crimp_error_t *err, grpc_status_code code, int errno_, const char *fmt,
                        va_list ap) __attribute__((format(printf, 4, 0)));

static int make_error_v(crimp_error_t *err, grpc_status_code code, int errno_, const char *fmt,
                        va_list ap)
{
    cleanup_free char *text = xvasprintf(fmt, ap);
    crimp_error_t e = xmalloc(sizeof(*e));

    e->code = code;
    e->errno_ = errno_;
    if (errno_ != 0) {
        char buf[256];
        /* GNU strerror_r returns the message, which may not be BUF.  */
        const char *s = strerror_r(errno_, buf, sizeof(buf));
        e->msg = xasprintf("%s: %s", text, s);
    } else {
        e->msg = steal_ptr(&text);
    }
    crimp_error_release(err);
    *err = e;
    return -1;
}

int crimp_make_error(crimp_error_t *err, grpc_status_code code, int errno_, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int ret = make_error_v(err, code, errno_, fmt, ap);
    va_end(ap);
    return ret;
}

int crimp_make_errno_error(crimp_error_t *err, int errno_, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int ret = make_error_v(err, crimp_status_from_errno(errno_), errno_, fmt, ap);
    va_end(ap);
    return ret;
}

int crimp_error_wrap(crimp_error_t *err, const char *fmt, ...)
{
    if (err == NULL || *err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *ctx = xvasprintf(fmt, ap);
    va_end(ap);
    char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
    free((*err)->msg);
    (*err)->msg = msg;
    return -1;
}

void crimp_error_release(crimp_error_t *err)
{
    if (err == NULL || *err == NULL)
        return;
    free((*err)->msg);
    free(*err);
    *err = NULL;
}

grpc_status_code crimp_status_from_http(long status)
{
    switch (status) {
    case 400:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case 401:
        return GRPC_STATUS_UNAUTHENTICATED;
    case 403:
        return GRPC_STATUS_PERMISSION_DENIED;
    case 404:
        return GRPC_STATUS_NOT_FOUND;
    case 408:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case 409:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case 429:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case 501:
        return GRPC_STATUS_UNIMPLEMENTED;
    case 502:
    case 503:
    case 504:
        return GRPC_STATUS_UNAVAILABLE;
    default:
        return status >= 500 && status <= 599 ? GRPC_STATUS_INTERNAL : GRPC_STATUS_UNKNOWN;
    }
}

grpc_status_code crimp_status_from_errno(int errno_)
{
    switch (errno_) {
    case 0:
        return GRPC_STATUS_OK;
    case ENOENT:
    case ESRCH:
        return GRPC_STATUS_NOT_FOUND;
    case EEXIST:
        return GRPC_STATUS_ALREADY_EXISTS;
    case EINVAL:
    case ENAMETOOLONG:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case EPERM:
    case EACCES:
        return GRPC_STATUS_PERMISSION_DENIED;
    case ETIMEDOUT:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case ECONNREFUSED:
    case ECONNRESET:
    case EAGAIN:
    case ENOTCONN:
    case EPIPE:
        return GRPC_STATUS_UNAVAILABLE;
    case ENOTSUP:
    case ENOSYS:
        return GRPC_STATUS_UNIMPLEMENTED;
    case ECANCELED:
        return GRPC_STATUS_CANCELLED;
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

const char *crimp_status_name(grpc_status_code code)
{
    static const char *const names[] = {
        "OK",           "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND",     "ALREADY_EXISTS",   "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",  "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",      "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if ((unsigned)code < sizeof(names) / sizeof(names[0]))
        return names[code];
    return "UNKNOWN";
}
