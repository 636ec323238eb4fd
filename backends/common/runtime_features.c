/* Kernel and runc feature probes for runtime handlers.  */
#include "runtime_features.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "utils.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

bool crimp_kernel_has_mount_setattr(void)
{
    /* An invalid fd: a kernel with the call says EBADF, one without ENOSYS.  */
    long r = syscall(SYS_mount_setattr, -1, "", 0, NULL, 0);
    return !(r < 0 && errno == ENOSYS);
}

bool crimp_runc_features_have(const char *features_json, const char *option)
{
    json_auto_t *j = json_loads(features_json ? features_json : "", 0, NULL);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "mountOptions"), i,
                       v) if (json_is_string(v) &&
                              strcmp(json_string_value(v), option) == 0) return true;
    return false;
}

bool crimp_runc_supports_mount_option(const char *runc, const char *option)
{
    if (strchr(runc, '\'') != NULL)
        return false;
    cleanup_free char *cmd = xasprintf("'%s' features 2>/dev/null", runc);
    FILE *p = popen(cmd, "re");
    if (p == NULL)
        return false;
    cleanup_free char *out = NULL;
    size_t cap = 0, len = 0;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            out = xrealloc(out, cap);
        }
        memcpy(out + len, buf, n);
        len += n;
        out[len] = '\0';
    }
    return pclose(p) == 0 && out != NULL && crimp_runc_features_have(out, option);
}

void crimp_status_add_handler(Runtime__V1__StatusResponse *resp, const char *name, bool rro,
                              bool userns)
{
    Runtime__V1__RuntimeHandler *h = xmalloc(sizeof(*h));
    runtime__v1__runtime_handler__init(h);
    h->name = xstrdup(name);
    h->features = xmalloc(sizeof(*h->features));
    runtime__v1__runtime_handler_features__init(h->features);
    h->features->recursive_read_only_mounts = rro;
    h->features->user_namespaces = userns;
    resp->runtime_handlers =
        xrealloc(resp->runtime_handlers, (resp->n_runtime_handlers + 1) * sizeof(h));
    resp->runtime_handlers[resp->n_runtime_handlers++] = h;
}
