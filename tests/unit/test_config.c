/* Unit tests for shim/config.c: defaults, JSON keys, flags over the file,
 * and refusals that name the key at fault.  */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

#if CRIMP_HAVE_CONTAINERD
#define CONTAINERD_TOO ", containerd"
#else
#define CONTAINERD_TOO ""
#endif

static int apply(struct crimp_config *cfg, const char *text, crimp_error_t *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (doc == NULL)
        return -2;
    int ret = crimp_config_apply_json(cfg, doc, "test", err);
    json_decref(doc);
    return ret;
}

static int test_defaults_validate(void)
{
    struct crimp_config cfg;
    crimp_error_t err = NULL;
    crimp_config_init(&cfg);
    CHECK(strcmp(cfg.listen, "/run/crimp/crimp.sock") == 0);
    CHECK(cfg.socket_mode == 0660);
    CHECK(cfg.max_message_bytes == 16 * 1024 * 1024);
    CHECK(crimp_config_validate(&cfg, &err) == 0);
    crimp_config_free(&cfg);
    return 0;
}

static int test_json_sets_values(void)
{
    struct crimp_config cfg;
    crimp_error_t err = NULL;
    crimp_config_init(&cfg);
    CHECK(apply(&cfg,
                "{\"workers\": 3, \"socket_mode\": \"0600\", \"drain_timeout\": 2.5,"
                " \"worker_idle_timeout\": 0.25,"
                " \"backends\": [{\"name\": \"a\", \"type\": \"cri\", \"endpoint\": \"/x.sock\"}],"
                " \"default_backend\": \"a\"}",
                &err) == 0);
    CHECK(cfg.workers == 3);
    CHECK(cfg.socket_mode == 0600);
    CHECK(cfg.drain_timeout == 2.5);
    CHECK(cfg.worker_idle_timeout == 0.25);
    CHECK(cfg.n_backends == 1 && strcmp(cfg.backends[0].endpoint, "/x.sock") == 0);
    CHECK(crimp_config_validate(&cfg, &err) == 0);
    crimp_config_free(&cfg);
    return 0;
}

/* Every refusal must name the key so an operator can fix the file.  */
static int expect_refusal(const char *text, const char *needle)
{
    struct crimp_config cfg;
    crimp_error_t err = NULL;
    crimp_config_init(&cfg);
    int ret = apply(&cfg, text, &err);
    if (ret == 0)
        ret = crimp_config_validate(&cfg, &err);
    int ok = ret < 0 && err && err->code == GRPC_STATUS_INVALID_ARGUMENT &&
             strstr(err->msg, needle) != NULL;
    if (!ok)
        fprintf(stderr, "for %s: got `%s`, wanted `%s`\n", text, err ? err->msg : "(no error)",
                needle);
    crimp_error_release(&err);
    crimp_config_free(&cfg);
    return ok ? 0 : -1;
}

static int test_refusals_name_the_key(void)
{
    CHECK(expect_refusal("{\"workers\": \"many\"}", "workers") == 0);
    CHECK(expect_refusal("{\"workers\": 0}", "workers") == 0);
    CHECK(expect_refusal("{\"worker_idle_timeout\": -1}", "worker_idle_timeout") == 0);
    CHECK(expect_refusal("{\"wrokers\": 4}", "wrokers") == 0);
    CHECK(expect_refusal("{\"socket_mode\": \"999\"}", "socket_mode") == 0);
    CHECK(expect_refusal("{\"log_level\": \"loud\"}", "log_level") == 0);
    CHECK(expect_refusal("{\"log_format\": \"xml\"}", "`xml` is not one of text, json") == 0);
    CHECK(expect_refusal("{\"log_calls\": \"yes\"}", "`yes` is not one of off, on") == 0);
    CHECK(expect_refusal("{\"listen\": \"relative.sock\"}", "listen") == 0);
    CHECK(expect_refusal("{\"backends\": [{\"name\": \"a\", \"type\": \"nope\", "
                         "\"endpoint\": \"/x\"}], \"default_backend\": \"a\"}",
                         "nope") == 0);
    CHECK(expect_refusal("{\"backends\": [{\"name\": \"a\", \"type\": \"cri\"}]}", "endpoint") ==
          0);
    CHECK(expect_refusal("{\"backends\": [{\"name\": \"a\", \"type\": \"cri\", \"endpoint\": "
                         "\"/x\", \"colour\": 1}]}",
                         "colour") == 0);
    CHECK(expect_refusal("{\"default_backend\": \"ghost\"}", "ghost") == 0);
    CHECK(expect_refusal("{\"backends\": [{\"name\": \"a\", \"type\": \"cri\", \"endpoint\": "
                         "\"/x\"}, {\"name\": \"a\", \"type\": \"cri\", \"endpoint\": \"/y\"}],"
                         " \"default_backend\": \"a\"}",
                         "twice") == 0);
    /* Every built-in type is named (containerd was left out), and backend
     * options are checked with the configuration, before any backend
     * opens: at start and on SIGHUP.  */
    CHECK(expect_refusal("{\"backends\": [{\"name\": \"a\", \"type\": \"nope\", "
                         "\"endpoint\": \"/x\"}], \"default_backend\": \"a\"}",
                         "(built in: cri, docker" CONTAINERD_TOO ")") == 0);
    CHECK(expect_refusal("{\"backends\": [{\"name\": \"d\", \"type\": \"docker\", "
                         "\"endpoint\": \"/x\", \"options\": {\"cni_timeout\": \"soon\"}}]}",
                         "backends: `d`: options.cni_timeout: must be a whole number") == 0);
    CHECK(expect_refusal("{\"backends\": [{\"name\": \"c\", \"type\": \"cri\", "
                         "\"endpoint\": \"/x\", \"options\": {\"cgroup_driver\": \"x\"}}]}",
                         "options.cgroup_driver: `x` is not one of systemd, cgroupfs") == 0);
    return 0;
}

/* --print-config shows each backend's options with the defaults filled in.  */
static int test_print_config_has_defaults(void)
{
    struct crimp_config cfg;
    crimp_error_t err = NULL;
    crimp_config_init(&cfg);
    CHECK(apply(&cfg,
                "{\"backends\": [{\"name\": \"d\", \"type\": \"docker\", \"endpoint\": "
                "\"/x\", \"options\": {\"cni_timeout\": \"30\"}}]}",
                &err) == 0);
    CHECK(crimp_config_validate(&cfg, &err) == 0);
    json_auto_t *j = crimp_config_to_json(&cfg);
    json_t *o = json_object_get(json_array_get(json_object_get(j, "backends"), 0), "options");
    CHECK(strcmp(json_string_value(json_object_get(o, "cni_timeout")), "30") == 0);
    CHECK(json_integer_value(json_object_get(o, "log_drain_ms")) == 2000);
    CHECK(strcmp(json_string_value(json_object_get(o, "pause_image")),
                 "registry.k8s.io/pause:3.10") == 0);
    CHECK(json_object_get(o, "namespace") == NULL); /* containerd's */
    crimp_config_free(&cfg);
    return 0;
}

static int test_flags_override_file(void)
{
    char path[] = "/tmp/crimp-test-config-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *doc = "{\"workers\": 3, \"pollers\": 5}";
    CHECK(write(fd, doc, strlen(doc)) == (ssize_t)strlen(doc));
    close(fd);

    struct crimp_config cfg;
    crimp_error_t err = NULL;
    int want_exit = 0;
    /* The flag comes before --config on purpose: order must not matter.  */
    char *argv[] = {"crimpd", "--workers", "7", "--config", path,
                    "--backend", "b=cri:unix:///run/b.sock", NULL};
    crimp_config_init(&cfg);
    int ret = crimp_config_from_args(&cfg, 7, argv, &want_exit, &err);
    unlink(path);
    CHECK(ret == 0);
    CHECK(want_exit == 0);
    CHECK(cfg.workers == 7);
    CHECK(cfg.pollers == 5);
    CHECK(cfg.n_backends == 1 && strcmp(cfg.backends[0].name, "b") == 0);
    CHECK(strcmp(cfg.backends[0].endpoint, "unix:///run/b.sock") == 0);
    CHECK(strcmp(cfg.default_backend, "b") == 0);
    crimp_config_free(&cfg);
    return 0;
}

/* Loads TEXT as a --config file.  */
static int load_text(struct crimp_config *cfg, const char *text, crimp_error_t *err)
{
    char path[] = "/tmp/crimp-test-config-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return -2;
    close(fd);
    int want_exit = 0;
    char *argv[] = {"crimpd", "--config", path, NULL};
    int ret = crimp_config_from_args(cfg, 3, argv, &want_exit, err);
    unlink(path);
    return ret;
}

/* Whole lines starting with '#' (after blanks) are comments; a '#' inside
 * a string is data; errors still name the file's own line.  */
static int test_file_comment_lines(void)
{
    struct crimp_config cfg;
    crimp_error_t err = NULL;
    crimp_config_init(&cfg);
    CHECK(load_text(&cfg,
                    "# crimpd's config\n"
                    "{\n"
                    "  # how many fast workers\n"
                    "  \"workers\": 3,\n"
                    "    #\"pollers\": 9,\n"
                    "  \"pollers\": 5,\n"
                    "  \"state_dir\": \"/tmp/#not-a-comment\"\n"
                    "}\n#",
                    &err) == 0);
    CHECK(cfg.workers == 3 && cfg.pollers == 5);
    CHECK(strcmp(cfg.state_dir, "/tmp/#not-a-comment") == 0);
    crimp_config_free(&cfg);

    crimp_config_init(&cfg);
    CHECK(load_text(&cfg, "# one\n# two\n{\"workers\": x}\n", &err) < 0);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT && strstr(err->msg, "line 3") != NULL);
    crimp_error_release(&err);
    crimp_config_free(&cfg);
    return 0;
}

static int test_bad_backend_flag(void)
{
    struct crimp_config cfg;
    crimp_error_t err = NULL;
    int want_exit = 0;
    char *argv[] = {"crimpd", "--backend", "nameonly", NULL};
    crimp_config_init(&cfg);
    CHECK(crimp_config_from_args(&cfg, 3, argv, &want_exit, &err) < 0);
    CHECK(strstr(err->msg, "NAME=TYPE:ENDPOINT") != NULL);
    crimp_error_release(&err);
    crimp_config_free(&cfg);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_defaults_validate),     UNIT_TEST(test_json_sets_values),
        UNIT_TEST(test_refusals_name_the_key), UNIT_TEST(test_flags_override_file),
        UNIT_TEST(test_bad_backend_flag),      UNIT_TEST(test_file_comment_lines),
        UNIT_TEST(test_print_config_has_defaults),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
