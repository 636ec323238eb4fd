/* The containerd backend's ImageService against the bed's containerd (the
 * one without its CRI plugin) and registry, in a private namespace: cold
 * pulls of busybox and pause, the content labels and snapshots a pull
 * leaves, ImageStatus by tag / ID / ID prefix, ListImages, a warm re-pull
 * that writes nothing, a pull by digest, a missing tag, ImageFsInfo, two
 * concurrent pulls sharing one registry fetch, RemoveImage with garbage
 * collection, and the namespace left empty.  Needs $CRIMP_BED (skips
 * without it, fails when it is set but unreachable).  */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "containerd/containerd-internal.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "github.com/containerd/containerd/api/services/namespaces/v1/namespace.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "trace.h"
#include "unit.h"
#include "utils.h"

static struct ctrd_backend *B;
static char *BUSYBOX, *PAUSE, *REGISTRY;
static char *BUSYBOX_ID;

/* ---- the bed --------------------------------------------------------------- */

static char *bed_var(const char *bed, const char *name)
{
    cleanup_free char *path = xasprintf("%s/env", bed);
    cleanup_file FILE *f = fopen(path, "r");
    cleanup_free char *key = xasprintf("export %s=", name);
    char line[1024];
    while (f && fgets(line, sizeof(line), f))
        if (has_prefix(line, key)) {
            line[strcspn(line, "\n")] = '\0';
            return xstrdup(line + strlen(key));
        }
    return NULL;
}

/* 0 with B set up, 77 without a bed, -1 when the bed is broken.  */
static int bed_open(void)
{
    const char *bed = getenv("CRIMP_BED");
    if (str_empty(bed)) {
        printf("# skipped: CRIMP_BED is not set\n");
        return 77;
    }
    cleanup_free char *sock = bed_var(bed, "CRIMP_BED_CONTAINERD_NATIVE_SOCK");
    if (sock == NULL)
        sock = bed_var(bed, "CRIMP_BED_CONTAINERD_SOCK");
    BUSYBOX = bed_var(bed, "CRIMP_BED_BUSYBOX_IMAGE");
    PAUSE = bed_var(bed, "CRIMP_BED_PAUSE_IMAGE");
    REGISTRY = bed_var(bed, "CRIMP_BED_REGISTRY");
    if (sock == NULL || BUSYBOX == NULL || PAUSE == NULL || REGISTRY == NULL) {
        fprintf(stderr, "CRIMP_BED=%s: its env lacks the containerd socket or the images\n", bed);
        return -1;
    }
    cleanup_free char *ns = xasprintf("crimp-img-%d", (int)getpid());
    B = xcalloc(1, sizeof(*B));
    B->conn = ctrd_conn_new(sock, ns);
    B->snapshotter = xstrdup("overlayfs");
    B->pulls = ctrd_pulls_new();
    B->image_cache = ctrd_image_cache_new(16);
    B->fs_usage = crimp_fs_usage_cache_new(1); /* ImageFsInfo reads its walk */
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    ProtobufCMessage *v = NULL;
    struct ctrd_opts o = {.timeout_s = 5};
    cleanup_error crimp_error_t err = NULL;
    if (ctrd_call(B->conn, &o, CTRD_VERSION "Version", &empty.base,
                  &containerd__services__version__v1__version_response__descriptor, &v, &err) < 0) {
        fprintf(stderr, "containerd at %s: %s\n", sock, err->msg);
        return -1;
    }
    protobuf_c_message_free_unpacked(v, NULL);
    return 0;
}

static void bed_close(void)
{
    free(BUSYBOX);
    free(PAUSE);
    free(REGISTRY);
    free(BUSYBOX_ID);
    if (B == NULL)
        return;
    ctrd_conn_free(B->conn);
    ctrd_pulls_free(B->pulls);
    ctrd_image_cache_free(B->image_cache);
    crimp_fs_usage_cache_free(B->fs_usage);
    free(atomic_load(&B->snapshotter_root));
    free(B->snapshotter);
    free(B);
}

/* ---- containerd probes ---------------------------------------------------- */

/* Content/Info of DIGEST: its labels (caller decrefs) and update time, or
 * NULL with NOT_FOUND.  */
static json_t *content_labels(const char *digest, int64_t *updated_ns, crimp_error_t *err)
{
    Containerd__Services__Content__V1__InfoRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__INFO_REQUEST__INIT;
    req.digest = (char *)digest;
    Containerd__Services__Content__V1__InfoResponse *resp = NULL;
    struct ctrd_opts o = {0};
    if (ctrd_call(B->conn, &o, CTRD_CONTENT "Info", &req.base,
                  &containerd__services__content__v1__info_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return NULL;
    json_t *labels = ctrd_map_to_json(resp->info->n_labels, (void *const *)resp->info->labels);
    if (updated_ns)
        *updated_ns = ctrd_timestamp_ns(resp->info->updated_at);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return labels;
}

/* Snapshots.Stat of KEY: its labels, or NULL with NOT_FOUND.  */
static json_t *snapshot_labels(const char *key, crimp_error_t *err)
{
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = B->snapshotter;
    req.key = (char *)key;
    Containerd__Services__Snapshots__V1__StatSnapshotResponse *resp = NULL;
    struct ctrd_opts o = {0};
    if (ctrd_call(B->conn, &o, CTRD_SNAPSHOTS "Stat", &req.base,
                  &containerd__services__snapshots__v1__stat_snapshot_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return NULL;
    json_t *labels = ctrd_map_to_json(resp->info->n_labels, (void *const *)resp->info->labels);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return labels;
}

static bool gone(json_t *probe, crimp_error_t *err)
{
    bool ok = probe == NULL && *err && (*err)->code == GRPC_STATUS_NOT_FOUND;
    json_decref(probe);
    crimp_error_release(err);
    return ok;
}

static bool has_label(json_t *labels, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(labels, key));
    if (v == NULL || (want && strcmp(v, want) != 0)) {
        fprintf(stderr, "label %s: %s, want %s\n", key, v ? v : "(none)", want ? want : "any");
        return false;
    }
    return true;
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static int count_spans(const struct crimp_trace *t, const char *name)
{
    int n = 0;
    for (int i = 0; i < t->n_spans; i++)
        n += strcmp(t->spans[i].name, name) == 0;
    return n;
}

/* Tests after the first need the image it pulled.  */
#define NEED_BUSYBOX()                                                                             \
    do {                                                                                           \
        NEED_BED();                                                                                \
        CHECK(BUSYBOX_ID != NULL);                                                                 \
    } while (0)

#define SPAN_HEAD "HEAD /v2/{name}/manifests/{reference}"
#define SPAN_BLOB "GET /v2/{name}/blobs/{digest}"

/* ---- pure parts ------------------------------------------------------------ */

#define HEX64(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
                 c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

/* chain_0 = diffID_0, chain_i = sha256(chain_{i-1} + " " + diffID_i);
 * expected values from sha256sum.  */
static int test_chain_ids(void)
{
    cleanup_error crimp_error_t err = NULL;
    json_auto_t *config = json_pack("{s:{s:s, s:[sss]}}", "rootfs", "type", "layers", "diff_ids",
                                    "sha256:" HEX64("a"), "sha256:" HEX64("b"),
                                    "sha256:" HEX64("c"));
    size_t n = 0;
    char **chains = ctrd_chain_ids(config, &n, &err);
    CHECK(chains != NULL && n == 3);
    bool ok = strcmp(chains[0], "sha256:" HEX64("a")) == 0 &&
              strcmp(chains[1], "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c") == 0 &&
              strcmp(chains[2], "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588") == 0;
    for (size_t i = 0; i < n; i++)
        free(chains[i]);
    free(chains);
    CHECK(ok);

    json_auto_t *bad = json_pack("{s:{s:[ss]}}", "rootfs", "diff_ids", "sha256:" HEX64("a"),
                                 "md5:abc");
    CHECK(ctrd_chain_ids(bad, &n, &err) == NULL && err->code == GRPC_STATUS_INVALID_ARGUMENT);
    crimp_error_release(&err);
    json_auto_t *none = json_pack("{s:{s:[]}}", "rootfs", "diff_ids");
    CHECK(ctrd_chain_ids(none, &n, &err) == NULL && err->code == GRPC_STATUS_INVALID_ARGUMENT);
    return 0;
}

/* ---- against the bed -------------------------------------------------------- */

static int BED_STATE = 77; /* bed_open's result */

/* Bed tests skip without a bed and fail with a broken one.  */
#define NEED_BED()                                                                                 \
    do {                                                                                           \
        if (BED_STATE != 0)                                                                        \
            return BED_STATE == 77 ? 77 : -1;                                                      \
    } while (0)

/* What a pull leaves behind: labelled content, a labelled snapshot.  */
static int check_pull_leftovers(const struct ctrd_image *img)
{
    cleanup_error crimp_error_t err = NULL;
    json_auto_t *config = content_labels(img->id, NULL, &err);
    CHECK(config != NULL);
    CHECK(has_label(config, "containerd.io/gc.ref.snapshot.overlayfs", img->chain_id));
    CHECK(has_label(config, "containerd.io/distribution.source.127.0.0.1", "crimp/busybox"));
    const char *digest = strchr(img->repo_digests[0], '@') + 1;
    json_auto_t *manifest = content_labels(digest, NULL, &err);
    CHECK(manifest != NULL);
    CHECK(has_label(manifest, "containerd.io/gc.ref.content.config", img->id));
    const char *layer = json_string_value(json_object_get(manifest, "containerd.io/gc.ref.content.l.0"));
    CHECK(layer != NULL);
    json_auto_t *layer_labels = content_labels(layer, NULL, &err);
    CHECK(layer_labels != NULL);
    json_t *diff_ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
    CHECK(has_label(layer_labels, "containerd.io/uncompressed",
                    json_string_value(json_array_get(diff_ids, 0))));
    json_auto_t *snap = snapshot_labels(img->chain_id, &err);
    CHECK(snap != NULL);
    CHECK(has_label(snap, "containerd.io/snapshot.ref", img->chain_id));
    return 0;
}

static int test_cold_pull(void)
{
    NEED_BED();
    cleanup_error crimp_error_t err = NULL;
    int64_t t0 = crimp_now_mono_ns();
    CHECK_OK(ctrd_pull(B, NULL, BUSYBOX, NULL, &BUSYBOX_ID, &err));
    printf("# cold pull of %s: %.1f ms\n", BUSYBOX, (double)(crimp_now_mono_ns() - t0) / 1e6);
    CHECK(has_prefix(BUSYBOX_ID, "sha256:") && strlen(BUSYBOX_ID) == 71);

    Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
    spec.image = PAUSE;
    Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
    req.image = &spec;
    Runtime__V1__PullImageResponse resp = RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT;
    CHECK_OK(ctrd_pull_image(&B->base, NULL, &req, &resp, &err));
    CHECK(has_prefix(resp.image_ref, "sha256:") && strcmp(resp.image_ref, BUSYBOX_ID) != 0);
    free(resp.image_ref);

    struct ctrd_image img = {0};
    CHECK_OK(ctrd_image_get(B, NULL, BUSYBOX, CTRD_IMAGE_ALL, &img, &err));
    int r = check_pull_leftovers(&img);
    ctrd_image_clear(&img);
    return r;
}

static struct ctrd_image fake_image(const char *id)
{
    struct ctrd_image img = {.id = xstrdup(id), .chain_id = xstrdup("sha256:chain"),
                             .config = json_pack("{s:{s:s}}", "config", "User", id), .size = 7};
    return img;
}

static int test_image_cache_evicts_least_recently_used(void)
{
    struct ctrd_image_cache *c = ctrd_image_cache_new(2);
    struct ctrd_image a = fake_image("a"), b = fake_image("b"), d = fake_image("d"), got = {0};
    ctrd_image_cache_put(c, "sha256:1", &a);
    ctrd_image_cache_put(c, "sha256:2", &b);
    CHECK(ctrd_image_cache_get(c, "sha256:1", &got) && strcmp(got.id, "a") == 0 &&
          got.size == 7 && json_equal(got.config, a.config));
    ctrd_image_clear(&got);
    ctrd_image_cache_put(c, "sha256:3", &d); /* evicts 2, used before 1 */
    CHECK(!ctrd_image_cache_get(c, "sha256:2", &got));
    CHECK(ctrd_image_cache_get(c, "sha256:1", &got) && strcmp(got.id, "a") == 0);
    ctrd_image_clear(&got);
    CHECK(ctrd_image_cache_get(c, "sha256:3", &got) && strcmp(got.id, "d") == 0);
    ctrd_image_clear(&got);
    ctrd_image_clear(&a);
    ctrd_image_clear(&b);
    ctrd_image_clear(&d);
    ctrd_image_cache_free(c);
    return 0;
}

/* The calls one ctrd_image_get makes, as span names joined by spaces.  */
static char *calls_of_get(const char *ref, int what, struct ctrd_image *img, crimp_error_t *err)
{
    struct crimp_trace tr = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&tr);
    int r = ctrd_image_get(B, NULL, ref, what, img, err);
    crimp_trace_set_current(NULL);
    char *out = xstrdup(r < 0 ? "error" : "");
    for (int i = 0; r == 0 && i < tr.n_spans; i++) {
        char *more = xasprintf("%s%s%s", out, i ? " " : "", tr.spans[i].name);
        free(out);
        out = more;
    }
    return out;
}

/* Content is read once per image: later lookups (CreateContainer's, every
 * ListImages entry) come from the cache; CreateContainer's lookup of a name
 * seen lately makes no call, and one Images/Get once names are forgotten.
 * The cached copy is the same image.  */
static int test_image_content_is_cached(void)
{
    NEED_BED();
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_image first = {0}, again = {0}, bare = {0};
    CHECK_OK(ctrd_image_get(B, NULL, BUSYBOX, CTRD_IMAGE_ALL, &first, &err));
    cleanup_free char *all = calls_of_get(BUSYBOX, CTRD_IMAGE_ALL, &again, &err);
    CHECK(strstr(all, "Content/Read") == NULL && strstr(all, "Images/Get") != NULL &&
          strstr(all, "Snapshots/Stat") != NULL);
    CHECK(strcmp(first.id, again.id) == 0 && strcmp(first.chain_id, again.chain_id) == 0 &&
          first.size == again.size && json_equal(first.config, again.config));
    /* The name was resolved above and its content is cached: no call.  */
    cleanup_free char *none = calls_of_get(BUSYBOX, 0, &bare, &err);
    CHECK(strcmp(none, "") == 0);
    CHECK(strcmp(bare.id, first.id) == 0 && bare.repo_tags == NULL &&
          strcmp(bare.name, first.name) == 0);
    ctrd_image_clear(&bare);
    /* Names forgotten (as a pull or removal does): one Images/Get.  */
    ctrd_image_refs_forget(B->image_cache);
    cleanup_free char *one = calls_of_get(BUSYBOX, 0, &bare, &err);
    CHECK(strstr(one, "Images/") != NULL && strchr(one, ' ') == NULL);
    CHECK(strcmp(bare.id, first.id) == 0);
    ctrd_image_clear(&first);
    ctrd_image_clear(&again);
    ctrd_image_clear(&bare);
    return 0;
}

/* ImageStatus of REF: the image (caller frees) or NULL when unset.  */
static Runtime__V1__Image *status_of(const char *ref, bool verbose, size_t *n_info,
                                     crimp_error_t *err)
{
    Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
    spec.image = (char *)ref;
    Runtime__V1__ImageStatusRequest req = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
    req.image = &spec;
    req.verbose = verbose;
    Runtime__V1__ImageStatusResponse *resp = xmalloc(sizeof(*resp));
    runtime__v1__image_status_response__init(resp);
    if (ctrd_image_status(&B->base, NULL, &req, resp, err) < 0) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        return NULL;
    }
    if (n_info)
        *n_info = resp->n_info;
    Runtime__V1__Image *img = steal_ptr(&resp->image);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return img;
}

static int check_busybox(const Runtime__V1__Image *img)
{
    CHECK(img != NULL);
    CHECK(strcmp(img->id, BUSYBOX_ID) == 0);
    CHECK(strv_has(img->repo_tags, img->n_repo_tags, BUSYBOX));
    CHECK(img->n_repo_digests == 1);
    cleanup_free char *repo = xasprintf("%s/crimp/busybox@sha256:", REGISTRY);
    CHECK(has_prefix(img->repo_digests[0], repo));
    CHECK(img->size > 1000);
    CHECK(img->uid == NULL && str_empty(img->username)); /* the config names no user */
    CHECK(img->spec && strcmp(img->spec->image, BUSYBOX_ID) == 0);
    return 0;
}

static int test_status(void)
{
    NEED_BUSYBOX();
    cleanup_error crimp_error_t err = NULL;
    cleanup_free char *prefix_bare = strndup(BUSYBOX_ID + 7, 12);
    cleanup_free char *prefix_full = strndup(BUSYBOX_ID, 7 + 12);
    const char *refs[] = {BUSYBOX, BUSYBOX_ID, prefix_bare, prefix_full};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(refs); i++) {
        size_t n_info = 0;
        Runtime__V1__Image *img = status_of(refs[i], i == 0, &n_info, &err);
        if (img == NULL && err)
            fprintf(stderr, "status %s: %s\n", refs[i], err->msg);
        int r = check_busybox(img);
        if (img)
            protobuf_c_message_free_unpacked(&img->base, NULL);
        if (r < 0) {
            fprintf(stderr, "ImageStatus by %s\n", refs[i]);
            return -1;
        }
        CHECK(n_info == (i == 0 ? 1u : 0u));
    }
    Runtime__V1__Image *none = status_of("sha256:0000000000000000000000000000000000000000000000000000000000000000", false, NULL, &err);
    CHECK(none == NULL && err == NULL); /* CRI: image unset, no error */
    none = status_of("crimp.invalid/none:1", false, NULL, &err);
    CHECK(none == NULL && err == NULL);
    return 0;
}

static int test_list(void)
{
    NEED_BUSYBOX();
    cleanup_error crimp_error_t err = NULL;
    Runtime__V1__ListImagesRequest req = RUNTIME__V1__LIST_IMAGES_REQUEST__INIT;
    Runtime__V1__ListImagesResponse *resp = xmalloc(sizeof(*resp));
    runtime__v1__list_images_response__init(resp);
    CHECK_OK(ctrd_list_images(&B->base, NULL, &req, resp, &err));
    int busybox = 0, pause = 0;
    for (size_t i = 0; i < resp->n_images; i++) {
        Runtime__V1__Image *img = resp->images[i];
        if (strv_has(img->repo_tags, img->n_repo_tags, BUSYBOX) && check_busybox(img) == 0)
            busybox++;
        if (strv_has(img->repo_tags, img->n_repo_tags, PAUSE) && img->n_repo_digests == 1)
            pause++;
    }
    size_t n = resp->n_images;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    CHECK(n == 2 && busybox == 1 && pause == 1);

    Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
    spec.image = PAUSE;
    Runtime__V1__ImageFilter filter = RUNTIME__V1__IMAGE_FILTER__INIT;
    filter.image = &spec;
    req.filter = &filter;
    resp = xmalloc(sizeof(*resp));
    runtime__v1__list_images_response__init(resp);
    CHECK_OK(ctrd_list_images(&B->base, NULL, &req, resp, &err));
    bool one_pause = resp->n_images == 1 &&
                     strv_has(resp->images[0]->repo_tags, resp->images[0]->n_repo_tags, PAUSE);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    CHECK(one_pause);
    return 0;
}

/* A re-pull resolves the tag again but fetches and writes no blob.  */
static int test_warm_pull(void)
{
    NEED_BUSYBOX();
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_image img = {0};
    CHECK_OK(ctrd_image_get(B, NULL, BUSYBOX, CTRD_IMAGE_ALL, &img, &err));
    int64_t before = 0, after = 0;
    json_auto_t *l1 = content_labels(img.id, &before, &err);
    ctrd_image_clear(&img);
    CHECK(l1 != NULL);

    struct crimp_trace trace = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&trace);
    cleanup_free char *id = NULL;
    int64_t t0 = crimp_now_mono_ns();
    int r = ctrd_pull(B, NULL, BUSYBOX, NULL, &id, &err);
    int64_t took = crimp_now_mono_ns() - t0;
    crimp_trace_set_current(NULL);
    CHECK_OK(r);
    printf("# warm pull: %.1f ms, %d calls\n", (double)took / 1e6, trace.n_spans);
    CHECK(strcmp(id, BUSYBOX_ID) == 0);
    CHECK(trace.dropped == 0);
    CHECK(count_spans(&trace, SPAN_HEAD) == 1); /* spans are recorded at all */
    CHECK(count_spans(&trace, SPAN_BLOB) == 0);
    CHECK(count_spans(&trace, "Content/Write") == 0);
    CHECK(count_spans(&trace, "Content/Update") == 0);
    CHECK(count_spans(&trace, "Diff/Apply") == 0);
    json_auto_t *l2 = content_labels(BUSYBOX_ID, &after, &err);
    CHECK(l2 != NULL && before == after && json_equal(l1, l2));
    return 0;
}

static int test_pull_by_digest(void)
{
    NEED_BUSYBOX();
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_image img = {0};
    CHECK_OK(ctrd_image_get(B, NULL, BUSYBOX, CTRD_IMAGE_ALL, &img, &err));
    cleanup_free char *ref = xstrdup(img.repo_digests[0]);
    ctrd_image_clear(&img);
    cleanup_free char *id = NULL;
    CHECK_OK(ctrd_pull(B, NULL, ref, NULL, &id, &err));
    CHECK(strcmp(id, BUSYBOX_ID) == 0);
    Runtime__V1__Image *by_digest = status_of(ref, false, NULL, &err);
    int r = check_busybox(by_digest);
    if (by_digest)
        protobuf_c_message_free_unpacked(&by_digest->base, NULL);
    return r;
}

static int test_missing(void)
{
    NEED_BED();
    cleanup_error crimp_error_t err = NULL;
    cleanup_free char *ref = xasprintf("%s/crimp/busybox:no-such-tag", REGISTRY);
    char *id = NULL;
    CHECK(ctrd_pull(B, NULL, ref, NULL, &id, &err) < 0);
    fprintf(stderr, "# %s\n", err->msg);
    CHECK(err->code == GRPC_STATUS_NOT_FOUND && id == NULL);
    crimp_error_release(&err);
    CHECK(ctrd_pull(B, NULL, "Not/A/Valid:Ref", NULL, &id, &err) < 0);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
    return 0;
}

static int test_fs_info(void)
{
    NEED_BED();
    cleanup_error crimp_error_t err = NULL;
    Runtime__V1__ImageFsInfoRequest req = RUNTIME__V1__IMAGE_FS_INFO_REQUEST__INIT;
    Runtime__V1__ImageFsInfoResponse *resp = xmalloc(sizeof(*resp));
    runtime__v1__image_fs_info_response__init(resp);
    CHECK_OK(ctrd_image_fs_info(&B->base, NULL, &req, resp, &err));
    bool ok = resp->n_image_filesystems == 1;
    Runtime__V1__FilesystemUsage *u = ok ? resp->image_filesystems[0] : NULL;
    if (u) {
        printf("# image fs %s: %" PRIu64 " bytes, %" PRIu64 " inodes\n", u->fs_id->mountpoint,
               u->used_bytes->value, u->inodes_used->value);
        ok = u->fs_id->mountpoint[0] == '/' && access(u->fs_id->mountpoint, F_OK) == 0 &&
             u->used_bytes->value > 100000 && u->inodes_used->value > 10 && u->timestamp > 0;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    CHECK(ok);
    return 0;
}

static int remove_image(const char *ref, crimp_error_t *err)
{
    Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
    spec.image = (char *)ref;
    Runtime__V1__RemoveImageRequest req = RUNTIME__V1__REMOVE_IMAGE_REQUEST__INIT;
    req.image = &spec;
    Runtime__V1__RemoveImageResponse resp = RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT;
    return ctrd_remove_image(&B->base, NULL, &req, &resp, err);
}

/* RemoveImage by tag: every name goes, and GC takes content and snapshot.  */
static int test_remove(void)
{
    NEED_BUSYBOX();
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_image img = {0};
    CHECK_OK(ctrd_image_get(B, NULL, BUSYBOX, CTRD_IMAGE_ALL, &img, &err));
    cleanup_free char *chain = xstrdup(img.chain_id);
    cleanup_free char *manifest = xstrdup(strchr(img.repo_digests[0], '@') + 1);
    ctrd_image_clear(&img);
    CHECK_OK(remove_image(BUSYBOX, &err));
    Runtime__V1__Image *left = status_of(BUSYBOX_ID, false, NULL, &err);
    CHECK(left == NULL && err == NULL);
    CHECK(ctrd_image_get(B, NULL, BUSYBOX_ID, CTRD_IMAGE_ALL, &img, &err) < 0 && err->code == GRPC_STATUS_NOT_FOUND);
    crimp_error_release(&err);
    CHECK(gone(snapshot_labels(chain, &err), &err));
    CHECK(gone(content_labels(BUSYBOX_ID, NULL, &err), &err));
    CHECK(gone(content_labels(manifest, NULL, &err), &err));
    CHECK_OK(remove_image(BUSYBOX, &err)); /* absent: success */
    return 0;
}

struct puller {
    pthread_t thread;
    char *id;
    crimp_error_t err;
    int heads, blobs;
};

static void *pull_thread(void *arg)
{
    struct puller *p = arg;
    struct crimp_trace trace = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&trace);
    ctrd_pull(B, NULL, BUSYBOX, NULL, &p->id, &p->err);
    crimp_trace_set_current(NULL);
    p->heads = count_spans(&trace, SPAN_HEAD);
    p->blobs = count_spans(&trace, SPAN_BLOB);
    return NULL;
}

/* Two pulls of the (now absent) image at once: one registry fetch.  */
static int test_concurrent_pulls(void)
{
    NEED_BUSYBOX();
    struct puller p[2] = {0};
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&p[i].thread, NULL, pull_thread, &p[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(p[i].thread, NULL);
    int ok = 0;
    for (int i = 0; i < 2; i++) {
        if (p[i].err)
            fprintf(stderr, "pull %d: %s\n", i, p[i].err->msg);
        ok += p[i].err == NULL && p[i].id && strcmp(p[i].id, BUSYBOX_ID) == 0;
        free(p[i].id);
        crimp_error_release(&p[i].err);
    }
    printf("# concurrent pulls: HEAD %d + %d, blob GETs %d + %d\n", p[0].heads, p[1].heads,
           p[0].blobs, p[1].blobs);
    CHECK(ok == 2);
    CHECK(p[0].heads + p[1].heads == 1);
    CHECK(p[0].blobs + p[1].blobs >= 1); /* the config at least: the image was gone */
    return 0;
}

/* ctrd_image_ensure pulls what is missing (the sandbox image).  */
static int test_ensure(void)
{
    NEED_BED();
    cleanup_error crimp_error_t err = NULL;
    CHECK_OK(remove_image(PAUSE, &err));
    struct ctrd_image img = {0};
    CHECK_OK(ctrd_image_ensure(B, NULL, PAUSE, &img, &err));
    /* The sandbox needs the record and the rootfs, not the other names.  */
    bool ok = has_prefix(img.id, "sha256:") && img.chain_id && img.config &&
              strcmp(img.name, PAUSE) == 0 && img.repo_tags == NULL;
    ctrd_image_clear(&img);
    CHECK(ok);
    return 0;
}

/* Everything removed, the namespace must be empty: deleting it proves no
 * lease, ingest, content or snapshot was left behind.  */
static int test_cleanup(void)
{
    NEED_BED();
    cleanup_error crimp_error_t err = NULL;
    CHECK_OK(remove_image(BUSYBOX, &err));
    CHECK_OK(remove_image(PAUSE, &err));
    Containerd__Services__Namespaces__V1__DeleteNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__DELETE_NAMESPACE_REQUEST__INIT;
    req.name = (char *)ctrd_conn_namespace(B->conn);
    ProtobufCMessage *resp = NULL;
    struct ctrd_opts o = {0};
    CHECK_OK(ctrd_call(B->conn, &o, "/containerd.services.namespaces.v1.Namespaces/Delete",
                       &req.base, &google__protobuf__empty__descriptor, &resp, &err));
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

int main(void)
{
    grpc_init(); /* crimpd's main does this */
    BED_STATE = bed_open();
    static const struct unit_test tests[] = {
        UNIT_TEST(test_chain_ids),
        UNIT_TEST(test_image_cache_evicts_least_recently_used),
        UNIT_TEST(test_cold_pull),
        UNIT_TEST(test_image_content_is_cached),
        UNIT_TEST(test_status),
        UNIT_TEST(test_list),
        UNIT_TEST(test_warm_pull),
        UNIT_TEST(test_pull_by_digest),
        UNIT_TEST(test_missing),
        UNIT_TEST(test_fs_info),
        UNIT_TEST(test_remove),
        UNIT_TEST(test_concurrent_pulls),
        UNIT_TEST(test_ensure),
        UNIT_TEST(test_cleanup),
    };
    int r = unit_run(tests, CRIMP_ARRAY_SIZE(tests));
    bed_close();
    grpc_shutdown_blocking();
    return r;
}
