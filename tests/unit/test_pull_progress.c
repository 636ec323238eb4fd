/* The pull progress table behind GET /v1/pulls: layers and bytes summed,
 * Docker's progress objects understood (Downloading with byte counts,
 * "Already exists" without any), a layer reported twice counted once, and
 * the layer cap.  */
#include "common/pull_progress.h"
#include "unit.h"
#include "utils.h"

static json_t *entry(const char *image)
{
    json_auto_t *doc = crimp_pull_progress_json();
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(doc, "pulls"), i, p)
        if (strcmp(json_string_value(json_object_get(p, "image")), image) == 0)
            return json_incref(p);
    return NULL;
}

static long long num(json_t *p, const char *key)
{
    return (long long)json_integer_value(json_object_get(p, key));
}

static int test_layers_and_bytes(void)
{
    struct crimp_pull_progress *p = crimp_pull_progress_begin("ctrd", "img-a");
    CHECK(p != NULL);
    crimp_pull_progress_layer(p, "sha256:aa", 1000, 0);
    crimp_pull_progress_layer(p, "sha256:bb", 500, 0);
    crimp_pull_progress_layer(p, "sha256:aa", 0, 400); /* total kept */
    json_auto_t *mid = entry("img-a");
    CHECK(mid != NULL);
    CHECK(num(mid, "layers_total") == 2 && num(mid, "layers_done") == 0);
    CHECK(num(mid, "bytes_total") == 1500 && num(mid, "bytes_done") == 400);
    CHECK(json_is_false(json_object_get(mid, "done")));
    crimp_pull_progress_layer_done(p, "sha256:aa");
    crimp_pull_progress_layer_done(p, "sha256:bb");
    crimp_pull_progress_end(p, true);
    json_auto_t *end = entry("img-a");
    CHECK(num(end, "layers_done") == 2 && num(end, "bytes_done") == 1500);
    CHECK(json_is_true(json_object_get(end, "done")) && json_is_true(json_object_get(end, "ok")));
    return 0;
}

static int test_docker_lines(void)
{
    struct crimp_pull_progress *p = crimp_pull_progress_begin("docker", "img-d");
    const char *lines[] = {
        "{\"status\":\"Pulling from crimp/busybox\",\"id\":\"1.35\"}",
        "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"l1\"}",
        "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"l0\"}",
        "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":100,\"total\":300},"
        "\"id\":\"l1\"}",
        "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":250,\"total\":300},"
        "\"id\":\"l1\"}",
        "[1, 2]", "{\"status\": 7, \"id\": []}", /* not progress: ignored */
    };
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(lines); i++) {
        json_auto_t *j = json_loads(lines[i], 0, NULL);
        crimp_pull_progress_docker_line(p, j);
    }
    json_auto_t *mid = entry("img-d");
    /* "1.35" (the tag's status line) has no layer status: not a layer.  */
    CHECK(num(mid, "layers_total") == 2);
    CHECK(num(mid, "layers_done") == 1); /* l0 exists already */
    CHECK(num(mid, "bytes_total") == 300 && num(mid, "bytes_done") == 250);
    json_auto_t *done = json_loads("{\"status\":\"Pull complete\",\"id\":\"l1\"}", 0, NULL);
    crimp_pull_progress_docker_line(p, done);
    crimp_pull_progress_end(p, true);
    json_auto_t *end = entry("img-d");
    CHECK(num(end, "layers_done") == 2 && num(end, "bytes_done") == 300);
    return 0;
}

static int test_layer_cap(void)
{
    struct crimp_pull_progress *p = crimp_pull_progress_begin("ctrd", "img-many");
    for (int i = 0; i < CRIMP_PULL_LAYERS_MAX + 10; i++) {
        char id[32];
        snprintf(id, sizeof(id), "sha256:%d", i);
        crimp_pull_progress_layer(p, id, 10, 10);
    }
    crimp_pull_progress_end(p, false);
    json_auto_t *e = entry("img-many");
    CHECK(num(e, "layers_total") == CRIMP_PULL_LAYERS_MAX);
    CHECK(json_is_false(json_object_get(e, "ok")));
    /* NULL progress (a full table) is a no-op everywhere.  */
    crimp_pull_progress_layer(NULL, "x", 1, 1);
    crimp_pull_progress_layer_done(NULL, "x");
    crimp_pull_progress_end(NULL, true);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_layers_and_bytes),
        UNIT_TEST(test_docker_lines),
        UNIT_TEST(test_layer_cap),
    };
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
