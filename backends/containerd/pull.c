/* PullImage on containerd's native API: what containerd's Go client does
 * in-process, in C (docs/containerd.md, "Images").
 *
 *   lease → resolve (registry) → index → platform manifest → config →
 *   layers, each into the content store through Content/Write (STAT first:
 *   nothing is downloaded for a blob that is there or shared from another
 *   namespace) with its GC and distribution.source labels → unpack (one
 *   snapshot per chain ID, Diff.Apply: unpack.c) → image records → lease
 *   deleted.
 *
 * Layers are fetched and applied one after the other.  Concurrent pulls of
 * one reference (with the same credentials) are coalesced: the first does
 * the work, the others wait for it and share its result.  */
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "common/registry/distribution.h"
#include "common/pull_progress.h"
#include "digest.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "log.h"
#include "utils.h"

#define JSON_BLOB_MAX  (4 << 20)  /* manifests, indexes, configs */
#define WRITE_CHUNK    (1 << 20)  /* bytes per Content/Write WRITE message */

#define LABEL_GC_CONTENT    "containerd.io/gc.ref.content."
#define LABEL_GC_SNAPSHOT   "containerd.io/gc.ref.snapshot."
#define LABEL_SOURCE        "containerd.io/distribution.source."
#define LABEL_UNCOMPRESSED  "containerd.io/uncompressed"

/* ---- pure helpers -------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void ctrd_map_entries_free(size_t n, void *entries)
{
    ProtobufCMessage **e = entries;
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(e[i], NULL);
    free(e);
}

/* The distribution.source label's new value once REPO is added to the
 * comma-separated list CURRENT; NULL when REPO is listed already.  */
static char *source_label_merge(const char *current, const char *repo)
{
    if (str_empty(current))
        return xstrdup(repo);
    size_t n = strlen(repo);
    for (const char *p = current; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, repo, n) == 0)
            return NULL;
        p += len + (p[len] == ',');
    }
    return xasprintf("%s,%s", current, repo);
}

/* ---- one pull ------------------------------------------------------------ */

struct pull {
    struct ctrd_backend *b;
    struct ctrd_opts o;        /* under the pull's lease */
    struct ctrd_opts o_stream; /* the same, without a deadline (ingests) */
    struct dist_ref ref;
    struct dist_session *session;
    char *source_key; /* containerd.io/distribution.source.<host> */
    struct crimp_pull_progress *progress; /* what GET /v1/pulls shows */
};

/* Content/Info of DIGEST: 1 with *INFO (caller frees), 0 when absent.  */
static int content_info(struct pull *p, const char *digest,
                        Containerd__Services__Content__V1__InfoResponse **info,
                        crimp_error_t *err)
{
    Containerd__Services__Content__V1__InfoRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__INFO_REQUEST__INIT;
    req.digest = (char *)digest;
    return ctrd_call_lookup(p->b->conn, &p->o, CTRD_CONTENT "Info", &req.base,
                            &containerd__services__content__v1__info_response__descriptor,
                            (ProtobufCMessage **)info, err);
}

/* Content/Update of DIGEST setting exactly the labels in SET.  */
static int content_set_labels(struct pull *p, const char *digest, json_t *set, crimp_error_t *err)
{
    Containerd__Services__Content__V1__Info info = CONTAINERD__SERVICES__CONTENT__V1__INFO__INIT;
    info.digest = (char *)digest;
    ctrd_map_from_json(set, &containerd__services__content__v1__info__labels_entry__descriptor,
                       &info.n_labels, &info.labels);
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = xcalloc(info.n_labels + 1, sizeof(char *));
    for (size_t i = 0; i < info.n_labels; i++)
        mask.paths[mask.n_paths++] = xasprintf("labels.%s", info.labels[i]->key);
    Containerd__Services__Content__V1__UpdateRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__UPDATE_REQUEST__INIT;
    req.info = &info;
    req.update_mask = &mask;
    ProtobufCMessage *resp = NULL;
    int ret = ctrd_call(p->b->conn, &p->o, CTRD_CONTENT "Update", &req.base,
                        &containerd__services__content__v1__update_response__descriptor, &resp,
                        err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    strv_free(mask.paths, mask.n_paths);
    ctrd_map_entries_free(info.n_labels, info.labels);
    return ret < 0 ? crimp_error_wrap(err, "label %s", digest) : 0;
}

/* Adds to content INFO the labels of WANT it lacks (the distribution
 * source merged into the list already there); no call when none.  */
static int ensure_labels(struct pull *p, const Containerd__Services__Content__V1__Info *info,
                         json_t *want, crimp_error_t *err)
{
    json_auto_t *have = ctrd_map_to_json(info->n_labels, (void *const *)info->labels);
    json_auto_t *set = json_object();
    const char *key;
    json_t *v;
    json_object_foreach (want, key, v) {
        const char *cur = json_string_value(json_object_get(have, key));
        if (strcmp(key, p->source_key) == 0) {
            char *merged = source_label_merge(cur, p->ref.path);
            if (merged)
                json_object_set_new(set, key, json_string(merged));
            free(merged);
        } else if (cur == NULL || strcmp(cur, json_string_value(v)) != 0) {
            json_object_set(set, key, v);
        }
    }
    if (json_object_size(set) == 0)
        return 0;
    return content_set_labels(p, info->digest, set, err);
}

/* Labels a blob that turned out to be there already.  */
static int label_existing(struct pull *p, const char *digest, json_t *labels, crimp_error_t *err)
{
    Containerd__Services__Content__V1__InfoResponse *info = NULL;
    int found = content_info(p, digest, &info, err);
    if (found <= 0)
        return found < 0 ? -1
                         : crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0,
                                            "content %s vanished during the pull", digest);
    int ret = ensure_labels(p, info->info, labels, err);
    protobuf_c_message_free_unpacked(&info->base, NULL);
    return ret;
}

/* The labels every blob of this pull gets, plus EXTRA (stolen).  */
static json_t *blob_labels(struct pull *p, json_t *extra)
{
    json_t *labels = extra ? extra : json_object();
    json_object_set_new(labels, p->source_key, json_string(p->ref.path));
    return labels;
}

/* Commits W with LABELS; a commit that failed (digest or size mismatch)
 * aborts the ingest so that the next pull starts over.  */
static int commit(struct pull *p, struct ctrd_writer *w, const char *ref, json_t *labels,
                  crimp_error_t *err)
{
    if (ctrd_writer_commit(w, labels, err) == 0)
        return 0;
    Containerd__Services__Content__V1__AbortRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__ABORT_REQUEST__INIT;
    req.ref = (char *)ref;
    ProtobufCMessage *resp = NULL;
    cleanup_error crimp_error_t aerr = NULL;
    if (ctrd_call(p->b->conn, &p->o, CTRD_CONTENT "Abort", &req.base,
                  &google__protobuf__empty__descriptor, &resp, &aerr) == 0)
        protobuf_c_message_free_unpacked(resp, NULL);
    return -1;
}

static int write_chunks(struct ctrd_writer *w, const char *data, size_t len, crimp_error_t *err)
{
    for (size_t off = 0; off < len; off += WRITE_CHUNK) {
        size_t n = len - off < WRITE_CHUNK ? len - off : WRITE_CHUNK;
        if (ctrd_writer_write(w, data + off, n, err) < 0)
            return -1;
    }
    return 0;
}

/* A dist sink that fills WRITE messages of up to WRITE_CHUNK bytes.  */
struct blob_sink {
    struct ctrd_writer *w;
    char *buf;
    size_t len;
    struct crimp_pull_progress *progress;
    const struct dist_descriptor *d;
    int64_t received; /* bytes of the blob so far, a resumed ingest's included */
};

static int blob_sink_flush(struct blob_sink *s, crimp_error_t *err)
{
    if (s->len == 0)
        return 0;
    int r = ctrd_writer_write(s->w, s->buf, s->len, err);
    s->len = 0;
    return r;
}

static int blob_sink_cb(void *ctx, const void *data, size_t len, crimp_error_t *err)
{
    struct blob_sink *s = ctx;
    const char *in = data;
    s->received += (int64_t)len;
    while (len > 0) {
        size_t n = WRITE_CHUNK - s->len < len ? WRITE_CHUNK - s->len : len;
        memcpy(s->buf + s->len, in, n);
        s->len += n;
        in += n;
        len -= n;
        if (s->len == WRITE_CHUNK && blob_sink_flush(s, err) < 0)
            return -1;
    }
    crimp_pull_progress_layer(s->progress, s->d->digest, s->d->size, s->received);
    return 0;
}

/* Sends blob D from byte OFF: the rest of DATA, or when DATA is NULL,
 * straight from the registry.  */
static int send_rest(struct pull *p, struct ctrd_writer *w, const struct dist_descriptor *d,
                     const char *data, int64_t off, crimp_error_t *err)
{
    if (data)
        return write_chunks(w, data + off, (size_t)(d->size - off), err);
    cleanup_free char *buf = xmalloc(WRITE_CHUNK);
    struct blob_sink s = {.w = w, .buf = buf, .progress = p->progress, .d = d, .received = off};
    if (dist_fetch_blob(p->session, d, off, blob_sink_cb, &s, err) < 0)
        return -1;
    return blob_sink_flush(&s, err);
}

/* Puts blob D into the content store under ingest REF with LABELS: from
 * DATA (the whole blob, already fetched) or, when DATA is NULL, from the
 * registry, resuming an interrupted ingest.  A blob that is there already
 * (in this namespace) is only labelled; one that another namespace has is
 * committed without sending a byte.  */
static int ingest(struct pull *p, const char *ref, const struct dist_descriptor *d,
                  const char *data, json_t *labels, crimp_error_t *err)
{
    struct ctrd_writer *w = NULL;
    int64_t off = 0;
    int r = ctrd_writer_open(p->b->conn, &p->o_stream, ref, d->size, d->digest, &w, &off, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return label_existing(p, d->digest, labels, err);
    if (off < d->size && send_rest(p, w, d, data, off, err) < 0) {
        ctrd_writer_free(w);
        return -1;
    }
    return commit(p, w, ref, labels, err);
}

/* Layer D in the content store with LABELS (stolen).  */
static int ensure_layer(struct pull *p, const struct dist_descriptor *d, json_t *labels,
                        crimp_error_t *err)
{
    json_auto_t *want = blob_labels(p, labels);
    Containerd__Services__Content__V1__InfoResponse *info = NULL;
    int found = content_info(p, d->digest, &info, err);
    if (found < 0)
        return -1;
    if (found) {
        int ret = ensure_labels(p, info->info, want, err);
        protobuf_c_message_free_unpacked(&info->base, NULL);
        return ret;
    }
    cleanup_free char *ref = xasprintf("layer-%s", d->digest);
    return ingest(p, ref, d, NULL, want, err);
}

/* A memory sink for a config blob.  */
struct mem_sink {
    char *data;
    size_t len;
};

static int mem_sink_cb(void *ctx, const void *data, size_t len, crimp_error_t *err)
{
    struct mem_sink *m = ctx;
    if (m->len + len > JSON_BLOB_MAX)
        return crimp_make_error(err, GRPC_STATUS_OUT_OF_RANGE, 0, "blob larger than %d bytes",
                                JSON_BLOB_MAX);
    m->data = xrealloc(m->data, m->len + len + 1);
    memcpy(m->data + m->len, data, len);
    m->len += len;
    m->data[m->len] = '\0';
    return 0;
}

/* The body of a manifest, index or config D from the registry.  */
static int fetch_json_body(struct pull *p, const struct dist_descriptor *d, bool is_config,
                           char **body, size_t *len, crimp_error_t *err)
{
    if (is_config) {
        struct mem_sink m = {0};
        if (dist_fetch_blob(p->session, d, 0, mem_sink_cb, &m, err) < 0) {
            free(m.data);
            return -1;
        }
        *body = m.data ? m.data : xstrdup("");
        *len = m.len;
        return 0;
    }
    cleanup_free char *mt = NULL;
    if (dist_fetch_manifest(p->session, d->digest, body, len, &mt, err) < 0)
        return -1;
    if ((int64_t)*len != d->size) {
        free(steal_ptr(body));
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "manifest %s: %zu bytes, the descriptor says %" PRId64,
                                d->digest, *len, d->size);
    }
    return 0;
}

/* What to label a JSON node with, from its parsed body.  */
typedef json_t *(*node_labels_fn)(struct pull *p, json_t *body, void *ctx, crimp_error_t *err);

/* A JSON node (KIND "index", "manifest" or "config") in the content store:
 * read back when there, else fetched and written; labelled with what
 * LABELS_FN derives from it.  *OUT: the parsed body (caller decrefs).  */
static int ensure_json_node(struct pull *p, const char *kind, const struct dist_descriptor *d,
                            node_labels_fn labels_fn, void *ctx, json_t **out,
                            crimp_error_t *err)
{
    *out = NULL;
    Containerd__Services__Content__V1__InfoResponse *info = NULL;
    int found = content_info(p, d->digest, &info, err);
    if (found < 0)
        return -1;
    cleanup_free char *body = NULL;
    size_t len = 0;
    json_auto_t *j = NULL;
    if (found) {
        j = ctrd_content_json(p->b, &p->o, d->digest, err);
    } else if (fetch_json_body(p, d, strcmp(kind, "config") == 0, &body, &len, err) == 0) {
        json_error_t jerr;
        j = json_loadb(body, len, 0, &jerr);
        if (j == NULL)
            crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "%s %s: not JSON: %s", kind,
                             d->digest, jerr.text);
    }
    json_auto_t *labels = j ? labels_fn(p, j, ctx, err) : NULL;
    cleanup_free char *ref = xasprintf("%s-%s", kind, d->digest);
    int ret = labels == NULL ? -1
              : found        ? ensure_labels(p, info->info, labels, err)
                             : ingest(p, ref, d, body, labels, err);
    if (info)
        protobuf_c_message_free_unpacked(&info->base, NULL);
    if (ret < 0)
        return crimp_error_wrap(err, "%s %s", kind, d->digest);
    *out = steal_ptr(&j);
    return 0;
}

/* ---- the nodes ----------------------------------------------------------- */

/* Index: picks this platform's manifest into CTX (a dist_descriptor) and
 * references it.  */
static json_t *index_labels(struct pull *p, json_t *index, void *ctx, crimp_error_t *err)
{
    struct dist_descriptor *m = ctx;
    if (dist_index_select(index, "linux", ctrd_platform_arch(), m, err) < 0)
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(index, "manifests"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "digest")) ?: "", m->digest) == 0)
            break;
    json_t *labels = json_object();
    cleanup_free char *key = xasprintf(LABEL_GC_CONTENT "m.%zu", i);
    json_object_set_new(labels, key, json_string(m->digest));
    return blob_labels(p, labels);
}

struct manifest_parts {
    struct dist_descriptor config;
    struct dist_descriptor *layers;
    size_t n_layers;
};

static void manifest_parts_clear(struct manifest_parts *m)
{
    dist_descriptor_clear(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        dist_descriptor_clear(&m->layers[i]);
    free(m->layers);
    memset(m, 0, sizeof(*m));
}

static json_t *manifest_labels(struct pull *p, json_t *manifest, void *ctx, crimp_error_t *err)
{
    struct manifest_parts *m = ctx;
    if (dist_manifest_parse(manifest, &m->config, &m->layers, &m->n_layers, err) < 0)
        return NULL;
    json_t *labels = json_object();
    json_object_set_new(labels, LABEL_GC_CONTENT "config", json_string(m->config.digest));
    for (size_t i = 0; i < m->n_layers; i++) {
        cleanup_free char *key = xasprintf(LABEL_GC_CONTENT "l.%zu", i);
        json_object_set_new(labels, key, json_string(m->layers[i].digest));
    }
    return blob_labels(p, labels);
}

struct config_parts {
    size_t n_layers; /* in: the manifest's */
    char **chains;   /* out */
    size_t n_chains;
};

/* Config: its chain IDs (one per manifest layer) into CTX; it references
 * the top snapshot, which keeps the whole chain.  */
static json_t *config_labels(struct pull *p, json_t *config, void *ctx, crimp_error_t *err)
{
    struct config_parts *c = ctx;
    c->chains = ctrd_chain_ids(config, &c->n_chains, err);
    if (c->chains == NULL)
        return NULL;
    if (c->n_chains != c->n_layers)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%zu rootfs.diff_ids for %zu manifest layers", c->n_chains,
                                c->n_layers),
               NULL;
    json_t *labels = json_object();
    cleanup_free char *key = xasprintf(LABEL_GC_SNAPSHOT "%s", p->b->snapshotter);
    json_object_set_new(labels, key, json_string(c->chains[c->n_chains - 1]));
    return blob_labels(p, labels);
}

/* ---- image records ------------------------------------------------------- */

/* Images.Create of NAME → TOP, or Images.Update when NAME exists (a tag
 * that moved, a re-pull).  */
static int put_image_record(struct pull *p, const char *name, const struct dist_descriptor *top,
                            crimp_error_t *err)
{
    Containerd__Types__Descriptor target = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    target.media_type = top->media_type;
    target.digest = top->digest;
    target.size = top->size;
    Containerd__Services__Images__V1__Image img = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    img.name = (char *)name;
    img.target = &target;
    json_auto_t *labels = json_pack("{s:s}", CTRD_LABEL_IMAGE, "managed");
    ctrd_map_from_json(labels, &containerd__services__images__v1__image__labels_entry__descriptor,
                       &img.n_labels, &img.labels);
    Containerd__Services__Images__V1__CreateImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
    req.image = &img;
    ProtobufCMessage *resp = NULL;
    int r = ctrd_call(p->b->conn, &p->o, CTRD_IMAGES "Create", &req.base,
                      &containerd__services__images__v1__create_image_response__descriptor, &resp,
                      err);
    if (r < 0 && (*err)->code == GRPC_STATUS_ALREADY_EXISTS) {
        crimp_error_release(err);
        char *paths[] = {"target", "labels." CTRD_LABEL_IMAGE};
        Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
        mask.paths = paths;
        mask.n_paths = CRIMP_ARRAY_SIZE(paths);
        Containerd__Services__Images__V1__UpdateImageRequest up =
            CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_REQUEST__INIT;
        up.image = &img;
        up.update_mask = &mask;
        r = ctrd_call(p->b->conn, &p->o, CTRD_IMAGES "Update", &up.base,
                      &containerd__services__images__v1__update_image_response__descriptor, &resp,
                      err);
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (r == 0) /* a status right after the pull sees it */
        ctrd_image_store_put(p->b->image_store, &img);
    ctrd_map_entries_free(img.n_labels, img.labels);
    return r < 0 ? crimp_error_wrap(err, "image record %s", name) : 0;
}

/* The names the CRI gives a pulled image: the reference as pulled (unless
 * it names a digest), the repo digest, the image ID.  */
static int put_image_records(struct pull *p, const struct dist_descriptor *top,
                             const char *image_id, crimp_error_t *err)
{
    cleanup_free char *repo_digest = dist_ref_with_digest(&p->ref, top->digest);
    if (p->ref.digest == NULL && put_image_record(p, p->ref.normalized, top, err) < 0)
        return -1;
    if (put_image_record(p, repo_digest, top, err) < 0)
        return -1;
    return put_image_record(p, image_id, top, err);
}

/* ---- the pipeline -------------------------------------------------------- */

/* Everything after the lease: *IMAGE_ID is the config digest.  */
static int pull_image(struct pull *p, char **image_id, crimp_error_t *err)
{
    struct dist_descriptor top = {0}, manifest = {0};
    struct manifest_parts m = {0};
    struct config_parts c = {0};
    json_t *index = NULL, *man = NULL, *config = NULL;
    int ret = -1;
    if (dist_resolve(p->session, &top, err) < 0)
        goto out;
    if (dist_is_index(top.media_type)) {
        if (ensure_json_node(p, "index", &top, index_labels, &manifest, &index, err) < 0)
            goto out;
    } else {
        manifest.media_type = xstrdup(top.media_type);
        manifest.digest = xstrdup(top.digest);
        manifest.size = top.size;
    }
    if (ensure_json_node(p, "manifest", &manifest, manifest_labels, &m, &man, err) < 0)
        goto out;
    c.n_layers = m.n_layers;
    if (ensure_json_node(p, "config", &m.config, config_labels, &c, &config, err) < 0)
        goto out;
    json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    for (size_t i = 0; i < m.n_layers; i++)
        crimp_pull_progress_layer(p->progress, m.layers[i].digest, m.layers[i].size, 0);
    for (size_t i = 0; i < m.n_layers; i++) {
        json_t *labels = json_pack("{s:O}", LABEL_UNCOMPRESSED, json_array_get(diff_ids, i));
        if (ensure_layer(p, &m.layers[i], labels, err) < 0) {
            crimp_error_wrap(err, "layer %s", m.layers[i].digest);
            goto out;
        }
        crimp_pull_progress_layer_done(p->progress, m.layers[i].digest);
    }
    if (ctrd_unpack(p->b, &p->o, m.layers, m.n_layers, diff_ids, c.chains, err) < 0 ||
        put_image_records(p, &top, m.config.digest, err) < 0)
        goto out;
    *image_id = xstrdup(m.config.digest);
    ret = 0;
out:
    json_decref(index);
    json_decref(man);
    json_decref(config);
    strv_free(c.chains, c.n_chains);
    manifest_parts_clear(&m);
    dist_descriptor_clear(&manifest);
    dist_descriptor_clear(&top);
    return ret;
}

static void auth_from_cri(const Runtime__V1__AuthConfig *a, struct dist_auth *out)
{
    memset(out, 0, sizeof(*out));
    if (a == NULL)
        return;
    out->username = str_empty(a->username) ? NULL : a->username;
    out->password = str_empty(a->password) ? NULL : a->password;
    out->auth = str_empty(a->auth) ? NULL : a->auth;
    out->identity_token = str_empty(a->identity_token) ? NULL : a->identity_token;
    out->registry_token = str_empty(a->registry_token) ? NULL : a->registry_token;
}

/* "containerd.io/distribution.source.<registry host without port>".  */
static char *source_label_key(const char *domain)
{
    const char *host = domain, *end;
    if (host[0] == '[' && (end = strchr(host, ']')) != NULL)
        return xasprintf(LABEL_SOURCE "%.*s", (int)(end - host - 1), host + 1);
    return xasprintf(LABEL_SOURCE "%.*s", (int)strcspn(host, ":"), host);
}

/* One whole pull of REF (parsed), not coalesced.  */
static int pull_uncoalesced(struct ctrd_backend *b, struct crimp_rpc *rpc,
                            const struct dist_ref *ref, const Runtime__V1__AuthConfig *auth,
                            char **image_id, crimp_error_t *err)
{
    struct pull p = {.b = b, .o = ctrd_opts_for(rpc), .o_stream = ctrd_opts_for(rpc)};
    p.o_stream.timeout_s = -1;
    if (dist_ref_parse(ref->normalized, &p.ref, err) < 0)
        return -1;
    struct dist_auth da;
    auth_from_cri(auth, &da);
    struct dist_options dopts = {.insecure = (const char *const *)b->insecure_registries,
                                 .hosts_dir = b->registry_config_path};
    p.session = dist_session_new(&p.ref, &da, &dopts, err);
    cleanup_free char *lease = NULL;
    int ret = -1;
    if (p.session != NULL && ctrd_lease_create(b->conn, &p.o, &lease, err) == 0) {
        p.o.lease = p.o_stream.lease = lease;
        p.source_key = source_label_key(p.ref.domain);
        /* A bare backend (unit tests) has no config: "containerd".  */
        p.progress = crimp_pull_progress_begin(b->base.config ? b->base.config->name : "containerd",
                                               p.ref.normalized);
        ret = pull_image(&p, image_id, err);
        crimp_pull_progress_end(p.progress, ret == 0);
        cleanup_error crimp_error_t lerr = NULL;
        struct ctrd_opts lo = ctrd_opts_for(NULL); /* even when the call was cancelled */
        if (ctrd_lease_delete(b->conn, &lo, lease, &lerr) < 0)
            log_warn("containerd: pull %s: delete lease %s: %s", p.ref.normalized, lease,
                     lerr->msg);
    }
    free(p.source_key);
    dist_session_free(p.session);
    dist_ref_clear(&p.ref);
    return ret < 0 ? crimp_error_wrap(err, "pull %s", ref->normalized) : 0;
}

/* ---- coalescing ---------------------------------------------------------- */

/* A pull in flight.  The first caller (the leader) runs it; others wait
 * for DONE and copy the result.  It leaves the table when done, and is
 * freed by whoever drops the last reference.  */
struct pull_call {
    struct pull_call *next;
    char *key;
    int refs;
    bool done;
    char *image_id;
    crimp_error_t err;
};

struct ctrd_pulls {
    pthread_mutex_t mu;
    pthread_cond_t done; /* broadcast whenever a pull ends */
    struct pull_call *calls;
};

struct ctrd_pulls *ctrd_pulls_new(void)
{
    struct ctrd_pulls *t = xcalloc(1, sizeof(*t));
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->done, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

/* Called once no pull runs any more.  */
void ctrd_pulls_free(struct ctrd_pulls *t)
{
    if (t == NULL)
        return;
    pthread_cond_destroy(&t->done);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void pull_call_unref(struct pull_call *c)
{
    if (--c->refs > 0)
        return;
    free(c->key);
    free(c->image_id);
    crimp_error_release(&c->err);
    free(c);
}

/* What makes two pulls the same: the normalized reference and the
 * credentials (a pull that fails for want of them must not fail another).  */
static char *pull_key(const char *normalized, const Runtime__V1__AuthConfig *a)
{
    struct sha256_ctx h;
    sha256_init(&h);
    const char *fields[] = {a ? a->username : NULL, a ? a->password : NULL, a ? a->auth : NULL,
                            a ? a->identity_token : NULL, a ? a->registry_token : NULL};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(fields); i++)
        sha256_update(&h, fields[i] ? fields[i] : "", fields[i] ? strlen(fields[i]) + 1 : 1);
    char auth[SHA256_DIGEST_STR_LEN];
    sha256_final_string(&h, auth);
    return xasprintf("%s %s", normalized, auth);
}

/* The leader's outcome as this caller's.  */
static int copy_result(const struct pull_call *c, char **image_id, crimp_error_t *err)
{
    if (c->err == NULL) {
        *image_id = xstrdup(c->image_id);
        return 0;
    }
    crimp_make_error(err, c->err->code, 0, "%s", c->err->msg);
    (*err)->errno_ = c->err->errno_;
    return -1;
}

/* Runs the pull as leader of C (called with the table unlocked).  */
static void lead(struct ctrd_backend *b, struct crimp_rpc *rpc, const struct dist_ref *ref,
                 const Runtime__V1__AuthConfig *auth, struct pull_call *c)
{
    char *id = NULL;
    crimp_error_t perr = NULL;
    int64_t start = crimp_now_mono_ns();
    int r = pull_uncoalesced(b, rpc, ref, auth, &id, &perr);
    log_debug("containerd: pull %s: %s in %.1f ms", ref->normalized, r < 0 ? perr->msg : id,
              (double)(crimp_now_mono_ns() - start) / 1e6);
    pthread_mutex_lock(&b->pulls->mu);
    c->image_id = id;
    c->err = perr;
    c->done = true;
    for (struct pull_call **pp = &b->pulls->calls; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    pthread_cond_broadcast(&b->pulls->done);
    pthread_mutex_unlock(&b->pulls->mu);
}

/* Waits (table locked) until C is done or RPC is cancelled.  */
static bool wait_done(struct ctrd_pulls *t, struct crimp_rpc *rpc, struct pull_call *c)
{
    while (!c->done) {
        if (rpc && crimp_rpc_cancelled(rpc))
            return false;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000 * 1000; /* recheck cancellation every 100 ms */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->done, &t->mu, &ts);
    }
    return true;
}

int ctrd_pull(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *ref,
              const Runtime__V1__AuthConfig *auth, char **image_id, crimp_error_t *err)
{
    *image_id = NULL;
    struct dist_ref parsed = {0};
    if (dist_ref_parse(ref, &parsed, err) < 0)
        return crimp_error_wrap(err, "pull %s", ref);
    cleanup_free char *key = pull_key(parsed.normalized, auth);
    struct ctrd_pulls *t = b->pulls;
    int ret;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        struct pull_call *c = t->calls;
        while (c && strcmp(c->key, key) != 0)
            c = c->next;
        bool led = c == NULL;
        if (led) {
            c = xcalloc(1, sizeof(*c));
            c->key = xstrdup(key);
            c->refs = 1;
            c->next = t->calls;
            t->calls = c;
            pthread_mutex_unlock(&t->mu);
            lead(b, rpc, &parsed, auth, c);
            pthread_mutex_lock(&t->mu);
        } else {
            c->refs++;
            if (!wait_done(t, rpc, c)) {
                pull_call_unref(c);
                ret = crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "pull %s: cancelled",
                                       parsed.normalized);
                break;
            }
        }
        /* The leader's kubelet call went away: that is no reason for ours
         * to fail; pull again.  */
        bool retry = !led && c->err && c->err->code == GRPC_STATUS_CANCELLED &&
                     !(rpc && crimp_rpc_cancelled(rpc));
        ret = retry ? 0 : copy_result(c, image_id, err);
        pull_call_unref(c);
        if (!retry)
            break;
    }
    pthread_mutex_unlock(&t->mu);
    dist_ref_clear(&parsed);
    /* A tag may point elsewhere now.  */
    ctrd_image_refs_forget(b->image_cache);
    return ret;
}
