/* Unit tests for the readers of Docker's JSON (backends/docker), for the
 * inputs their fuzz target (tests/fuzz/fuzz_docker_json.c) showed they
 * mishandled: a crimp label whose metadata is not an object, an inspect
 * without "Id", times past what Unix nanoseconds in an int64 hold, and an
 * /events line without end.  */
#include <string.h>

#include "docker/docker-internal.h"
#include "docker/labels.h"
#include "pbutil.h"
#include "unit.h"
#include "utils.h"

/* The label's JSON parsed but without an object "metadata": an error, and
 * nothing kept (the parsed document used to leak).  */
static int test_meta_without_metadata_object(void)
{
    static const char *const texts[] = {"[]", "{\"metadata\":3}", "{}", "not json"};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(texts); i++) {
        json_auto_t *labels = json_pack("{s:s, s:s}", DOCKER_LABEL_CRI, texts[i],
                                        DOCKER_LABEL_TYPE, DOCKER_TYPE_CONTAINER);
        struct docker_cri_meta meta;
        crimp_error_t err = NULL;
        CHECK(docker_cri_meta_read(labels, NULL, &meta, &err) < 0);
        CHECK(err != NULL && meta.doc == NULL);
        crimp_error_release(&err);
    }
    return 0;
}

static int meta_of(struct docker_cri_meta *meta)
{
    json_auto_t *labels =
        json_pack("{s:s, s:s}", DOCKER_LABEL_CRI,
                  "{\"metadata\":{\"name\":\"web\",\"uid\":\"u\",\"namespace\":\"n\"},"
                  "\"labels\":{},\"annotations\":{}}",
                  DOCKER_LABEL_TYPE, DOCKER_TYPE_CONTAINER);
    crimp_error_t err = NULL;
    CHECK_OK(docker_cri_meta_read(labels, NULL, meta, &err));
    return 0;
}

/* An inspect without "Id" (dockerd is a peer) gives statuses with an empty
 * ID instead of a NULL dereference.  */
static int test_status_without_id(void)
{
    struct docker_cri_meta meta;
    CHECK(meta_of(&meta) == 0);
    json_auto_t *inspect = json_pack("{s:{s:b}}", "State", "Running", 1);
    Runtime__V1__ContainerStatusResponse cr = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
    docker_container_status_of(inspect, &meta, true, &cr);
    CHECK(cr.status && strcmp(cr.status->id, "") == 0);
    CHECK(cr.status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
    crimp_pb_free_fields(&cr.base);
    Runtime__V1__PodSandboxStatusResponse sr = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
    docker_sandbox_status_of(inspect, &meta, NULL, &sr);
    CHECK(sr.status && strcmp(sr.status->id, "") == 0);
    crimp_pb_free_fields(&sr.base);
    docker_cri_meta_free(&meta);
    return 0;
}

/* Times: offsets honoured; years an int64 of ns cannot hold and garbled
 * offsets give 0 or the UTC time instead of signed overflow.  */
static int test_parse_time_bounds(void)
{
    CHECK(docker_parse_time("1970-01-01T00:00:01.5Z") == 1500000000LL);
    CHECK(docker_parse_time("1970-01-01T01:00:01+01:00") == 1000000000LL);
    CHECK(docker_parse_time("1970-01-01T00:00:01-00:30") == 1801000000000LL);
    CHECK(docker_parse_time("0001-01-01T00:00:00Z") == 0);
    CHECK(docker_parse_time("99999999-01-01T00:00:00Z") == 0);
    CHECK(docker_parse_time("2263-01-01T00:00:00Z") == 0);
    CHECK(docker_parse_time("1970-01-01T00:00:01+99999999:00") == 1000000000LL);
    CHECK(docker_parse_time("1970-01-01T00:00:01-2147483647:2147483647") == 1000000000LL);
    /* A list entry's "Created" in seconds (fuzz_docker_json: 9765069300).  */
    CHECK(docker_seconds_to_ns(1765069323) == 1765069323000000000LL);
    CHECK(docker_seconds_to_ns(9765069300LL) == 0);
    CHECK(docker_seconds_to_ns(-9765069300LL) == 0);
    struct docker_cri_meta meta;
    CHECK(meta_of(&meta) == 0);
    json_auto_t *entry = json_pack("{s:I}", "Created", (json_int_t)9765069300LL);
    Runtime__V1__Container *c = docker_container_of_list_entry(entry, &meta);
    Runtime__V1__PodSandbox *p = docker_sandbox_of_list_entry(entry, &meta);
    CHECK(c->created_at == 0 && p->created_at == 0);
    protobuf_c_message_free_unpacked(&c->base, NULL);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    docker_cri_meta_free(&meta);
    return 0;
}

static bool count_line(void *ctx, char *line)
{
    size_t *n = ctx;
    (*n)++;
    return strcmp(line, "stop") != 0;
}

/* /events lines: split across feeds, several per feed; a line that never
 * ends stops the splitter at DOCKER_LINE_MAX instead of growing (and being
 * rescanned from its start at every feed: fuzz_docker_events ran at a
 * thousand inputs a second on a 64 KiB line fed byte by byte).  */
static int test_lines_split_and_bounded(void)
{
    struct docker_lines l = {0};
    size_t n = 0;
    CHECK(docker_lines_feed(&l, "{\"a\":", 5, count_line, &n) && n == 0);
    CHECK(docker_lines_feed(&l, "1}\n{}\n{", 7, count_line, &n) && n == 2);
    CHECK(l.len == 1 && strcmp(l.pending, "{") == 0);
    CHECK(!docker_lines_feed(&l, "}\nstop\nlater\n", 13, count_line, &n) && n == 4);
    docker_lines_release(&l);
    char *big = xmalloc(DOCKER_LINE_MAX / 4);
    memset(big, 'x', DOCKER_LINE_MAX / 4);
    bool go_on = true;
    size_t fed = 0;
    while (go_on && fed <= DOCKER_LINE_MAX) {
        go_on = docker_lines_feed(&l, big, DOCKER_LINE_MAX / 4, count_line, &n);
        fed += DOCKER_LINE_MAX / 4;
    }
    CHECK(!go_on && l.len <= DOCKER_LINE_MAX && n == 4);
    free(big);
    docker_lines_release(&l);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_meta_without_metadata_object),
        UNIT_TEST(test_status_without_id),
        UNIT_TEST(test_parse_time_bounds),
        UNIT_TEST(test_lines_split_and_bounded),
    };
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
