/* The ImageService on Docker: pull, status, list, remove, filesystem use.  */
#include <string.h>
#include <sys/statvfs.h>

#include "base64.h"
#include "common/cri_image.h"
#include "common/pull_progress.h"
#include "docker-internal.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

/* "reg:5000/a/b:tag" → fromImage "reg:5000/a/b", tag "tag"; a digest goes in
 * the tag parameter too; no tag means latest.  */
static void split_ref(const char *ref, char **repo, char **tag)
{
    const char *at = strchr(ref, '@');
    if (at) {
        *repo = strndup(ref, (size_t)(at - ref));
        *tag = xstrdup(at + 1);
        return;
    }
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(slash ? slash : ref, ':');
    if (colon) {
        *repo = strndup(ref, (size_t)(colon - ref));
        *tag = xstrdup(colon + 1);
    } else {
        *repo = xstrdup(ref);
        *tag = xstrdup("latest");
    }
}

/* Docker's short form: without docker.io/library/, with :latest when the
 * reference names neither tag nor digest.  */
static char *normalize_ref(const char *ref)
{
    const char *r = ref;
    if (has_prefix(r, "docker.io/library/"))
        r += strlen("docker.io/library/");
    else if (has_prefix(r, "docker.io/"))
        r += strlen("docker.io/");
    const char *slash = strrchr(r, '/');
    if (strchr(r, '@') == NULL && strchr(slash ? slash : r, ':') == NULL)
        return xasprintf("%s:latest", r);
    return xstrdup(r);
}

static bool json_array_has_string(json_t *arr, const char *want)
{
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        cleanup_free char *n = normalize_ref(json_string_value(v) ?: "");
        if (strcmp(n, want) == 0)
            return true;
    }
    return false;
}

/* Docker resolves short ID prefixes and bare names loosely; check that the
 * image it found really is the one REF names (docs/docker.md, "Images").  */
static bool image_matches(json_t *img, const char *ref)
{
    const char *id = json_string_value(json_object_get(img, "Id"));
    if (id == NULL)
        return false;
    if (has_prefix(id, ref) || (strlen(ref) >= 12 && has_prefix(id + strlen("sha256:"), ref)))
        return true;
    cleanup_free char *n = normalize_ref(ref);
    if (strchr(n, '@'))
        return json_array_has_string(json_object_get(img, "RepoDigests"), n) ||
               strcmp(strchr(n, '@') + 1, id) == 0;
    return json_array_has_string(json_object_get(img, "RepoTags"), n);
}

/* The cached image REF names (new reference), the first match; NULL.  */
static json_t *cached_image(json_t *images, const char *ref)
{
    size_t i;
    json_t *img;
    json_array_foreach (images, i, img)
        if (image_matches(img, ref))
            return json_incref(img);
    return NULL;
}

/* The image REF names; *IMG is NULL (and 0 returned) when there is no such
 * image.  From the image cache while it is current, else from Docker.  */
static int find_image(struct docker_backend *d, const char *ref, json_t **img, crimp_error_t *err)
{
    json_auto_t *cached = docker_image_cache_list(d->images);
    if (cached) {
        *img = cached_image(cached, ref);
        return 0;
    }
    *img = NULL;
    json_t *found = NULL;
    cleanup_error crimp_error_t ierr = NULL;
    if (docker_get_json(d->client, "/images/{id}/json", ref, NULL, &found, &ierr) < 0) {
        if (ierr->code == GRPC_STATUS_NOT_FOUND)
            return 0;
        *err = steal_ptr(&ierr);
        return -1;
    }
    if (image_matches(found, ref))
        *img = found;
    else
        json_decref(found);
    return 0;
}

/* Every image, from the cache while it is current, else from Docker.  */
static int all_images(struct docker_backend *d, json_t **out, crimp_error_t *err)
{
    *out = docker_image_cache_list(d->images);
    if (*out)
        return 0;
    return docker_get_json(d->client, "/images/json", NULL, NULL, out, err);
}

/* After crimp's own pull or removal: a status right after it sees it.  */
static void refresh_cache(struct docker_backend *d)
{
    cleanup_error crimp_error_t err = NULL;
    if (docker_image_cache_refresh(d->images, &err) < 0)
        log_debug("docker: images: refresh: %s", err->msg);
}

static char **string_array(json_t *arr, size_t *n, bool skip_none)
{
    *n = 0;
    char **out = xcalloc(json_array_size(arr) + 1, sizeof(char *));
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        const char *s = json_string_value(v);
        if (s && !(skip_none && has_prefix(s, "<none>")))
            out[(*n)++] = xstrdup(s);
    }
    return out;
}

Runtime__V1__Image *docker_image_of(json_t *img)
{
    Runtime__V1__Image *out = crimp_cri_image_new(
        json_string_value(json_object_get(img, "Id")),
        (uint64_t)json_integer_value(json_object_get(img, "Size")),
        json_string_value(json_object_get(json_object_get(img, "Config"), "User")));
    out->repo_tags = string_array(json_object_get(img, "RepoTags"), &out->n_repo_tags, true);
    out->repo_digests =
        string_array(json_object_get(img, "RepoDigests"), &out->n_repo_digests, true);
    return out;
}

int docker_image_status(struct crimp_backend *self, struct crimp_rpc *rpc,
                        const Runtime__V1__ImageStatusRequest *req,
                        Runtime__V1__ImageStatusResponse *resp, crimp_error_t *err)
{
    json_t *img = NULL;
    if (find_image(docker_of(self), req->image->image, &img, err) < 0)
        return -1;
    if (img == NULL)
        return 0; /* CRI: an absent image is an empty reply, not an error */
    resp->image = docker_image_of(img);
    json_decref(img);
    return 0;
}

int docker_list_images(struct crimp_backend *self, struct crimp_rpc *rpc,
                       const Runtime__V1__ListImagesRequest *req,
                       Runtime__V1__ListImagesResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    const char *want = req->filter && req->filter->image ? req->filter->image->image : NULL;
    if (!str_empty(want)) {
        json_t *img = NULL;
        if (find_image(d, want, &img, err) < 0)
            return -1;
        if (img) {
            resp->images = xcalloc(1, sizeof(*resp->images));
            resp->images[resp->n_images++] = docker_image_of(img);
            json_decref(img);
        }
        return 0;
    }
    json_auto_t *list = NULL;
    if (all_images(d, &list, err) < 0)
        return -1;
    resp->images = xcalloc(json_array_size(list) + 1, sizeof(*resp->images));
    size_t i;
    json_t *img;
    json_array_foreach (list, i, img) {
        /* Dangling images stay listed (kubelet's image GC must see them),
         * only Docker's "<none>" placeholders are dropped.  */
        resp->images[resp->n_images++] = docker_image_of(img);
    }
    return 0;
}

/* The X-Registry-Auth header for AUTH (an empty JSON object without).  */
static char *registry_auth_header(const Runtime__V1__AuthConfig *auth)
{
    json_auto_t *j = json_object();
    if (auth) {
        const char *fields[][2] = {{"username", auth->username},
                                   {"password", auth->password},
                                   {"auth", auth->auth},
                                   {"serveraddress", auth->server_address},
                                   {"identitytoken", auth->identity_token},
                                   {"registrytoken", auth->registry_token}};
        for (size_t i = 0; i < CRIMP_ARRAY_SIZE(fields); i++)
            if (!str_empty(fields[i][1]))
                json_object_set_new(j, fields[i][0], json_string(fields[i][1]));
    }
    cleanup_free char *text = json_dumps(j, JSON_COMPACT);
    size_t n = strlen(text);
    cleanup_free char *enc = xmalloc(CRIMP_BASE64_LEN(n) + 1);
    crimp_base64url_encode(text, n, enc);
    return xasprintf("X-Registry-Auth: %s", enc);
}

/* Pull progress is a stream of JSON objects; HTTP says 200 even when the
 * pull fails, so any object with "error" is the failure.  */
struct pull_progress {
    char *pending;
    size_t len;
    char *error;
    struct crimp_pull_progress *shown; /* what GET /v1/pulls shows */
};

static bool on_pull_data(void *ctx, const char *data, size_t len)
{
    struct pull_progress *p = ctx;
    p->pending = xrealloc(p->pending, p->len + len + 1);
    memcpy(p->pending + p->len, data, len);
    p->len += len;
    p->pending[p->len] = '\0';
    char *line = p->pending, *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
        *nl = '\0';
        json_auto_t *j = json_loads(line, 0, NULL);
        const char *e = json_string_value(json_object_get(j, "error"));
        if (e == NULL) /* an HTTP error's body: {"message": …} */
            e = json_string_value(json_object_get(j, "message"));
        if (e && p->error == NULL)
            p->error = xstrdup(e);
        crimp_pull_progress_docker_line(p->shown, j);
        line = nl + 1;
    }
    p->len = strlen(line);
    memmove(p->pending, line, p->len + 1);
    return true;
}

/* The gRPC code of an error line in Docker's pull progress: Docker says
 * everything in text ("unauthorized: authentication required", "manifest
 * unknown", "no basic auth credentials"), kubelet acts on the code.  */
static grpc_status_code pull_error_code(const char *msg)
{
    if (strstr(msg, "unauthorized") || strstr(msg, "authentication required") ||
        strstr(msg, "no basic auth credentials"))
        return GRPC_STATUS_UNAUTHENTICATED;
    if (strstr(msg, "denied"))
        return GRPC_STATUS_PERMISSION_DENIED;
    if (strstr(msg, "not found") || strstr(msg, "unknown"))
        return GRPC_STATUS_NOT_FOUND;
    return GRPC_STATUS_UNKNOWN;
}

int docker_pull(struct docker_backend *d, struct crimp_rpc *rpc, const char *image,
                const Runtime__V1__AuthConfig *auth, char **image_id, crimp_error_t *err)
{
    cleanup_free char *repo = NULL, *tag = NULL;
    split_ref(image, &repo, &tag);
    cleanup_free char *erepo = docker_query_escape(repo);
    cleanup_free char *etag = docker_query_escape(tag);
    cleanup_free char *query = xasprintf("fromImage=%s&tag=%s", erepo, etag);
    cleanup_free char *header = registry_auth_header(auth);
    struct pull_progress progress = {
        .shown = crimp_pull_progress_begin(d->base.config ? d->base.config->name : "docker", image)};
    struct docker_request r = {.method = "POST", .path = "/images/create", .query = query,
                               .timeout_ms = DOCKER_TIMEOUT_NONE, .stall_seconds = 60,
                               .cancelled = rpc ? &rpc->cancelled : NULL,
                               .extra_header = header, .on_data = on_pull_data, .ctx = &progress};
    int rc = docker_do(d->client, &r, NULL, err);
    on_pull_data(&progress, "\n", 1); /* the last object may lack its newline */
    free(progress.pending);
    crimp_pull_progress_end(progress.shown, rc == 0 && progress.error == NULL);
    cleanup_free char *perr = progress.error;
    if (rc < 0 && perr) {
        /* dockerd answers a refused login with HTTP 500 and the registry's
         * words in the body: the words say what went wrong.  */
        crimp_error_release(err);
        return crimp_make_error(err, pull_error_code(perr), 0, "pull %s: %s", image, perr);
    }
    if (rc < 0)
        return crimp_error_wrap(err, "pull %s", image);
    if (perr)
        return crimp_make_error(err, pull_error_code(perr), 0, "pull %s: %s", image, perr);
    refresh_cache(d);
    json_t *img = NULL;
    if (find_image(d, image, &img, err) < 0)
        return -1;
    if (img == NULL)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0,
                                "pull %s: dockerd reported success but has no such image", image);
    *image_id = xstrdup(json_string_value(json_object_get(img, "Id")));
    json_decref(img);
    return 0;
}

int docker_ensure_image(struct docker_backend *d, struct crimp_rpc *rpc, const char *image,
                        crimp_error_t *err)
{
    json_t *img = NULL;
    if (find_image(d, image, &img, err) < 0)
        return -1;
    if (img) {
        json_decref(img);
        return 0;
    }
    cleanup_free char *id = NULL;
    return docker_pull(d, rpc, image, NULL, &id, err);
}

int docker_pull_image(struct crimp_backend *self, struct crimp_rpc *rpc,
                      const Runtime__V1__PullImageRequest *req,
                      Runtime__V1__PullImageResponse *resp, crimp_error_t *err)
{
    char *id = NULL;
    if (docker_pull(docker_of(self), rpc, req->image->image, req->auth, &id, err) < 0)
        return -1;
    resp->image_ref = id;
    return 0;
}

/* DELETE /images/REF.  *GONE is set when Docker's answer says the image
 * ID itself was deleted (its last reference went with REF): the other
 * references went with it.  Not found is no error.  */
static int delete_image(struct docker_backend *d, const char *ref, const char *id, bool *gone,
                        crimp_error_t *err)
{
    struct docker_request r = {.method = "DELETE", .path = "/images/{id}", .id = ref};
    cleanup_docker_response struct docker_response resp = {0};
    cleanup_error crimp_error_t derr = NULL;
    if (docker_do(d->client, &r, &resp, &derr) < 0) {
        if (derr->code != GRPC_STATUS_NOT_FOUND) {
            *err = steal_ptr(&derr);
            return -1;
        }
        return 0;
    }
    size_t i;
    json_t *rec;
    json_array_foreach (resp.json, i, rec) {
        const char *deleted = json_string_value(json_object_get(rec, "Deleted"));
        if (deleted && strcmp(deleted, id) == 0)
            *gone = true;
    }
    return 0;
}

/* Removes the image REF names, whatever REF is (ID, tag or digest): every
 * tag and digest of it, then the ID, stopping once Docker says the image
 * is deleted (removing its last tag usually takes the digests and the
 * image along).  An absent image is a success.  */
int docker_remove_image(struct crimp_backend *self, struct crimp_rpc *rpc,
                        const Runtime__V1__RemoveImageRequest *req,
                        Runtime__V1__RemoveImageResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    json_auto_t *img = NULL;
    if (find_image(d, req->image->image, &img, err) < 0)
        return -1;
    if (img == NULL)
        return 0;
    const char *id = json_string_value(json_object_get(img, "Id"));
    if (id == NULL)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "docker: image %s has no Id",
                                req->image->image);
    bool gone = false;
    const char *lists[] = {"RepoTags", "RepoDigests"};
    for (size_t l = 0; l < 2 && !gone; l++) {
        size_t i;
        json_t *v;
        json_array_foreach (json_object_get(img, lists[l]), i, v) {
            const char *ref = json_string_value(v);
            if (ref && !has_prefix(ref, "<none>") && delete_image(d, ref, id, &gone, err) < 0)
                return -1;
            if (gone)
                break;
        }
    }
    int rc = gone ? 0 : delete_image(d, id, id, &gone, err);
    /* A status right after the removal must not find it: drop it from
     * the cache now rather than list every image again.  */
    if (rc == 0)
        docker_image_cache_forget(d->images, id);
    else
        refresh_cache(d);
    return rc;
}

int docker_image_fs_info(struct crimp_backend *self, struct crimp_rpc *rpc,
                         const Runtime__V1__ImageFsInfoRequest *req,
                         Runtime__V1__ImageFsInfoResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    json_auto_t *images = NULL;
    cleanup_free char *root = docker_image_cache_root(d->images, err);
    if (root == NULL || all_images(d, &images, err) < 0)
        return -1;
    uint64_t used = 0;
    size_t i;
    json_t *img;
    json_array_foreach (images, i, img)
        used += (uint64_t)json_integer_value(json_object_get(img, "Size"));
    struct statvfs st;
    uint64_t inodes = 0;
    if (statvfs(root, &st) == 0)
        inodes = (uint64_t)(st.f_files - st.f_ffree);

    Runtime__V1__FilesystemUsage *u = crimp_fs_usage_new(root, used, inodes);
    resp->image_filesystems = xcalloc(1, sizeof(*resp->image_filesystems));
    resp->image_filesystems[0] = u;
    resp->n_image_filesystems = 1;
    return 0;
}
