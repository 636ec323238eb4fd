/* Unit tests for stream/admission.c: connections waiting for their head
 * are capped apart from sessions, and a newcomer cuts off the one waiting
 * longest (its socket sees EOF); sessions have their own cap.  */
#include <sys/socket.h>
#include <unistd.h>

#include "stream-internal.h"
#include "unit.h"

/* True when FD was shut down: a read returns EOF at once.  */
static bool cut_off(int fd)
{
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static int test_oldest_waiting_is_cut_off(void)
{
    struct stream_admission a;
    admission_init(&a, 2, 4);
    int p[3][2];
    for (int i = 0; i < 3; i++)
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p[i]) == 0);
    int s0 = admission_wait_begin(&a, p[0][0]);
    int s1 = admission_wait_begin(&a, p[1][0]);
    CHECK(!cut_off(p[0][0]) && !cut_off(p[1][0]));
    int s2 = admission_wait_begin(&a, p[2][0]); /* full: the first goes */
    CHECK(cut_off(p[0][0]) && !cut_off(p[1][0]) && !cut_off(p[2][0]));
    CHECK(s2 == s0);
    /* The one cut off leaving later frees nothing that is not its own.  */
    admission_wait_end(&a, s0, p[0][0]);
    CHECK(a.pending[s2].fd == p[2][0]);
    admission_wait_end(&a, s1, p[1][0]);
    admission_wait_end(&a, s2, p[2][0]);
    CHECK(a.pending[0].fd < 0 && a.pending[1].fd < 0);
    for (int i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
    admission_free(&a);
    return 0;
}

static int test_sessions_are_capped(void)
{
    struct stream_admission a;
    admission_init(&a, 1, 2);
    CHECK(admission_session_begin(&a, 10) && admission_session_begin(&a, 11));
    CHECK(!admission_session_begin(&a, 12));
    admission_session_end(&a, 10);
    CHECK(admission_session_begin(&a, 12));
    admission_session_end(&a, 99); /* not a session: nothing changes */
    CHECK(!admission_session_begin(&a, 13));
    admission_free(&a);
    return 0;
}

/* At shutdown every live connection is shut down, and only those.  */
static int test_cut_all_ends_live_connections(void)
{
    int pend[2], live[2], done[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pend) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, live) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, done) == 0);
    struct stream_admission a;
    admission_init(&a, 2, 2);
    admission_wait_begin(&a, pend[0]);
    CHECK(admission_session_begin(&a, live[0]) && admission_session_begin(&a, done[0]));
    admission_session_end(&a, done[0]);
    CHECK(admission_cut_all(&a) == 1);
    char c;
    CHECK(read(pend[0], &c, 1) == 0 && read(live[0], &c, 1) == 0); /* EOF: cut */
    CHECK(write(done[1], "x", 1) == 1 && read(done[0], &c, 1) == 1); /* left alone */
    admission_free(&a);
    for (int i = 0; i < 2; i++) {
        close(pend[i]);
        close(live[i]);
        close(done[i]);
    }
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_oldest_waiting_is_cut_off),
        UNIT_TEST(test_sessions_are_capped),
        UNIT_TEST(test_cut_all_ends_live_connections),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
