/* The CNI runner: pod networking by the CNI spec's exec protocol, for the
 * backends that set up pod networks themselves (docker, containerd native).
 *
 * The network is the first valid .conflist/.conf/.json in the conf dir (in
 * name order), re-read when the directory changes.  ADD runs the built-in
 * loopback network and then each plugin of that network's chain in order,
 * handing each the previous result as prevResult; the final result is kept
 * in a cache file so that DEL works with the configuration and result of
 * the ADD even after the conf dir changed, the pod's process died, or crimpd
 * restarted.  Plugins that declare a capability (portMappings, bandwidth)
 * get it as runtimeConfig.  Every plugin run is a trace span
 * ("bridge ADD").  */
#ifndef CRIMP_CNI_H
#define CRIMP_CNI_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

struct cni_runner;

struct cni_options {
    const char *bin_dirs;  /* colon-separated plugin search path */
    const char *conf_dir;  /* where the network configs are */
    const char *cache_dir; /* where ADD results are kept for DEL */
    int timeout_seconds;   /* per plugin run */
};

#define CNI_DEFAULT_BIN_DIRS  "/opt/cni/bin:/usr/lib/cni"
#define CNI_DEFAULT_CONF_DIR  "/etc/cni/net.d"
#define CNI_DEFAULT_TIMEOUT_S 220

struct cni_runner *cni_runner_new(const struct cni_options *o);
void cni_runner_free(struct cni_runner *r);

/* Whether a usable network config exists; when not, *WHY says what is
 * missing (caller frees).  This is Status' NetworkReady.  */
bool cni_runner_ready(struct cni_runner *r, char **why);

/* One pod's attachment.  */
struct cni_attachment {
    const char *container_id; /* the sandbox id */
    const char *netns;        /* /proc/<pid>/ns/net or a bind-mounted path; "" on DEL if gone */
    const char *ifname;       /* "eth0" */
    const char *pod_namespace, *pod_name;
    json_t *port_mappings; /* [{hostPort, containerPort, protocol, hostIP}] or NULL */
    json_t *bandwidth;     /* {ingressRate, …} or NULL */
};

/* The attachment of pod sandbox ID on "eth0", as every backend builds it
 * (NETNS NULL: gone, ""; PORT_MAPPINGS borrowed).  */
struct cni_attachment cni_pod_attachment(const char *id, const char *netns,
                                         const char *pod_namespace, const char *pod_name,
                                         json_t *port_mappings);

/* Attaches the pod; *RESULT (caller owns) is the final CNI result.  On
 * failure the partial attachment is torn down again before returning.  */
int cni_add(struct cni_runner *r, const struct cni_attachment *a, json_t **result,
            crimp_error_t *err);

/* Detaches the pod with what its ADD used (its cache entry); without a
 * usable entry, with the current network config.  Removes the cache entry
 * once every plugin succeeded.  A cache entry that cannot be read now is
 * an error (try again later).  */
int cni_del(struct cni_runner *r, const struct cni_attachment *a, crimp_error_t *err);

/* Runs CHECK for the attachment (CNI ≥ 0.4.0 networks).  */
int cni_check(struct cni_runner *r, const struct cni_attachment *a, crimp_error_t *err);

/* The addresses (without prefix length) of a CNI result, IPv4 first.
 * Returns how many were stored in IPS (each caller-freed).  */
size_t cni_result_ips(json_t *result, char **ips, size_t max);

/* Pure pieces, exposed for unit tests.  */

/* The stdin config for plugin INDEX of CONFLIST (name, cniVersion,
 * prevResult, runtimeConfig of the capabilities it declares).  */
json_t *cni_plugin_config(json_t *conflist, size_t index, json_t *prev_result,
                          const struct cni_attachment *a);

/* Parses a network config file's text into a conflist (a single .conf
 * becomes a list of one); NULL with *err naming PATH when invalid.  */
json_t *cni_parse_config(const char *path, const char *text, crimp_error_t *err);

/* The readable error of a plugin that failed: its error JSON's msg and
 * details, else its stderr, else its exit status.  */
char *cni_plugin_error(const char *plugin, const char *command, const char *out,
                       const char *errout, int status);

#endif
