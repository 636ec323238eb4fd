/* Shared pieces of CRI ImageService replies.  */
#include "cri_image.h"

#include <stdlib.h>
#include <string.h>

#include "utils.h"

/* Config.User "1000:1000" → uid 1000; "nobody" → username.  */
static void set_user(Runtime__V1__Image *out, const char *user)
{
    if (str_empty(user))
        return;
    cleanup_free char *u = strndup(user, strcspn(user, ":"));
    char *end = NULL;
    long long uid = strtoll(u, &end, 10);
    if (*u && end && *end == '\0') {
        out->uid = xmalloc(sizeof(*out->uid));
        runtime__v1__int64_value__init(out->uid);
        out->uid->value = uid;
    } else if (*u) {
        out->username = xstrdup(u);
    }
}

Runtime__V1__Image *crimp_cri_image_new(const char *id, uint64_t size, const char *user)
{
    Runtime__V1__Image *out = xmalloc(sizeof(*out));
    runtime__v1__image__init(out);
    out->id = xstrdup(id ? id : "");
    out->size = size;
    set_user(out, user);
    out->spec = xmalloc(sizeof(*out->spec));
    runtime__v1__image_spec__init(out->spec);
    out->spec->image = xstrdup(out->id);
    return out;
}

static Runtime__V1__UInt64Value *uint64_value(uint64_t v)
{
    Runtime__V1__UInt64Value *out = xmalloc(sizeof(*out));
    runtime__v1__uint64_value__init(out);
    out->value = v;
    return out;
}

Runtime__V1__FilesystemUsage *crimp_fs_usage_new(const char *mountpoint, uint64_t used_bytes,
                                                 uint64_t inodes_used)
{
    Runtime__V1__FilesystemUsage *u = xmalloc(sizeof(*u));
    runtime__v1__filesystem_usage__init(u);
    u->timestamp = crimp_now_real_ns();
    u->fs_id = xmalloc(sizeof(*u->fs_id));
    runtime__v1__filesystem_identifier__init(u->fs_id);
    u->fs_id->mountpoint = xstrdup(mountpoint);
    u->used_bytes = uint64_value(used_bytes);
    u->inodes_used = uint64_value(inodes_used);
    return u;
}
