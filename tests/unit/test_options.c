/* Unit tests for backends/common/options.c: the one schema of backend
 * options checks and reads every backend's options alike (numbers given
 * as strings included), fills in defaults for --print-config, and is the
 * table in README.md.  */
#include <stdio.h>
#include <string.h>

#include "common/options.h"
#include "unit.h"
#include "utils.h"

static json_t *parse(const char *text)
{
    return json_loads(text, 0, NULL);
}

/* Fails with a message containing NEEDLE.  */
static int refused(const char *type, const char *text, const char *needle)
{
    json_auto_t *o = parse(text);
    cleanup_error crimp_error_t err = NULL;
    if (crimp_options_check(type, o, &err) == 0) {
        fprintf(stderr, "%s %s: accepted\n", type, text);
        return -1;
    }
    if (err->code != GRPC_STATUS_INVALID_ARGUMENT || strstr(err->msg, needle) == NULL) {
        fprintf(stderr, "%s %s: %s\n", type, text, err->msg);
        return -1;
    }
    return 0;
}

static int accepted(const char *type, const char *text)
{
    json_auto_t *o = parse(text);
    cleanup_error crimp_error_t err = NULL;
    int rc = crimp_options_check(type, o, &err);
    if (rc < 0)
        fprintf(stderr, "%s %s: %s\n", type, text, err->msg);
    return rc;
}

/* The bug this schema fixed: "cni_timeout": "30" was accepted by docker and
 * then read as unset, and refused by containerd.  Now both take it and
 * read 30.  */
static int test_numbers_as_strings(void)
{
    CHECK(accepted("docker", "{\"cni_timeout\": \"30\"}") == 0);
    CHECK(accepted("containerd", "{\"cni_timeout\": \"30\"}") == 0);
    json_auto_t *o = parse("{\"cni_timeout\": \"30\", \"log_drain_ms\": 5}");
    CHECK(crimp_option_int(o, "cni_timeout", -1) == 30);
    CHECK(crimp_option_int(o, "log_drain_ms", -1) == 5);
    CHECK(refused("docker", "{\"cni_timeout\": \"30s\"}", "options.cni_timeout") == 0);
    CHECK(refused("containerd", "{\"cni_timeout\": 1.5}", "whole number") == 0);
    return 0;
}

static int test_defaults_and_auto(void)
{
    CHECK(crimp_option_int(NULL, "log_drain_ms", -1) == 2000);
    CHECK(crimp_option_int(NULL, "cni_timeout", -1) == 220);
    CHECK(crimp_option_int(NULL, "fs_usage_refresh_seconds", -1) == 10);
    CHECK(crimp_option_int(NULL, "oom_score_adj_min", -999) == -999);
    json_auto_t *o = parse("{\"oom_score_adj_min\": \"auto\", \"privileged\": \"native\"}");
    CHECK(accepted("docker", "{\"oom_score_adj_min\": \"auto\"}") == 0);
    CHECK(crimp_option_int(o, "oom_score_adj_min", -999) == -999);
    CHECK(strcmp(crimp_option_string(o, "privileged"), "native") == 0);
    CHECK(strcmp(crimp_option_string(NULL, "pause_image"), "registry.k8s.io/pause:3.10") == 0);
    CHECK(strcmp(crimp_option_string(NULL, "namespace"), "k8s.io") == 0);
    CHECK(crimp_option_string(NULL, "cgroup_driver") == NULL);
    return 0;
}

static int test_refusals_name_the_key(void)
{
    CHECK(refused("docker", "{\"snapshotter\": \"x\"}",
                  "unknown key `snapshotter` (docker takes pause_image,") == 0);
    CHECK(refused("cri", "{\"pause_image\": \"x\"}", "(cri takes cgroup_driver)") == 0);
    CHECK(refused("docker", "{\"log_drain_ms\": 600001}", "600001 is not in 0..600000") == 0);
    CHECK(refused("containerd", "{\"oom_score_adj_min\": -1001}", "oom_score_adj_min") == 0);
    CHECK(refused("docker", "{\"privileged\": \"yes\"}", "not one of auto, native, emulate") == 0);
    CHECK(refused("containerd", "{\"cgroup_driver\": \"x\"}", "systemd, cgroupfs") == 0);
    CHECK(refused("containerd", "{\"namespace\": \"\"}", "non-empty string") == 0);
    CHECK(refused("containerd", "{\"insecure_registries\": [\"a\", 3]}", "list of") == 0);
    CHECK(refused("docker", "[1]", "must be an object") == 0);
    CHECK(accepted("docker", "{\"cri_dockerd_root\": \"\"}") == 0);
    CHECK(accepted("containerd", "{\"insecure_registries\": [\"r:5000\"]}") == 0);
    CHECK(accepted("cri", NULL) == 0);
    return 0;
}

/* Every default passes its own check, and every row names built-in types.  */
static int test_schema_is_consistent(void)
{
    static const char *const types[] = {"docker", "containerd", "cri"};
    for (const struct crimp_option_spec *s = crimp_backend_options; s->key; s++) {
        CHECK(s->help && s->types && s->types[0]);
        bool some = false;
        for (size_t t = 0; t < 3; t++) {
            json_auto_t *filled = crimp_options_with_defaults(types[t], NULL);
            json_t *v = json_object_get(filled, s->key);
            if (v == NULL)
                continue;
            some = true;
            json_auto_t *one = json_object();
            json_object_set(one, s->key, v);
            cleanup_error crimp_error_t err = NULL;
            CHECK(crimp_options_check(types[t], one, &err) == 0);
        }
        CHECK(some || s->dflt == NULL);
    }
    json_auto_t *given = parse("{\"cni_timeout\": 30}");
    json_auto_t *d = crimp_options_with_defaults("docker", given);
    CHECK(json_integer_value(json_object_get(d, "cni_timeout")) == 30);
    CHECK(json_integer_value(json_object_get(d, "log_drain_ms")) == 2000);
    CHECK(strcmp(json_string_value(json_object_get(d, "privileged")), "auto") == 0);
    CHECK(json_object_get(d, "namespace") == NULL);
    CHECK(json_object_get(d, "oom_score_adj_min") != NULL);
    return 0;
}

/* The README row of S, as the table in README.md must have it.  */
static char *readme_row(const struct crimp_option_spec *s)
{
    const char *type = s->type == CRIMP_OPTION_INT      ? "number"
                       : s->type == CRIMP_OPTION_STRING ? "string"
                                                        : "list of strings";
    char range[128] = "";
    if (s->type == CRIMP_OPTION_INT)
        snprintf(range, sizeof(range), "%lld–%lld", s->min, s->max);
    for (const char *const *c = s->choices; c && *c; c++)
        snprintf(range + strlen(range), sizeof(range) - strlen(range), "%s`%s`",
                 c == s->choices ? "" : ", ", *c);
    cleanup_free char *types = xstrdup(s->types);
    for (char *p = types; *p; p++)
        if (*p == ' ')
            *p = '/';
    cleanup_free char *dflt = s->dflt ? xasprintf("`%s`", s->dflt) : xstrdup("—");
    return xasprintf("| `%s` | %s | %s | %s | %s | %s |", s->key, types, type, dflt, range,
                     s->help);
}

static int test_readme_table(void)
{
    cleanup_file FILE *f = fopen(CRIMP_SOURCE_DIR "/README.md", "re");
    CHECK(f != NULL);
    char line[1024];
    size_t rows = 0, matched = 0;
    cleanup_free char *text = xstrdup("");
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "| `", 3) != 0)
            continue;
        for (const struct crimp_option_spec *s = crimp_backend_options; s->key; s++) {
            cleanup_free char *want = readme_row(s);
            cleanup_free char *prefix = xasprintf("| `%s` |", s->key);
            if (strncmp(line, prefix, strlen(prefix)) != 0)
                continue;
            rows++;
            if (strcmp(line, want) == 0)
                matched++;
            else
                fprintf(stderr, "README has: %s\nschema says: %s\n", line, want);
        }
    }
    size_t n = 0;
    for (const struct crimp_option_spec *s = crimp_backend_options; s->key; s++, n++) {
        cleanup_free char *want = readme_row(s);
        if (rows == 0) /* what the table should say */
            fprintf(stderr, "%s\n", want);
    }
    CHECK(rows == n && matched == n);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_numbers_as_strings),    UNIT_TEST(test_defaults_and_auto),
        UNIT_TEST(test_refusals_name_the_key), UNIT_TEST(test_schema_is_consistent),
        UNIT_TEST(test_readme_table),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
