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

json_t *cli_admin_request(struct cli *cli, const char *method, const char *path)
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
        fprintf(stderr, "crimpctl: admin API at %s: %s (is crimpd running? --admin-socket)\n",
                sock, curl_easy_strerror(rc));
        return NULL;
    }
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (status != 200) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        fprintf(stderr, "crimpctl: %s\n", msg ? msg : (text ? text : "admin API error"));
        json_decref(j);
        return NULL;
    }
    return j;
}
