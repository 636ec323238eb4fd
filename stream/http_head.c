/* The streaming server's HTTP request head: parsed from a buffer (the
 * socket side is httpd.c's), the protocol negotiated, the path split into
 * kind and token.  Every field is bounded; longer values are cut.  */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "stream-internal.h"
#include "utils.h"

/* Comma-separated header values, each trimmed, appended in order.  */
static void add_protocols(struct http_head *h, char *value)
{
    char *save = NULL;
    for (char *t = strtok_r(value, ",", &save); t && h->n_protocols < HTTP_MAX_PROTOCOLS;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = '\0';
        if (n)
            snprintf(h->protocols[h->n_protocols++], sizeof(h->protocols[0]), "%s", t);
    }
}

static void parse_header_line(struct http_head *h, char *line)
{
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return;
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (strcasecmp(line, "Upgrade") == 0) {
        h->upgrade_spdy |= strcasestr(value, "spdy/3.1") != NULL;
        h->upgrade_ws |= strcasestr(value, "websocket") != NULL;
    } else if (strcasecmp(line, "Sec-WebSocket-Key") == 0) {
        snprintf(h->ws_key, sizeof(h->ws_key), "%s", value);
    } else if (strcasecmp(line, "Sec-WebSocket-Protocol") == 0 &&
               h->n_ws_offers < HTTP_MAX_WS_OFFERS) {
        h->ws_offers[h->n_ws_offers++] = value;
    }
    if (strcasecmp(line, "Connection") == 0)
        h->connection_upgrade |= strcasestr(value, "upgrade") != NULL;
    else if (strcasecmp(line, "X-Stream-Protocol-Version") == 0)
        add_protocols(h, value);
}

bool http_head_parse(char *buf, size_t len, struct http_head *h)
{
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return false;
    buf[len] = '\0';
    *end = '\0';
    h->rest = end + 4;
    h->n_rest = len - (size_t)(h->rest - buf);
    char *save = NULL;
    char *line = strtok_r(buf, "\r\n", &save);
    if (line == NULL || sscanf(line, "%7s %1023s", h->method, h->path) != 2)
        return false;
    char *q = strchr(h->path, '?');
    h->query = q ? q + 1 : "";
    if (q)
        *q = '\0';
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL)
        parse_header_line(h, line);
    return true;
}

static bool supported(enum crimp_stream_kind kind, const char *p)
{
    if (kind == CRIMP_STREAM_PORTFORWARD)
        return strcmp(p, "portforward.k8s.io") == 0;
    /* v5 is accepted too: over SPDY it is v4 (client-go's v5 SPDY handler
     * is v4's).  */
    return strcmp(p, "v5.channel.k8s.io") == 0 || strcmp(p, "v4.channel.k8s.io") == 0 ||
           strcmp(p, "v3.channel.k8s.io") == 0 || strcmp(p, "v2.channel.k8s.io") == 0 ||
           strcmp(p, "channel.k8s.io") == 0;
}

/* The client's first protocol we speak ("client order wins").  */
const char *http_negotiate(const struct http_head *h, enum crimp_stream_kind kind)
{
    for (int i = 0; i < h->n_protocols; i++)
        if (supported(kind, h->protocols[i]))
            return h->protocols[i];
    return NULL;
}

bool http_kind_of_path(const char *path, enum crimp_stream_kind *kind, const char **token)
{
    static const struct {
        const char *prefix;
        enum crimp_stream_kind kind;
    } paths[] = {{"/exec/", CRIMP_STREAM_EXEC},
                 {"/attach/", CRIMP_STREAM_ATTACH},
                 {"/portforward/", CRIMP_STREAM_PORTFORWARD}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(paths); i++)
        if (has_prefix(path, paths[i].prefix)) {
            *kind = paths[i].kind;
            *token = path + strlen(paths[i].prefix);
            return **token != '\0';
        }
    return false;
}
