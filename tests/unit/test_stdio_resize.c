/* Unit tests for stream/stdio.c's resize parser: objects split across and
 * packed into reads are applied once each; bad JSON and out-of-range sizes
 * are dropped; a line over STDIO_RESIZE_MAX is refused before anything is
 * copied (the 4096-byte message that used to overflow the buffer).  */
#include <string.h>

#include "stream-internal.h"
#include "unit.h"
#include "utils.h"

static unsigned last_w, last_h, n_resizes;

static int fake_resize(struct crimp_backend *self, const struct crimp_stream_io *io, unsigned w,
                       unsigned h, crimp_error_t *err)
{
    (void)self, (void)io, (void)err;
    last_w = w, last_h = h;
    n_resizes++;
    return 0;
}

static const struct crimp_stream_ops fake_stream = {.resize = fake_resize};
static const struct crimp_backend_ops fake_ops = {.type = "fake", .stream = &fake_stream};
static struct crimp_backend fake = {.ops = &fake_ops};
static struct stream_request req = {.kind = CRIMP_STREAM_EXEC, .backend = &fake};
static struct crimp_stream_io io = {.fd = -1};

static int feed(struct stdio_resize *r, const char *text, crimp_error_t *err)
{
    return stdio_resize_feed(r, (const uint8_t *)text, strlen(text), &req, &io, err);
}

static int test_split_and_packed(void)
{
    struct stdio_resize r = {0};
    crimp_error_t err = NULL;
    n_resizes = 0;
    CHECK_OK(feed(&r, "{\"Width\":8", &err));
    CHECK(n_resizes == 0);
    CHECK_OK(feed(&r, "0,\"Height\":24}\n{\"width\":1,\"height\":2}\n{\"Wid", &err));
    CHECK(n_resizes == 2 && last_w == 1 && last_h == 2);
    CHECK_OK(feed(&r, "th\":300,\"Height\":100}\n", &err));
    CHECK(n_resizes == 3 && last_w == 300 && last_h == 100 && r.len == 0);
    return 0;
}

static int test_bad_objects_are_dropped(void)
{
    struct stdio_resize r = {0};
    crimp_error_t err = NULL;
    n_resizes = 0;
    CHECK_OK(
        feed(&r, "not json\n{\"Width\":-1,\"Height\":5}\n{\"Width\":70000,\"Height\":5}\n", &err));
    CHECK_OK(feed(&r, "{\"Width\":\"80\",\"Height\":24}\n\n{\"Width\":0,\"Height\":0}\n", &err));
    CHECK(n_resizes == 0);
    /* Without a process yet nothing is resized, but the input is checked.  */
    static const char ok[] = "{\"Width\":5,\"Height\":5}\n";
    CHECK_OK(stdio_resize_feed(&r, (const uint8_t *)ok, sizeof(ok) - 1, &req, NULL, &err));
    CHECK(n_resizes == 0);
    return 0;
}

static int test_over_the_limit_is_refused(void)
{
    struct stdio_resize r = {0};
    crimp_error_t err = NULL;
    char big[4097];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(feed(&r, big, &err) < 0 && err && strstr(err->msg, "longer than 512"));
    crimp_error_release(&err);
    CHECK(r.len == 0);
    /* Exactly the limit fits; one byte more across two reads does not.  */
    memset(big, ' ', STDIO_RESIZE_MAX);
    big[STDIO_RESIZE_MAX] = '\0';
    CHECK_OK(feed(&r, big, &err));
    CHECK(r.len == STDIO_RESIZE_MAX);
    CHECK(feed(&r, "x", &err) < 0);
    crimp_error_release(&err);
    CHECK(r.len == 0);
    /* The newline itself needs no room: a full line still completes.  */
    n_resizes = 0;
    char line[STDIO_RESIZE_MAX + 2];
    const char *obj = "{\"Width\":9,\"Height\":9}";
    memset(line, ' ', STDIO_RESIZE_MAX);
    memcpy(line, obj, strlen(obj));
    line[STDIO_RESIZE_MAX] = '\n';
    line[STDIO_RESIZE_MAX + 1] = '\0';
    CHECK_OK(feed(&r, line, &err));
    CHECK(n_resizes == 1 && last_w == 9);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_split_and_packed),
        UNIT_TEST(test_bad_objects_are_dropped),
        UNIT_TEST(test_over_the_limit_is_refused),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
