/* The CNI runner: pure pieces (config parsing, per-plugin stdin, error
 * text, result addresses) and, as root, a real ADD/CHECK/DEL with Debian's
 * plugins into a network namespace the test makes.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cni.h"
#include "unit.h"
#include "utils.h"

static const char CONFLIST[] =
    "{\"cniVersion\": \"0.4.0\", \"name\": \"t\", \"plugins\": ["
    " {\"type\": \"bridge\", \"bridge\": \"crimpt0\", \"isGateway\": true,"
    "  \"ipam\": {\"type\": \"host-local\", \"ranges\": [[{\"subnet\": \"10.123.0.0/24\"}]],"
    "           \"dataDir\": \"%s/ipam\"}},"
    " {\"type\": \"portmap\", \"capabilities\": {\"portMappings\": true}}]}";

static int test_parse_single_conf_becomes_list(void)
{
    crimp_error_t err = NULL;
    json_auto_t *l = cni_parse_config("x.conf", "{\"name\": \"n\", \"type\": \"bridge\"}", &err);
    CHECK(l != NULL);
    CHECK(json_array_size(json_object_get(l, "plugins")) == 1);
    CHECK(strcmp(json_string_value(json_object_get(l, "cniVersion")), "0.2.0") == 0);
    return 0;
}

static int test_parse_refusals_name_the_file(void)
{
    const char *bad[] = {"{", "[]", "{\"plugins\": []}", "{\"name\": \"n\", \"plugins\": []}",
                         "{\"name\": \"n\", \"plugins\": [{\"x\": 1}]}", "{\"name\": \"n\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        crimp_error_t err = NULL;
        CHECK(cni_parse_config("/etc/cni/net.d/bad.conf", bad[i], &err) == NULL);
        CHECK(err != NULL && strstr(err->msg, "bad.conf") != NULL);
        crimp_error_release(&err);
    }
    return 0;
}

static int test_plugin_config_gets_prev_result_and_capabilities(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *text = xasprintf(CONFLIST, "/tmp");
    json_auto_t *l = cni_parse_config("t", text, &err);
    json_auto_t *pm = json_pack("[{s:i, s:i, s:s}]", "hostPort", 8080, "containerPort", 80,
                                "protocol", "tcp");
    json_auto_t *prev = json_pack("{s:s}", "cniVersion", "0.4.0");
    struct cni_attachment a = {.container_id = "c", .port_mappings = pm};
    json_auto_t *bridge = cni_plugin_config(l, 0, NULL, &a);
    json_auto_t *portmap = cni_plugin_config(l, 1, prev, &a);
    CHECK(strcmp(json_string_value(json_object_get(bridge, "name")), "t") == 0);
    CHECK(json_object_get(bridge, "prevResult") == NULL);
    CHECK(json_object_get(bridge, "runtimeConfig") == NULL); /* declares no capability */
    CHECK(json_equal(json_object_get(portmap, "prevResult"), prev));
    CHECK(json_equal(json_object_get(json_object_get(portmap, "runtimeConfig"), "portMappings"),
                     pm));
    CHECK(strcmp(json_string_value(json_object_get(portmap, "cniVersion")), "0.4.0") == 0);
    return 0;
}

static int test_plugin_error_is_readable(void)
{
    cleanup_free char *a = cni_plugin_error(
        "bridge", "ADD", "{\"code\": 11, \"msg\": \"failed to allocate\", \"details\": \"range full\"}",
        "", 1);
    CHECK(strcmp(a, "cni: plugin bridge ADD failed: failed to allocate: range full") == 0);
    cleanup_free char *b = cni_plugin_error("x", "DEL", "garbage", "boom\nmore", 2);
    CHECK(strcmp(b, "cni: plugin x DEL failed (exit 2): boom") == 0);
    cleanup_free char *c = cni_plugin_error("x", "DEL", NULL, NULL, 137);
    CHECK(strstr(c, "exit 137") != NULL);
    return 0;
}

static int test_result_ips_v4_first(void)
{
    json_auto_t *r = json_loads("{\"ips\": [{\"address\": \"fd00::5/64\"},"
                                " {\"address\": \"10.1.2.3/24\"}]}",
                                0, NULL);
    char *ips[4];
    size_t n = cni_result_ips(r, ips, 4);
    CHECK(n == 2);
    CHECK(strcmp(ips[0], "10.1.2.3") == 0 && strcmp(ips[1], "fd00::5") == 0);
    free(ips[0]), free(ips[1]);
    json_auto_t *old = json_loads("{\"ip4\": {\"ip\": \"10.9.9.9/16\"}}", 0, NULL);
    n = cni_result_ips(old, ips, 4);
    CHECK(n == 1 && strcmp(ips[0], "10.9.9.9") == 0);
    free(ips[0]);
    return 0;
}

static int test_not_ready_without_config(void)
{
    char dir[] = "/tmp/crimp-cni-empty-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct cni_options o = {.conf_dir = dir, .cache_dir = dir};
    struct cni_runner *r = cni_runner_new(&o);
    cleanup_free char *why = NULL;
    CHECK(!cni_runner_ready(r, &why));
    CHECK(why && strstr(why, "cni config uninitialized") != NULL);
    cni_runner_free(r);
    rmdir(dir);
    return 0;
}

static int sh(const char *cmd)
{
    return system(cmd) == 0 ? 0 : -1;
}

/* ADD gives the netns an address on the bridge; a second pod gets another;
 * DEL releases the address (host-local's file is gone), and a second DEL
 * is a success.  */
static int test_real_add_check_del(void)
{
    if (geteuid() != 0 || access("/usr/lib/cni/bridge", X_OK) != 0)
        return 77;
    char dir[] = "/tmp/crimp-cni-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    cleanup_free char *conf_dir = xasprintf("%s/net.d", dir);
    cleanup_free char *cache_dir = xasprintf("%s/cache", dir);
    mkdir(conf_dir, 0755);
    cleanup_free char *conf_path = xasprintf("%s/10-t.conflist", conf_dir);
    /* Names of this run only: a test killed earlier may have left its own.  */
    char netns[32], netns_path[64], bridge[16];
    snprintf(netns, sizeof(netns), "crimp-cni-%d", (int)getpid());
    snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", netns);
    snprintf(bridge, sizeof(bridge), "crt%d", (int)getpid() % 100000);
    cleanup_free char *conf2 = NULL;
    {
        cleanup_free char *add = xasprintf("ip netns add %s", netns);
        CHECK(sh(add) == 0);
    }

    cleanup_free char *conf = xasprintf(CONFLIST, dir);
    conf2 = xasprintf("%.*s%s%s", (int)(strstr(conf, "crimpt0") - conf), conf, bridge,
                      strstr(conf, "crimpt0") + strlen("crimpt0"));
    FILE *f = fopen(conf_path, "w");
    CHECK(f != NULL);
    fputs(conf2, f);
    fclose(f);
    struct cni_options o = {.bin_dirs = "/usr/lib/cni", .conf_dir = conf_dir,
                            .cache_dir = cache_dir, .timeout_seconds = 20};
    struct cni_runner *r = cni_runner_new(&o);
    CHECK(cni_runner_ready(r, NULL));
    struct cni_attachment a = {.container_id = "crimp-cni-test-pod", .netns = netns_path,
                               .ifname = "eth0",
                               .pod_namespace = "ns", .pod_name = "p"};
    crimp_error_t err = NULL;
    json_t *result = NULL;
    int rc = cni_add(r, &a, &result, &err);
    if (rc < 0)
        fprintf(stderr, "add: %s\n", err->msg);
    CHECK(rc == 0);
    char *ips[2];
    CHECK(cni_result_ips(result, ips, 2) == 1);
    CHECK(has_prefix(ips[0], "10.123.0."));
    cleanup_free char *lease = xasprintf("%s/ipam/t/%s", dir, ips[0]);
    CHECK(access(lease, F_OK) == 0);
    cleanup_free char *ping =
        xasprintf("ip netns exec %s ip -o addr show eth0 | grep -q '%s/'", netns, ips[0]);
    CHECK(sh(ping) == 0);
    CHECK(cni_check(r, &a, &err) == 0);
    CHECK(cni_del(r, &a, &err) == 0);
    CHECK(access(lease, F_OK) != 0);
    CHECK(cni_del(r, &a, &err) == 0); /* idempotent */
    free(ips[0]);
    json_decref(result);
    cni_runner_free(r);
    cleanup_free char *del_ns = xasprintf("ip netns del %s", netns);
    cleanup_free char *del_br = xasprintf("ip link del %s 2>/dev/null", bridge);
    sh(del_ns);
    sh(del_br);
    cleanup_free char *rm = xasprintf("rm -rf %s", dir);
    sh(rm);
    return 0;
}

static int test_missing_plugin_is_named(void)
{
    char dir[] = "/tmp/crimp-cni-miss-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    cleanup_free char *path = xasprintf("%s/1.conf", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"cniVersion\": \"0.4.0\", \"name\": \"m\", \"type\": \"no-such-plugin\"}", f);
    fclose(f);
    struct cni_options o = {.bin_dirs = "/usr/lib/cni", .conf_dir = dir, .cache_dir = dir};
    struct cni_runner *r = cni_runner_new(&o);
    struct cni_attachment a = {.container_id = "x", .netns = "/proc/self/ns/net", .ifname = "eth0"};
    crimp_error_t err = NULL;
    json_t *result = NULL;
    int rc = cni_add(r, &a, &result, &err);
    if (geteuid() == 0) { /* loopback runs first and needs root */
        CHECK(rc < 0);
        CHECK(strstr(err->msg, "no-such-plugin") != NULL);
        CHECK(err->code == GRPC_STATUS_FAILED_PRECONDITION);
    }
    crimp_error_release(&err);
    cni_runner_free(r);
    cleanup_free char *rm = xasprintf("rm -rf %s", dir);
    sh(rm);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_parse_single_conf_becomes_list),
        UNIT_TEST(test_parse_refusals_name_the_file),
        UNIT_TEST(test_plugin_config_gets_prev_result_and_capabilities),
        UNIT_TEST(test_plugin_error_is_readable),
        UNIT_TEST(test_result_ips_v4_first),
        UNIT_TEST(test_not_ready_without_config),
        UNIT_TEST(test_missing_plugin_is_named),
        UNIT_TEST(test_real_add_check_del),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
