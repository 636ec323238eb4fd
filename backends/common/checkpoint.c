/* Atomic JSON checkpoints.  */
#include "checkpoint.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "safe_open.h"
#include "utils.h"

#define CHECKPOINT_READ_TRIES 4
/* Quarantined files are named <id>.corrupt-<unix time>; never listed.  */
#define CHECKPOINT_CORRUPT_INFIX ".corrupt-"

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

int crimp_file_write_atomic(const char *dir, const char *name, const char *text,
                            crimp_error_t *err)
{
    if (check_id(name, err) < 0 || crimp_mkdir_p(dir, 0700, err) < 0)
        return -1;
    cleanup_free char *tmp = xasprintf("%s/.%s.tmp", dir, name);
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
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

int crimp_checkpoint_write(const char *dir, const char *id, json_t *data, crimp_error_t *err)
{
    json_auto_t *doc = json_pack("{s:i, s:O, s:I}", "version", 1, "data", data, "checksum",
                                 (json_int_t)crimp_checkpoint_checksum(data));
    cleanup_free char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    return crimp_file_write_atomic(dir, id, text, err);
}

/* The whole of PATH into *TEXT (caller frees): 0; 1 when PATH is not a
 * regular file (a symlink or FIFO planted there is read as a corrupt
 * checkpoint, never followed or waited on); -1 with errno set.  */
static int slurp(const char *path, char **text, size_t *len)
{
    crimp_error_t oerr = NULL;
    cleanup_close int fd = crimp_open_regular(path, O_RDONLY, 0, &oerr);
    if (fd < 0) {
        bool odd = oerr->code == GRPC_STATUS_FAILED_PRECONDITION || oerr->errno_ == ELOOP;
        errno = oerr->errno_ ? oerr->errno_ : EIO;
        crimp_error_release(&oerr);
        if (!odd)
            return -1;
        *text = xstrdup("");
        *len = 0;
        return 1;
    }
    size_t cap = 4096, n = 0;
    cleanup_free char *buf = xmalloc(cap);
    for (;;) {
        if (n == cap)
            buf = xrealloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *text = steal_ptr(&buf);
    *len = n;
    return 0;
}

/* Reads PATH, retrying what may pass (EMFILE, ENOMEM, EIO...): a file that
 * cannot be read now is not a corrupt one.  What is not a regular file
 * comes back as empty text.  */
static int read_file_retrying(const char *path, char **text, size_t *len, crimp_error_t *err)
{
    for (int attempt = 1;; attempt++) {
        int r = slurp(path, text, len);
        if (r >= 0)
            return 0; /* 1: not a regular file, read as empty (corrupt) */
        int e = errno;
        if (e == ENOENT)
            return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "no checkpoint `%s`", path);
        if (attempt == CHECKPOINT_READ_TRIES)
            return crimp_make_errno_error(err, e, "read checkpoint `%s` (kept)", path);
        usleep(20000U << attempt);
    }
}

int crimp_checkpoint_quarantine(const char *dir, const char *id, crimp_error_t *err)
{
    if (check_id(id, err) < 0)
        return -1;
    cleanup_free char *path = xasprintf("%s/%s", dir, id);
    cleanup_free char *aside =
        xasprintf("%s%s%lld", path, CHECKPOINT_CORRUPT_INFIX, (long long)time(NULL));
    if (rename(path, aside) < 0 && errno != ENOENT)
        return crimp_make_errno_error(err, errno, "move `%s` aside", path);
    log_warn("checkpoint `%s` is corrupt: kept for inspection as `%s`", path, aside);
    return 0;
}

int crimp_checkpoint_read(const char *dir, const char *id, json_t **data, crimp_error_t *err)
{
    if (check_id(id, err) < 0)
        return -1;
    cleanup_free char *path = xasprintf("%s/%s", dir, id);
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (read_file_retrying(path, &text, &len, err) < 0)
        return -1;
    json_error_t jerr;
    json_auto_t *doc = json_loadb(text, len, 0, &jerr);
    if (doc == NULL && json_error_code(&jerr) == json_error_out_of_memory)
        return crimp_make_errno_error(err, ENOMEM, "parse checkpoint `%s` (kept)", path);
    json_t *d = json_object_get(doc, "data");
    json_int_t sum = json_integer_value(json_object_get(doc, "checksum"));
    if (d == NULL || (uint32_t)sum != crimp_checkpoint_checksum(d)) {
        crimp_error_t qerr = NULL;
        if (crimp_checkpoint_quarantine(dir, id, &qerr) < 0) {
            log_warn("%s", qerr->msg);
            crimp_error_release(&qerr);
        }
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "checkpoint `%s` is corrupt (moved aside)", path);
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

static bool is_write_temp(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' && n > 5 && strcmp(name + n - 4, ".tmp") == 0;
}

void crimp_checkpoint_sweep_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_write_temp(e->d_name))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            log_info("removed `%s/%s`, a write cut short by a crash", dir, e->d_name);
        else
            log_warn("cannot remove `%s/%s`: %s", dir, e->d_name, strerror(errno));
    }
    closedir(d);
}

int crimp_checkpoint_list(const char *dir, void (*fn)(void *ctx, const char *id), void *ctx,
                          crimp_error_t *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : crimp_make_errno_error(err, errno, "open `%s`", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) &&
            strstr(e->d_name, CHECKPOINT_CORRUPT_INFIX) == NULL)
            fn(ctx, e->d_name);
    closedir(d);
    return 0;
}
