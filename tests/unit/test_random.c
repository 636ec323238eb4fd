/* Unit tests for crimp_random_bytes: full buffers normally, and an error
 * (not an endless loop) when getrandom fails, which a child process gets
 * from a seccomp filter that answers getrandom with an errno.  */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "unit.h"
#include "utils.h"

static int test_fills_the_buffer(void)
{
    uint8_t a[64] = {0}, b[64] = {0};
    crimp_error_t err = NULL;
    CHECK_OK(crimp_random_bytes(a, sizeof(a), &err));
    CHECK_OK(crimp_random_bytes(b, sizeof(b), &err));
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    char tok[33];
    CHECK_OK(crimp_random_b64url(tok, 32, &err));
    CHECK(strlen(tok) == 32);
    return 0;
}

/* In the child: every getrandom fails with ERRNO_.  */
static int deny_getrandom(int errno_)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (errno_ & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Child exit codes: 0 the error came back with ERRNO_, 2 no error, 3 a
 * wrong one, 4 no filter; killed by SIGALRM if it spun.  */
static int child_sees_error(int errno_)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        if (deny_getrandom(errno_) < 0)
            _exit(4);
        uint8_t buf[16];
        crimp_error_t err = NULL;
        if (crimp_random_bytes(buf, sizeof(buf), &err) == 0)
            _exit(2);
        _exit(err && err->errno_ == errno_ && strstr(err->msg, "getrandom") ? 0 : 3);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 4)
        return 77; /* no seccomp here */
    CHECK(WIFEXITED(status)); /* not killed by the alarm */
    CHECK(WEXITSTATUS(status) == 0);
    return 0;
}

static int test_lasting_failure_is_an_error(void)
{
    return child_sees_error(ENOSYS);
}

/* EINTR is worth a retry, but not forever.  */
static int test_retries_are_bounded(void)
{
    return child_sees_error(EINTR);
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_fills_the_buffer),
        UNIT_TEST(test_lasting_failure_is_an_error),
        UNIT_TEST(test_retries_are_bounded),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
