/* The ImageService on containerd's native API: image records (Images),
 * their manifests and configs (Content), their unpacked layers
 * (Snapshots).  An image, as the CRI sees it, is every record whose target
 * is one descriptor: the tag(s), the repo digest and the ID record
 * "sha256:<config digest>" that PullImage creates (pull.c).  */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "common/cri_image.h"
#include "common/registry/distribution.h"
#include "common/fs_usage.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"
#include "github.com/containerd/containerd/api/services/introspection/v1/introspection.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "log.h"
#include "utils.h"

#define JSON_BLOB_MAX (4 << 20) /* manifests, indexes, configs */

typedef Containerd__Services__Images__V1__Image ctrd_record;
typedef Containerd__Services__Images__V1__ListImagesResponse ctrd_record_list;

const char *ctrd_platform_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__i386__)
    return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

json_t *ctrd_content_json(struct ctrd_backend *b, const struct ctrd_opts *o, const char *digest,
                          crimp_error_t *err)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    if (ctrd_content_read_all(b->conn, o, digest, JSON_BLOB_MAX, &data, &len, err) < 0)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(data, len, 0, &jerr);
    if (j == NULL)
        crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0, "content %s: not JSON: %s", digest,
                         jerr.text);
    return j;
}

int ctrd_absent_ok(crimp_error_t *e, crimp_error_t *err)
{
    if ((*e)->code == GRPC_STATUS_NOT_FOUND) {
        crimp_error_release(e);
        return 0;
    }
    *err = steal_ptr(e);
    return -1;
}

int ctrd_call_lookup(struct ctrd_conn *c, const struct ctrd_opts *o, const char *method,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp, crimp_error_t *err)
{
    *resp = NULL;
    crimp_error_t cerr = NULL;
    if (ctrd_call(c, o, method, req, resp_desc, resp, &cerr) == 0)
        return 1;
    return ctrd_absent_ok(&cerr, err);
}

static void strv_free(char **v)
{
    for (char **s = v; s && *s; s++)
        free(*s);
    free(v);
}

void ctrd_image_clear(struct ctrd_image *img)
{
    free(img->id);
    free(img->name);
    json_decref(img->config);
    free(img->chain_id);
    strv_free(img->repo_tags);
    strv_free(img->repo_digests);
    memset(img, 0, sizeof(*img));
}

/* ---- records ------------------------------------------------------------- */

int ctrd_image_record_fetch(struct ctrd_backend *b, const struct ctrd_opts *o, const char *name,
                            ctrd_record **rec, crimp_error_t *err)
{
    Containerd__Services__Images__V1__GetImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;
    req.name = (char *)name;
    Containerd__Services__Images__V1__GetImageResponse *resp = NULL;
    int found = ctrd_call_lookup(b->conn, o, CTRD_IMAGES "Get", &req.base,
                                 &containerd__services__images__v1__get_image_response__descriptor,
                                 (ProtobufCMessage **)&resp, err);
    if (found <= 0)
        return found;
    *rec = steal_ptr(&resp->image);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return *rec && (*rec)->target ? 1 : 0;
}

ctrd_record_list *ctrd_image_records_fetch(struct ctrd_backend *b, const struct ctrd_opts *o,
                                           const char *filter, crimp_error_t *err)
{
    Containerd__Services__Images__V1__ListImagesRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;
    char *filters[] = {(char *)filter};
    req.filters = filter ? filters : NULL;
    req.n_filters = filter ? 1 : 0;
    ctrd_record_list *resp = NULL;
    if (ctrd_call(b->conn, o, CTRD_IMAGES "List", &req.base,
                  &containerd__services__images__v1__list_images_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return NULL;
    return resp;
}

/* The record NAME: from the image store while it is current, else by
 * Images.Get.  1 with *REC (caller frees), 0 when there is none.  */
static int record_get(struct ctrd_backend *b, const struct ctrd_opts *o, const char *name,
                      ctrd_record **rec, crimp_error_t *err)
{
    int found = ctrd_image_store_get(b->image_store, name, rec);
    return found >= 0 ? found : ctrd_image_record_fetch(b, o, name, rec, err);
}

/* Every record: from the image store while it is current, else by
 * Images.List.  */
static ctrd_record_list *record_list(struct ctrd_backend *b, const struct ctrd_opts *o,
                                     crimp_error_t *err)
{
    ctrd_record_list *all = ctrd_image_store_list(b->image_store, NULL);
    return all ? all : ctrd_image_records_fetch(b, o, NULL, err);
}

/* Every record pointing at DIGEST: the names of one image.  */
static ctrd_record_list *records_of_target(struct ctrd_backend *b, const struct ctrd_opts *o,
                                           const char *digest, crimp_error_t *err)
{
    ctrd_record_list *names = ctrd_image_store_list(b->image_store, digest);
    if (names)
        return names;
    cleanup_free char *filter = xasprintf("target.digest==\"%s\"", digest);
    return ctrd_image_records_fetch(b, o, filter, err);
}

static bool is_lower_hex(const char *s)
{
    return *s && strspn(s, "0123456789abcdef") == strlen(s);
}

/* The ID record whose name starts with "sha256:" + HEX, if exactly one
 * does; INVALID_ARGUMENT when several do.  */
static int record_by_id_prefix(struct ctrd_backend *b, const struct ctrd_opts *o, const char *hex,
                               ctrd_record **rec, crimp_error_t *err)
{
    ctrd_record_list *all = record_list(b, o, err);
    if (all == NULL)
        return -1;
    cleanup_free char *prefix = xasprintf("sha256:%s", hex);
    size_t found = all->n_images, matches = 0;
    for (size_t i = 0; i < all->n_images; i++)
        if (has_prefix(all->images[i]->name, prefix) && all->images[i]->target) {
            found = i;
            matches++;
        }
    int ret = matches == 1;
    if (matches == 1)
        *rec = steal_ptr(&all->images[found]);
    else if (matches > 1)
        ret = crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                               "image ID prefix %s matches %zu images", hex, matches);
    protobuf_c_message_free_unpacked(&all->base, NULL);
    return ret;
}

/* The record REF names: as a reference (normalized, or without its tag
 * when it also has a digest), as an image ID, as an ID prefix.  1 with
 * *REC (caller frees), 0 when none.  */
static int record_find(struct ctrd_backend *b, const struct ctrd_opts *o, const char *ref,
                       ctrd_record **rec, crimp_error_t *err)
{
    *rec = NULL;
    const char *hex = has_prefix(ref, "sha256:") ? ref + strlen("sha256:") : ref;
    if (hex != ref && strlen(hex) == 64 && is_lower_hex(hex))
        return record_get(b, o, ref, rec, err);
    struct dist_ref parsed = {0};
    cleanup_error crimp_error_t perr = NULL;
    if (dist_ref_parse(ref, &parsed, &perr) == 0) {
        cleanup_free char *digest_only =
            parsed.tag && parsed.digest ? dist_ref_with_digest(&parsed, parsed.digest) : NULL;
        int r = record_get(b, o, digest_only ? digest_only : parsed.normalized, rec, err);
        dist_ref_clear(&parsed);
        if (r != 0)
            return r;
    }
    if (!is_lower_hex(hex))
        return 0;
    return record_by_id_prefix(b, o, hex, rec, err);
}

/* ---- an image from its record -------------------------------------------- */

/* The image manifest TARGET stands for (through an index, for this
 * platform); adds the sizes of what it read to *SIZE.  */
static json_t *read_manifest(struct ctrd_backend *b, const struct ctrd_opts *o,
                             const Containerd__Types__Descriptor *target, int64_t *size,
                             crimp_error_t *err)
{
    json_t *j = ctrd_content_json(b, o, target->digest, err);
    if (j == NULL || !dist_is_index(target->media_type)) {
        *size += target->size;
        return j;
    }
    json_auto_t *index = j;
    struct dist_descriptor m = {0};
    if (dist_index_select(index, "linux", ctrd_platform_arch(), &m, err) < 0)
        return NULL;
    json_t *manifest = ctrd_content_json(b, o, m.digest, err);
    *size += target->size + m.size;
    dist_descriptor_clear(&m);
    return manifest;
}

/* The manifest's config, its layers' total size and its top chain ID.  */
static int read_config(struct ctrd_backend *b, const struct ctrd_opts *o, json_t *manifest,
                       struct ctrd_image *img, crimp_error_t *err)
{
    struct dist_descriptor config = {0}, *layers = NULL;
    size_t n_layers = 0;
    if (dist_manifest_parse(manifest, &config, &layers, &n_layers, err) < 0)
        return -1;
    img->size += config.size;
    for (size_t i = 0; i < n_layers; i++) {
        img->size += layers[i].size;
        dist_descriptor_clear(&layers[i]);
    }
    free(layers);
    img->id = steal_ptr(&config.digest);
    dist_descriptor_clear(&config);
    img->config = ctrd_content_json(b, o, img->id, err);
    if (img->config == NULL)
        return -1;
    size_t n = 0;
    char **chains = ctrd_chain_ids(img->config, &n, err);
    if (chains == NULL)
        return -1;
    img->chain_id = steal_ptr(&chains[n - 1]);
    for (size_t i = 0; i < n; i++)
        free(chains[i]);
    free(chains);
    return 0;
}

/* What REC points at, as an image: ID, config, top chain ID, size (from
 * the cache when this target was read before); with CHECK_UNPACKED the
 * image must be unpacked (NOT_FOUND otherwise).  */
static int image_load(struct ctrd_backend *b, const struct ctrd_opts *o, const ctrd_record *rec,
                      bool check_unpacked, struct ctrd_image *img, crimp_error_t *err)
{
    memset(img, 0, sizeof(*img));
    img->name = xstrdup(rec->name);
    int r = 1;
    if (!ctrd_image_cache_get(b->image_cache, rec->target->digest, img)) {
        json_auto_t *manifest = read_manifest(b, o, rec->target, &img->size, err);
        r = manifest ? read_config(b, o, manifest, img, err) : -1;
        if (r == 0) {
            ctrd_image_cache_put(b->image_cache, rec->target->digest, img);
            r = 1;
        }
    }
    if (r == 1 && check_unpacked && !ctrd_image_store_unpacked(b->image_store, img->chain_id)) {
        r = ctrd_snapshot_exists(b, o, img->chain_id, err);
        if (r == 1) /* stays so until a /snapshot/remove of it */
            ctrd_image_store_set_unpacked(b->image_store, img->chain_id);
    }
    if (r == 0)
        crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "image %s is not unpacked in %s",
                         rec->name, b->snapshotter);
    if (r <= 0) {
        ctrd_image_clear(img);
        return crimp_error_wrap(err, "image %s", rec->name);
    }
    return 0;
}

static void strv_append(char ***v, const char *s)
{
    size_t n = 0;
    while (*v && (*v)[n])
        if (strcmp((*v)[n++], s) == 0)
            return;
    *v = xrealloc(*v, (n + 2) * sizeof(char *));
    (*v)[n] = xstrdup(s);
    (*v)[n + 1] = NULL;
}

/* Repo tags ("reg/repo:tag") and repo digests ("reg/repo@sha256:…") among
 * the names of N records; ID records ("sha256:…") are neither.  */
static void image_add_names(struct ctrd_image *img, ctrd_record *const *recs, size_t n)
{
    if (img->repo_tags == NULL)
        img->repo_tags = xcalloc(1, sizeof(char *));
    if (img->repo_digests == NULL)
        img->repo_digests = xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *name = recs[i]->name;
        if (has_prefix(name, "sha256:"))
            continue;
        strv_append(strchr(name, '@') ? &img->repo_digests : &img->repo_tags, name);
    }
}

/* REF's image from the caches alone (a name seen lately whose content is
 * cached): no call.  */
static bool image_from_caches(struct ctrd_backend *b, const char *ref, struct ctrd_image *img)
{
    cleanup_free char *name = NULL, *digest = NULL;
    if (!ctrd_image_refs_get(b->image_cache, ref, &name, &digest) ||
        !ctrd_image_cache_get(b->image_cache, digest, img))
        return false;
    img->name = steal_ptr(&name);
    return true;
}

int ctrd_image_get(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *ref, int what,
                   struct ctrd_image *img, crimp_error_t *err)
{
    memset(img, 0, sizeof(*img));
    if (what == 0 && image_from_caches(b, ref, img))
        return 0;
    struct ctrd_opts o = ctrd_opts_for(rpc);
    ctrd_record *rec = NULL;
    int found = record_find(b, &o, ref, &rec, err);
    if (found <= 0)
        return found < 0 ? -1 : crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0,
                                                 "image %s not found", ref);
    int r = image_load(b, &o, rec, (what & CTRD_IMAGE_CHECK_UNPACKED) != 0, img, err);
    if (r == 0)
        ctrd_image_refs_put(b->image_cache, ref, rec->name, rec->target->digest);
    bool want_names = r == 0 && (what & CTRD_IMAGE_NAMES);
    ctrd_record_list *names = want_names ? records_of_target(b, &o, rec->target->digest, err) : NULL;
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    if (r < 0)
        return -1;
    if (!want_names)
        return 0;
    if (names == NULL) {
        ctrd_image_clear(img);
        return -1;
    }
    image_add_names(img, names->images, names->n_images);
    protobuf_c_message_free_unpacked(&names->base, NULL);
    return 0;
}

int ctrd_image_ensure(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *ref,
                      struct ctrd_image *img, crimp_error_t *err)
{
    crimp_error_t gerr = NULL;
    if (ctrd_image_get(b, rpc, ref, CTRD_IMAGE_CHECK_UNPACKED, img, &gerr) == 0)
        return 0;
    if (ctrd_absent_ok(&gerr, err) < 0)
        return -1;
    cleanup_free char *id = NULL;
    if (ctrd_pull(b, rpc, ref, NULL, &id, err) < 0)
        return -1;
    return ctrd_image_get(b, rpc, ref, CTRD_IMAGE_CHECK_UNPACKED, img, err);
}

/* ---- the CRI operations --------------------------------------------------- */

static Runtime__V1__Image *image_to_cri(const struct ctrd_image *img)
{
    const char *user = json_string_value(json_object_get(json_object_get(img->config, "config"),
                                                         "User"));
    Runtime__V1__Image *out = crimp_cri_image_new(img->id, (uint64_t)img->size, user);
    for (char **s = img->repo_tags; s && *s; s++)
        out->n_repo_tags++;
    out->repo_tags = xcalloc(out->n_repo_tags + 1, sizeof(char *));
    for (size_t i = 0; i < out->n_repo_tags; i++)
        out->repo_tags[i] = xstrdup(img->repo_tags[i]);
    for (char **s = img->repo_digests; s && *s; s++)
        out->n_repo_digests++;
    out->repo_digests = xcalloc(out->n_repo_digests + 1, sizeof(char *));
    for (size_t i = 0; i < out->n_repo_digests; i++)
        out->repo_digests[i] = xstrdup(img->repo_digests[i]);
    return out;
}

/* The verbose "info" entry: what containerd's CRI shows (chain ID and the
 * image config).  */
static void set_verbose_info(Runtime__V1__ImageStatusResponse *resp, const struct ctrd_image *img)
{
    json_auto_t *info = json_pack("{s:s, s:s, s:O}", "imageRef", img->id, "chainID",
                                  img->chain_id, "imageSpec", img->config);
    Runtime__V1__ImageStatusResponse__InfoEntry *e = xmalloc(sizeof(*e));
    runtime__v1__image_status_response__info_entry__init(e);
    e->key = xstrdup("info");
    e->value = json_dumps(info, JSON_COMPACT);
    resp->info = xcalloc(1, sizeof(*resp->info));
    resp->info[0] = e;
    resp->n_info = 1;
}

int ctrd_image_status(struct crimp_backend *self, struct crimp_rpc *rpc,
                      const Runtime__V1__ImageStatusRequest *req,
                      Runtime__V1__ImageStatusResponse *resp, crimp_error_t *err)
{
    struct ctrd_image img = {0};
    crimp_error_t gerr = NULL;
    /* CRI: an absent image is an empty reply, not an error.  */
    if (ctrd_image_get(ctrd_of(self), rpc, req->image->image, CTRD_IMAGE_ALL, &img, &gerr) < 0)
        return ctrd_absent_ok(&gerr, err);
    resp->image = image_to_cri(&img);
    if (req->verbose)
        set_verbose_info(resp, &img);
    ctrd_image_clear(&img);
    return 0;
}

static int compare_target(const void *a, const void *b)
{
    const ctrd_record *x = *(ctrd_record *const *)a, *y = *(ctrd_record *const *)b;
    return strcmp(x->target->digest, y->target->digest);
}

/* Adds the image of the N records RECS (one target) to IMGS, merged into
 * the one with the same ID if there is one (one image pulled by index and
 * by manifest digest); skips it when it is not unpacked or is missing
 * content, as containerd's CRI does.  */
static int list_add(struct ctrd_backend *b, const struct ctrd_opts *o, ctrd_record *const *recs,
                    size_t n, struct ctrd_image *imgs, size_t *n_imgs, crimp_error_t *err)
{
    struct ctrd_image img;
    cleanup_error crimp_error_t lerr = NULL;
    if (image_load(b, o, recs[0], true, &img, &lerr) < 0) {
        if (lerr->code != GRPC_STATUS_NOT_FOUND) {
            *err = steal_ptr(&lerr);
            return -1;
        }
        log_debug("containerd: ListImages skips %s", lerr->msg);
        return 0;
    }
    for (size_t i = 0; i < *n_imgs; i++)
        if (strcmp(imgs[i].id, img.id) == 0) {
            image_add_names(&imgs[i], recs, n);
            ctrd_image_clear(&img);
            return 0;
        }
    image_add_names(&img, recs, n);
    imgs[(*n_imgs)++] = img;
    return 0;
}

/* Every image: records grouped by target.  */
static int list_all(struct ctrd_backend *b, const struct ctrd_opts *o,
                    Runtime__V1__ListImagesResponse *resp, crimp_error_t *err)
{
    ctrd_record_list *all = record_list(b, o, err);
    if (all == NULL)
        return -1;
    size_t n = 0;
    ctrd_record **recs = xcalloc(all->n_images + 1, sizeof(*recs));
    for (size_t i = 0; i < all->n_images; i++)
        if (all->images[i]->target && !str_empty(all->images[i]->target->digest))
            recs[n++] = all->images[i];
    qsort(recs, n, sizeof(*recs), compare_target);
    struct ctrd_image *imgs = xcalloc(n + 1, sizeof(*imgs));
    size_t n_imgs = 0;
    int ret = 0;
    for (size_t i = 0, j; ret == 0 && i < n; i = j) {
        for (j = i + 1; j < n && compare_target(&recs[i], &recs[j]) == 0; j++)
            ;
        ret = list_add(b, o, recs + i, j - i, imgs, &n_imgs, err);
    }
    resp->images = xcalloc(n_imgs + 1, sizeof(*resp->images));
    for (size_t i = 0; i < n_imgs; i++) {
        if (ret == 0)
            resp->images[resp->n_images++] = image_to_cri(&imgs[i]);
        ctrd_image_clear(&imgs[i]);
    }
    free(imgs);
    free(recs);
    protobuf_c_message_free_unpacked(&all->base, NULL);
    return ret;
}

int ctrd_list_images(struct crimp_backend *self, struct crimp_rpc *rpc,
                     const Runtime__V1__ListImagesRequest *req, Runtime__V1__ListImagesResponse *resp,
                     crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_opts o = ctrd_opts_for(rpc);
    const char *want = req->filter && req->filter->image ? req->filter->image->image : NULL;
    if (str_empty(want))
        return list_all(b, &o, resp, err);
    struct ctrd_image img = {0};
    crimp_error_t gerr = NULL;
    if (ctrd_image_get(b, rpc, want, CTRD_IMAGE_ALL, &img, &gerr) < 0)
        return ctrd_absent_ok(&gerr, err);
    resp->images = xcalloc(1, sizeof(*resp->images));
    resp->images[resp->n_images++] = image_to_cri(&img);
    ctrd_image_clear(&img);
    return 0;
}

int ctrd_pull_image(struct crimp_backend *self, struct crimp_rpc *rpc,
                    const Runtime__V1__PullImageRequest *req, Runtime__V1__PullImageResponse *resp,
                    crimp_error_t *err)
{
    char *id = NULL;
    if (ctrd_pull(ctrd_of(self), rpc, req->image->image, req->auth, &id, err) < 0)
        return -1;
    resp->image_ref = id;
    return 0;
}

/* Images.Delete of NAME; SYNC waits for the garbage collection.  */
static int record_delete(struct ctrd_backend *b, const struct ctrd_opts *o, const char *name,
                         bool sync, crimp_error_t *err)
{
    Containerd__Services__Images__V1__DeleteImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__DELETE_IMAGE_REQUEST__INIT;
    req.name = (char *)name;
    req.sync = sync;
    ProtobufCMessage *resp = NULL;
    if (ctrd_call_lookup(b->conn, o, CTRD_IMAGES "Delete", &req.base,
                         &google__protobuf__empty__descriptor, &resp, err) < 0)
        return crimp_error_wrap(err, "remove image %s", name);
    ctrd_image_store_forget(b->image_store, name); /* a status right after sees it gone */
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* Removes every name of the image (the last one synchronously, so that its
 * content and snapshots are collected before the reply); an absent image
 * is a success.  */
int ctrd_remove_image(struct crimp_backend *self, struct crimp_rpc *rpc,
                      const Runtime__V1__RemoveImageRequest *req,
                      Runtime__V1__RemoveImageResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_opts o = ctrd_opts_for(rpc);
    ctrd_image_refs_forget(b->image_cache); /* the names it had resolve no more */
    ctrd_record *rec = NULL;
    int found = record_find(b, &o, req->image->image, &rec, err);
    if (found <= 0)
        return found;
    ctrd_record_list *names = records_of_target(b, &o, rec->target->digest, err);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
    if (names == NULL)
        return -1;
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < names->n_images; i++)
        ret = record_delete(b, &o, names->images[i]->name, i + 1 == names->n_images, err);
    protobuf_c_message_free_unpacked(&names->base, NULL);
    return ret;
}

/* ---- ImageFsInfo ----------------------------------------------------------- */

/* Where the snapshotter keeps its data (the "root" it exports), as
 * Introspection.Plugins says.  */
static char *snapshotter_root(struct ctrd_backend *b, const struct ctrd_opts *o,
                              crimp_error_t *err)
{
    cleanup_free char *filter =
        xasprintf("type==io.containerd.snapshotter.v1,id==%s", b->snapshotter);
    char *filters[] = {filter};
    Containerd__Services__Introspection__V1__PluginsRequest req =
        CONTAINERD__SERVICES__INTROSPECTION__V1__PLUGINS_REQUEST__INIT;
    req.filters = filters;
    req.n_filters = 1;
    Containerd__Services__Introspection__V1__PluginsResponse *resp = NULL;
    if (ctrd_call(b->conn, o, CTRD_INTROSPECTION "Plugins", &req.base,
                  &containerd__services__introspection__v1__plugins_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return NULL;
    char *root = NULL;
    if (resp->n_plugins > 0) {
        const Containerd__Services__Introspection__V1__Plugin *pl = resp->plugins[0];
        json_auto_t *exports = ctrd_map_to_json(pl->n_exports, (void *const *)pl->exports);
        root = xstrdup_or_null(json_string_value(json_object_get(exports, "root")));
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    if (root == NULL)
        crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                         "snapshotter %s is not loaded or exports no root", b->snapshotter);
    return root;
}

/* The snapshotter's root, asked once (it does not move while containerd
 * runs) and from then on measured by the background usage walk.  */
static const char *known_snapshotter_root(struct ctrd_backend *b, const struct ctrd_opts *o,
                                          crimp_error_t *err)
{
    char *root = atomic_load(&b->snapshotter_root);
    if (root)
        return root;
    char *fresh = snapshotter_root(b, o, err);
    if (fresh == NULL)
        return NULL;
    if (!atomic_compare_exchange_strong(&b->snapshotter_root, &root, fresh)) {
        free(fresh); /* another call got there first */
        return root;
    }
    crimp_fs_usage_watch(b->fs_usage, fresh);
    return fresh;
}

/* The first walk may still run just after start: wait for it a little.  */
#define FIRST_WALK_WAIT_MS 5000

int ctrd_image_fs_info(struct crimp_backend *self, struct crimp_rpc *rpc,
                       const Runtime__V1__ImageFsInfoRequest *req,
                       Runtime__V1__ImageFsInfoResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_opts o = ctrd_opts_for(rpc);
    const char *root = known_snapshotter_root(b, &o, err);
    if (root == NULL)
        return crimp_error_wrap(err, "image filesystem");
    /* containerd's CRI sums the snapshots' usage in the background too:
     * the figure is at most one refresh period old, never measured here.  */
    struct crimp_fs_usage sum = {0};
    for (int waited = 0; !crimp_fs_usage_peek(b->fs_usage, root, &sum); waited += 20) {
        if (waited >= FIRST_WALK_WAIT_MS || (rpc && crimp_rpc_cancelled(rpc)))
            return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0,
                                    "image filesystem %s: not measured yet", root);
        usleep(20000);
    }
    resp->image_filesystems = xcalloc(1, sizeof(*resp->image_filesystems));
    resp->image_filesystems[0] = crimp_fs_usage_new(root, sum.bytes, sum.inodes);
    resp->image_filesystems[0]->timestamp = sum.at_ns;
    resp->n_image_filesystems = 1;
    return 0;
}
