/* Atomic JSON checkpoints.  */
#include "checkpoint.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "safe_open.h"
#include "utils.h"

uint32_t crimp_checkpoint_checksum(json_t *data)
{
    cleanup_free char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)text; p && *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

/* Ids become file names: nothing that could leave the directory.  */
static int check_id(const char *id, crimp_error_t *err)
{
    if (str_empty(id) || id[0] == '.' || strchr(id, '/') != NULL || strlen(id) > 200)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "`%s` cannot name a checkpoint", id ? id : "");
    return 0;
}

int crimp_mkdir_p(const char *dir, unsigned mode, crimp_error_t *err)
{
    cleanup_free char *d = xstrdup(dir);
    for (char *p = d + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(d, (mode_t)mode) < 0 && errno != EEXIST)
            return crimp_make_errno_error(err, errno, "create `%s`", d);
        *p = c;
        if (c == '\0')
            return 0;
    }
}

static int fsync_dir(const char *dir, crimp_error_t *err)
{
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        return crimp_make_errno_error(err, errno, "fsync `%s`", dir);
    return 0;
}

int crimp_checkpoint_write(const char *dir, const char *id, json_t *data, crimp_error_t *err)
{
    if (check_id(id, err) < 0 || crimp_mkdir_p(dir, 0700, err) < 0)
        return -1;
    json_auto_t *doc = json_pack("{s:i, s:O, s:I}", "version", 1, "data", data, "checksum",
                                 (json_int_t)crimp_checkpoint_checksum(data));
    cleanup_free char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    cleanup_free char *tmp = xasprintf("%s/.%s.tmp", dir, id);
    cleanup_free char *path = xasprintf("%s/%s", dir, id);
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return crimp_make_errno_error(err, errno, "create `%s`", tmp);
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return crimp_make_errno_error(err, e ? e : EIO, "write `%s`", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return crimp_make_errno_error(err, e, "rename `%s`", tmp);
    }
    return fsync_dir(dir, err);
}

int crimp_checkpoint_read(const char *dir, const char *id, json_t **data, crimp_error_t *err)
{
    if (check_id(id, err) < 0)
        return -1;
    cleanup_free char *path = xasprintf("%s/%s", dir, id);
    json_error_t jerr;
    crimp_error_t oerr = NULL;
    /* A symlink or FIFO planted here is read as a corrupt checkpoint, not
     * followed or waited on.  */
    cleanup_close int fd = crimp_open_regular(path, O_RDONLY, 0, &oerr);
    bool absent = fd < 0 && oerr->errno_ == ENOENT;
    crimp_error_release(&oerr);
    if (absent)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "no checkpoint for `%s`", id);
    json_auto_t *doc = fd >= 0 ? json_loadfd(fd, 0, &jerr) : NULL;
    json_t *d = json_object_get(doc, "data");
    json_int_t sum = json_integer_value(json_object_get(doc, "checksum"));
    if (d == NULL || (uint32_t)sum != crimp_checkpoint_checksum(d)) {
        unlink(path);
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "checkpoint `%s` is corrupt and was removed", path);
    }
    *data = json_incref(d);
    return 0;
}

int crimp_checkpoint_remove(const char *dir, const char *id, crimp_error_t *err)
{
    if (check_id(id, err) < 0)
        return -1;
    cleanup_free char *path = xasprintf("%s/%s", dir, id);
    if (unlink(path) < 0 && errno != ENOENT)
        return crimp_make_errno_error(err, errno, "remove `%s`", path);
    return 0;
}

int crimp_checkpoint_list(const char *dir, void (*fn)(void *ctx, const char *id), void *ctx,
                          crimp_error_t *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : crimp_make_errno_error(err, errno, "open `%s`", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && (e->d_type == DT_REG || e->d_type == DT_UNKNOWN))
            fn(ctx, e->d_name);
    closedir(d);
    return 0;
}
