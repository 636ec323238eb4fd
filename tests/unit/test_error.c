/* Unit tests for common/error.c: construction, wrapping and the errno →
 * gRPC code table that decides what kubelet sees.  */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "unit.h"

static int test_make_error_appends_strerror(void)
{
    crimp_error_t err = NULL;
    int ret = crimp_make_errno_error(&err, ENOENT, "open `%s`", "/x");
    CHECK(ret < 0);
    CHECK(err->code == GRPC_STATUS_NOT_FOUND);
    CHECK(err->errno_ == ENOENT);
    CHECK(strcmp(err->msg, "open `/x`: No such file or directory") == 0);
    crimp_error_release(&err);
    CHECK(err == NULL);
    return 0;
}

static int test_wrap_keeps_code(void)
{
    crimp_error_t err = NULL;
    crimp_make_error(&err, GRPC_STATUS_UNAVAILABLE, 0, "connect");
    crimp_error_wrap(&err, "backend %s", "docker");
    CHECK(err->code == GRPC_STATUS_UNAVAILABLE);
    CHECK(strcmp(err->msg, "backend docker: connect") == 0);
    crimp_error_release(&err);
    return 0;
}

static int test_make_error_replaces_previous(void)
{
    crimp_error_t err = NULL;
    crimp_make_error(&err, GRPC_STATUS_INTERNAL, 0, "first");
    crimp_make_error(&err, GRPC_STATUS_NOT_FOUND, 0, "second");
    CHECK(strcmp(err->msg, "second") == 0);
    crimp_error_release(&err);
    return 0;
}

static int test_errno_table(void)
{
    static const struct {
        int e;
        grpc_status_code code;
    } rows[] = {
        {ENOENT, GRPC_STATUS_NOT_FOUND},          {EEXIST, GRPC_STATUS_ALREADY_EXISTS},
        {EINVAL, GRPC_STATUS_INVALID_ARGUMENT},   {EACCES, GRPC_STATUS_PERMISSION_DENIED},
        {EPERM, GRPC_STATUS_PERMISSION_DENIED},   {ETIMEDOUT, GRPC_STATUS_DEADLINE_EXCEEDED},
        {ECONNREFUSED, GRPC_STATUS_UNAVAILABLE},  {EAGAIN, GRPC_STATUS_UNAVAILABLE},
        {ENOSYS, GRPC_STATUS_UNIMPLEMENTED},      {ENOTSUP, GRPC_STATUS_UNIMPLEMENTED},
        {ECANCELED, GRPC_STATUS_CANCELLED},       {EIO, GRPC_STATUS_INTERNAL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK(crimp_status_from_errno(rows[i].e) == rows[i].code);
    return 0;
}

static int test_http_table(void)
{
    static const struct {
        long status;
        grpc_status_code code;
    } rows[] = {
        {400, GRPC_STATUS_INVALID_ARGUMENT},    {401, GRPC_STATUS_UNAUTHENTICATED},
        {403, GRPC_STATUS_PERMISSION_DENIED},   {404, GRPC_STATUS_NOT_FOUND},
        {408, GRPC_STATUS_DEADLINE_EXCEEDED},   {409, GRPC_STATUS_FAILED_PRECONDITION},
        {429, GRPC_STATUS_RESOURCE_EXHAUSTED},  {500, GRPC_STATUS_INTERNAL},
        {501, GRPC_STATUS_UNIMPLEMENTED},       {502, GRPC_STATUS_UNAVAILABLE},
        {503, GRPC_STATUS_UNAVAILABLE},         {504, GRPC_STATUS_UNAVAILABLE},
        {507, GRPC_STATUS_INTERNAL},            {418, GRPC_STATUS_UNKNOWN},
        {302, GRPC_STATUS_UNKNOWN},             {0, GRPC_STATUS_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK(crimp_status_from_http(rows[i].status) == rows[i].code);
    return 0;
}

static int test_status_names(void)
{
    CHECK(strcmp(crimp_status_name(GRPC_STATUS_NOT_FOUND), "NOT_FOUND") == 0);
    CHECK(strcmp(crimp_status_name(GRPC_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED") == 0);
    CHECK(strcmp(crimp_status_name((grpc_status_code)99), "UNKNOWN") == 0);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_make_error_appends_strerror),
        UNIT_TEST(test_wrap_keeps_code),
        UNIT_TEST(test_make_error_replaces_previous),
        UNIT_TEST(test_errno_table),
        UNIT_TEST(test_http_table),
        UNIT_TEST(test_status_names),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
