/* Pod config facts shared by the backends that run pods themselves.  */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pbutil.h"
#include "pod.h"
#include "utils.h"

static const char *protocol_name(Runtime__V1__Protocol p)
{
    return p == RUNTIME__V1__PROTOCOL__UDP ? "udp" : p == RUNTIME__V1__PROTOCOL__SCTP ? "sctp" : "tcp";
}

/* CRI port mappings with a host port, in the form CNI's portmap takes.  */
json_t *crimp_pod_port_mappings(const Runtime__V1__PodSandboxConfig *cfg)
{
    json_t *pm = json_array();
    for (size_t i = 0; i < cfg->n_port_mappings; i++) {
        const Runtime__V1__PortMapping *p = cfg->port_mappings[i];
        if (p->host_port <= 0)
            continue;
        json_t *m = json_pack("{s:i, s:i, s:s}", "hostPort", p->host_port, "containerPort",
                              p->container_port, "protocol", protocol_name(p->protocol));
        if (!str_empty(p->host_ip))
            json_object_set_new(m, "hostIP", json_string(p->host_ip));
        json_array_append_new(pm, m);
    }
    return pm;
}

bool crimp_pod_host_network(const Runtime__V1__PodSandboxConfig *cfg)
{
    return cfg->linux && cfg->linux->security_context &&
           cfg->linux->security_context->namespace_options &&
           cfg->linux->security_context->namespace_options->network ==
               RUNTIME__V1__NAMESPACE_MODE__NODE;
}

/* resolv.conf of the pod, rewritten in place so the inode Docker bind-mounts
 * into every container of the pod stays the same.  */
int crimp_pod_write_resolv_conf(const char *path, const Runtime__V1__DNSConfig *dns, crimp_error_t *err)
{
    if (dns == NULL || (dns->n_servers == 0 && dns->n_searches == 0 && dns->n_options == 0))
        return 1;
    cleanup_file FILE *f = fopen(path, "we");
    if (f == NULL)
        return crimp_make_errno_error(err, errno, "write %s", path);
    for (size_t i = 0; i < dns->n_servers; i++)
        fprintf(f, "nameserver %s\n", dns->servers[i]);
    const char *const *lists[] = {(const char *const *)dns->searches,
                                  (const char *const *)dns->options};
    size_t counts[] = {dns->n_searches, dns->n_options};
    const char *keys[] = {"search", "options"};
    for (size_t l = 0; l < 2; l++) {
        if (counts[l] == 0)
            continue;
        fputs(keys[l], f);
        for (size_t i = 0; i < counts[l]; i++)
            fprintf(f, " %s", lists[l][i]);
        fputc('\n', f);
    }
    return fflush(f) == 0 ? 0 : crimp_make_errno_error(err, errno, "write %s", path);
}

bool crimp_labels_match(void *const *labels, size_t n_labels, void *const *selector,
                        size_t n_selector)
{
    for (size_t i = 0; i < n_selector; i++) {
        const struct crimp_pb_map_entry *want = selector[i];
        bool found = false;
        for (size_t j = 0; j < n_labels && !found; j++) {
            const struct crimp_pb_map_entry *have = labels[j];
            found = strcmp(have->key, want->key) == 0 && strcmp(have->value, want->value) == 0;
        }
        if (!found)
            return false;
    }
    return true;
}
