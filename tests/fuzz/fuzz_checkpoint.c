/* libFuzzer target for checkpoint files (backends/common/checkpoint.c):
 * the state crimpd reads back after a restart, which a crash, a full disk
 * or another writer may have left in any shape.  The input is the file's
 * content; it is written to a private directory and read back with
 * crimp_checkpoint_read, and what it returns is used as the docker
 * backend and the CNI runner use it (IPs of the CNI result).  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "common/cni.h"
#include "utils.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

/* The directory goes with the process: libFuzzer exits through exit().  */
static void remove_dir(void)
{
    cleanup_free char *a = xasprintf("%s/pod1", dir);
    cleanup_free char *b = xasprintf("%s/pod2", dir);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

static void make_dir(void)
{
    if (dir[0] != '\0')
        return;
    snprintf(dir, sizeof(dir), "%s",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm/crimp-fuzz-ckpt.XXXXXX"
                                           : "/tmp/crimp-fuzz-ckpt.XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    atexit(remove_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    make_dir();
    cleanup_free char *path = xasprintf("%s/pod1", dir);
    FILE *f = fopen(path, "we");
    if (f == NULL)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    json_t *ckpt = NULL;
    crimp_error_t err = NULL;
    if (crimp_checkpoint_read(dir, "pod1", &ckpt, &err) < 0) {
        if (err == NULL || err->code != GRPC_STATUS_DATA_LOSS)
            __builtin_trap();
        crimp_error_release(&err);
        if (access(path, F_OK) == 0)
            __builtin_trap(); /* a corrupt checkpoint is removed */
        return 0;
    }
    char *ips[4];
    size_t n = cni_result_ips(json_object_get(ckpt, "result"), ips, 4);
    for (size_t i = 0; i < n; i++)
        free(ips[i]);
    /* What was read must survive a write and read back unchanged.  */
    if (crimp_checkpoint_write(dir, "pod2", ckpt, &err) < 0) {
        crimp_error_release(&err);
    } else {
        json_t *again = NULL;
        if (crimp_checkpoint_read(dir, "pod2", &again, &err) < 0 || !json_equal(again, ckpt))
            __builtin_trap();
        json_decref(again);
    }
    json_decref(ckpt);
    unlink(path);
    return 0;
}
