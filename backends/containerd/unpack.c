/* Unpacking an image's layers into snapshots (PullImage's last step,
 * docs/containerd.md, "Images"): one committed snapshot
 * per chain ID, named by it, each made by Snapshots.Prepare on its parent,
 * Diff.Apply of the layer blob and Snapshots.Commit.  */
#include <inttypes.h>
#include <string.h>

#include "common/registry/distribution.h"
#include "digest.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "log.h"
#include "utils.h"

#define APPLY_TIMEOUT_S 600 /* Diff.Apply of one big layer */
#define PREPARE_TRIES   3
#define LABEL_SNAPSHOT_REF "containerd.io/snapshot.ref"

struct unpacker {
    struct ctrd_backend *b;
    const struct ctrd_opts *o;
};

char **ctrd_chain_ids(json_t *config, size_t *n, crimp_error_t *err)
{
    *n = 0;
    json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (!json_is_array(diff_ids) || json_array_size(diff_ids) == 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "image config: no rootfs.diff_ids"),
               NULL;
    size_t count = json_array_size(diff_ids);
    char **chains = xcalloc(count, sizeof(*chains));
    for (size_t i = 0; i < count; i++) {
        const char *d = json_string_value(json_array_get(diff_ids, i));
        if (d == NULL || !has_prefix(d, "sha256:") || strlen(d) != SHA256_DIGEST_STR_LEN - 1) {
            for (size_t j = 0; j < i; j++)
                free(chains[j]);
            free(chains);
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "image config: rootfs.diff_ids[%zu] is not a sha256 digest",
                                    i),
                   NULL;
        }
        if (i == 0) {
            chains[i] = xstrdup(d);
            continue;
        }
        /* chain_i = sha256(chain_{i-1} + " " + diffID_i) */
        cleanup_free char *text = xasprintf("%s %s", chains[i - 1], d);
        char out[SHA256_DIGEST_STR_LEN];
        sha256_digest_string(text, strlen(text), out);
        chains[i] = xstrdup(out);
    }
    *n = count;
    return chains;
}

int ctrd_snapshot_exists(struct ctrd_backend *b, const struct ctrd_opts *o, const char *key,
                         crimp_error_t *err)
{
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = b->snapshotter;
    req.key = (char *)key;
    ProtobufCMessage *resp = NULL;
    int found = ctrd_call_lookup(b->conn, o, CTRD_SNAPSHOTS "Stat", &req.base,
                                 &containerd__services__snapshots__v1__stat_snapshot_response__descriptor,
                                 &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return found;
}

static void snapshot_remove(struct unpacker *p, const char *key)
{
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = p->b->snapshotter;
    req.key = (char *)key;
    ProtobufCMessage *resp = NULL;
    cleanup_error crimp_error_t rerr = NULL;
    if (ctrd_call_lookup(p->b->conn, p->o, CTRD_SNAPSHOTS "Remove", &req.base,
                         &google__protobuf__empty__descriptor, &resp, &rerr) < 0)
        log_warn("containerd: remove snapshot %s: %s", key, rerr->msg);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
}

/* One unpacked layer in the making: the active snapshot KEY on PARENT.  */
struct layer_unpack {
    const struct dist_descriptor *blob;
    const char *diff_id, *chain, *parent;
    char *key;
    json_t *labels; /* containerd.io/snapshot.ref */
};

/* Snapshots.Prepare: the mounts (caller frees), or 0 with *MOUNTS NULL
 * when the chain appeared meanwhile (another pull unpacked it).  */
static int prepare(struct unpacker *p, struct layer_unpack *u,
                   Containerd__Services__Snapshots__V1__PrepareSnapshotResponse **mounts,
                   crimp_error_t *err)
{
    *mounts = NULL;
    for (int attempt = 0;; attempt++) {
        cleanup_free char *rnd = ctrd_new_id(err);
        if (rnd == NULL)
            return -1;
        rnd[6] = '\0';
        free(u->key);
        u->key = xasprintf("extract-%" PRId64 "-%s %s", crimp_now_real_ns(), rnd, u->chain);
        Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
        req.snapshotter = p->b->snapshotter;
        req.key = u->key;
        req.parent = (char *)(u->parent ? u->parent : "");
        ctrd_map_from_json(
            u->labels, &containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__descriptor,
            &req.n_labels, &req.labels);
        int r = ctrd_call(p->b->conn, p->o, CTRD_SNAPSHOTS "Prepare", &req.base,
                          &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor,
                          (ProtobufCMessage **)mounts, err);
        ctrd_map_entries_free(req.n_labels, req.labels);
        if (r == 0)
            return 0;
        if ((*err)->code != GRPC_STATUS_ALREADY_EXISTS || attempt + 1 == PREPARE_TRIES)
            return -1;
        crimp_error_release(err);
        int exists = ctrd_snapshot_exists(p->b, p->o, u->chain, err);
        if (exists != 0)
            return exists < 0 ? -1 : 0;
    }
}

/* Diff.Apply of the layer onto MOUNTS; the applied digest must be the
 * layer's diff ID.  */
static int apply(struct unpacker *p, struct layer_unpack *u,
                 Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *mounts,
                 crimp_error_t *err)
{
    Containerd__Types__Descriptor diff = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    diff.media_type = u->blob->media_type;
    diff.digest = u->blob->digest;
    diff.size = u->blob->size;
    Containerd__Services__Diff__V1__ApplyRequest req =
        CONTAINERD__SERVICES__DIFF__V1__APPLY_REQUEST__INIT;
    req.diff = &diff;
    req.mounts = mounts->mounts;
    req.n_mounts = mounts->n_mounts;
    struct ctrd_opts o = *p->o;
    o.timeout_s = APPLY_TIMEOUT_S;
    Containerd__Services__Diff__V1__ApplyResponse *resp = NULL;
    if (ctrd_call(p->b->conn, &o, CTRD_DIFF "Apply", &req.base,
                  &containerd__services__diff__v1__apply_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    const char *got = resp->applied ? resp->applied->digest : "";
    int ret = 0;
    if (strcmp(got, u->diff_id) != 0)
        ret = crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                               "layer %s unpacked to %s, the config says %s", u->blob->digest,
                               got, u->diff_id);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return ret;
}

/* Snapshots.Commit of the active snapshot as the chain ID; a chain that
 * another pull committed first is as good.  */
static int commit_snapshot(struct unpacker *p, struct layer_unpack *u, crimp_error_t *err)
{
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = p->b->snapshotter;
    req.name = (char *)u->chain;
    req.key = u->key;
    ctrd_map_from_json(
        u->labels, &containerd__services__snapshots__v1__commit_snapshot_request__labels_entry__descriptor,
        &req.n_labels, &req.labels);
    ProtobufCMessage *resp = NULL;
    int r = ctrd_call(p->b->conn, p->o, CTRD_SNAPSHOTS "Commit", &req.base,
                      &google__protobuf__empty__descriptor, &resp, err);
    ctrd_map_entries_free(req.n_labels, req.labels);
    if (r == 0) {
        protobuf_c_message_free_unpacked(resp, NULL);
        return 0;
    }
    if ((*err)->code != GRPC_STATUS_ALREADY_EXISTS)
        return -1;
    crimp_error_release(err);
    snapshot_remove(p, u->key);
    return 0;
}

static int unpack_layer(struct unpacker *p, struct layer_unpack *u, crimp_error_t *err)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *mounts = NULL;
    if (prepare(p, u, &mounts, err) < 0)
        return -1;
    if (mounts == NULL)
        return 0;
    int r = apply(p, u, mounts, err);
    protobuf_c_message_free_unpacked(&mounts->base, NULL);
    if (r < 0 || commit_snapshot(p, u, err) < 0) {
        snapshot_remove(p, u->key);
        return -1;
    }
    return 0;
}

int ctrd_unpack(struct ctrd_backend *b, const struct ctrd_opts *o,
                const struct dist_descriptor *layers, size_t n, json_t *diff_ids,
                char *const *chains, crimp_error_t *err)
{
    struct unpacker up = {.b = b, .o = o}, *p = &up;
    /* A committed snapshot implies its parents: a warm pull stops here.  */
    int top = ctrd_snapshot_exists(b, o, chains[n - 1], err);
    if (top != 0)
        return top < 0 ? -1 : 0;
    for (size_t i = 0; i < n; i++) {
        int exists = i + 1 < n ? ctrd_snapshot_exists(b, o, chains[i], err) : 0;
        if (exists < 0)
            return -1;
        if (exists)
            continue;
        json_auto_t *labels = json_pack("{s:s}", LABEL_SNAPSHOT_REF, chains[i]);
        struct layer_unpack u = {.blob = &layers[i],
                                 .diff_id = json_string_value(json_array_get(diff_ids, i)),
                                 .chain = chains[i],
                                 .parent = i ? chains[i - 1] : NULL,
                                 .labels = labels};
        int r = unpack_layer(p, &u, err);
        free(u.key);
        if (r < 0)
            return crimp_error_wrap(err, "unpack layer %zu (%s)", i, layers[i].digest);
    }
    return 0;
}
