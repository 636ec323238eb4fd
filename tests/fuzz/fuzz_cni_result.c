/* libFuzzer target for what CNI plugins print (backends/common/cni.c): the
 * input is a plugin's stdout, then after the first NUL its stderr.  The
 * stdout is read as a failed plugin's error, as a result (its IPs, and as
 * the prevResult handed to the next plugin of a chain), and as a network
 * configuration file (the conf dir is writable by whoever installs CNI).  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cni.h"
#include "utils.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CHAIN[] =
    "{\"cniVersion\":\"1.0.0\",\"name\":\"pods\",\"plugins\":[{\"type\":\"bridge\"},"
    "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *text = strndup((const char *)data, size);
    size_t out_len = strlen(text);
    const char *errout = out_len < size ? (const char *)data + out_len + 1 : NULL;
    cleanup_free char *errtext = errout ? strndup(errout, size - out_len - 1) : NULL;

    free(cni_plugin_error("bridge", "ADD", text, errtext, 1));
    free(cni_plugin_error("bridge", "DEL", NULL, errtext, 137));

    json_auto_t *result = json_loads(text, 0, NULL);
    if (result != NULL) {
        char *ips[8];
        size_t n = cni_result_ips(result, ips, 8);
        if (n > 8)
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            free(ips[i]);
        json_auto_t *chain = json_loads(CHAIN, 0, NULL);
        json_auto_t *ports = json_loads("[{\"hostPort\":80,\"containerPort\":8080}]", 0, NULL);
        struct cni_attachment a = {.container_id = "c1",
                                   .netns = "/proc/1/ns/net",
                                   .ifname = "eth0",
                                   .pod_namespace = "ns",
                                   .pod_name = "p",
                                   .port_mappings = ports};
        json_decref(cni_plugin_config(chain, 1, result, &a));
        /* The result as a network config too.  */
        json_decref(cni_plugin_config(result, 0, NULL, &a));
    }
    crimp_error_t err = NULL;
    json_t *conf = cni_parse_config("/etc/cni/net.d/10-fuzz.conflist", text, &err);
    if (conf == NULL) {
        if (err == NULL)
            __builtin_trap();
        crimp_error_release(&err);
    } else {
        json_decref(conf);
    }
    return 0;
}
