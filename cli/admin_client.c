/* crimpctl's client for crimpd's admin API: HTTP over the admin unix
 * socket (by default admin.sock beside the CRI socket, as crimpd puts it).  */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "utils.h"

char *cli_admin_socket(const struct cli *cli)
{
    if (cli->admin_socket)
        return xstrdup(cli->admin_socket);
    const char *p = cli->endpoint;
    if (has_prefix(p, "unix://"))
        p += strlen("unix://");
    else if (has_prefix(p, "unix:"))
        p += strlen("unix:");
    const char *slash = strrchr(p, '/');
    return xasprintf("%.*s/admin.sock", slash ? (int)(slash - p) : 0, p);
}

struct body {
    char *buf;
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    b->buf = xrealloc(b->buf, b->len + size * n + 1);
    memcpy(b->buf + b->len, data, size * n);
    b->len += size * n;
    b->buf[b->len] = '\0';
    return size * n;
}

static json_t *admin_request(struct cli *cli, const char *method, const char *path, bool quiet)
{
    cleanup_free char *sock = cli_admin_socket(cli);
    cleanup_free char *url = xasprintf("http://crimp%s", path);
    CURL *curl = curl_easy_init();
    struct body b = {0};
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(cli->timeout * 1000 + 5000));
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    cleanup_free char *text = b.buf;
    if (rc != CURLE_OK) {
        if (!quiet)
            fprintf(stderr, "crimpctl: admin API at %s: %s (is crimpd running? --admin-socket)\n",
                    sock, curl_easy_strerror(rc));
        return NULL;
    }
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (status != 200 && quiet) {
        json_decref(j);
        return NULL;
    }
    if (status != 200) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        fprintf(stderr, "crimpctl: %s\n", msg ? msg : (text ? text : "admin API error"));
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *cli_admin_request(struct cli *cli, const char *method, const char *path)
{
    return admin_request(cli, method, path, false);
}

json_t *cli_admin_get_quiet(struct cli *cli, const char *path)
{
    return admin_request(cli, "GET", path, true);
}

struct follow {
    char *pending;
    size_t len;
    void (*on_line)(void *ctx, json_t *doc);
    void *ctx;
};

static size_t on_follow_data(char *data, size_t size, size_t n, void *arg)
{
    struct follow *f = arg;
    size_t len = size * n;
    f->pending = xrealloc(f->pending, f->len + len + 1);
    memcpy(f->pending + f->len, data, len);
    f->len += len;
    f->pending[f->len] = '\0';
    char *line = f->pending, *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        if (j) {
            f->on_line(f->ctx, j);
            json_decref(j);
        }
        line = nl + 1;
    }
    f->len = strlen(line);
    memmove(f->pending, line, f->len + 1);
    fflush(stdout);
    return len;
}

int cli_admin_follow(struct cli *cli, const char *path, void (*on_line)(void *ctx, json_t *doc),
                     void *ctx)
{
    cleanup_free char *sock = cli_admin_socket(cli);
    cleanup_free char *url = xasprintf("http://crimp%s", path);
    struct follow f = {.on_line = on_line, .ctx = ctx};
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_follow_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &f);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    free(f.pending);
    if (rc != CURLE_OK) {
        fprintf(stderr, "crimpctl: admin API at %s: %s\n", sock, curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}
