/* What the registry client reads from a registry's or token server's
 * replies: header lines, error messages, tokens and manifest types.  Pure
 * functions on the received bytes, so that they are fuzzed without a
 * registry (tests/fuzz/fuzz_registry_reply.c).  */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "distribution-internal.h"
#include "utils.h"

enum dist_line dist_header_line(char *line, long *status, char **name, char **value)
{
    line[strcspn(line, "\r\n")] = '\0';
    if (has_prefix(line, "HTTP/")) {
        const char *sp = strchr(line, ' ');
        *status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return DIST_LINE_STATUS;
    }
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return DIST_LINE_OTHER;
    *colon = '\0';
    char *v = colon + 1 + strspn(colon + 1, " \t");
    size_t vlen = strlen(v);
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        v[--vlen] = '\0';
    *name = line;
    *value = v;
    return DIST_LINE_HEADER;
}

char *dist_reply_message(const char *body, size_t len)
{
    static const char *const keys[] = {"details", "error_description", "error", "message"};
    json_auto_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *first = json_array_get(json_object_get(j, "errors"), 0);
    const char *m = json_string_value(json_object_get(first, "message"));
    for (size_t i = 0; m == NULL && i < CRIMP_ARRAY_SIZE(keys); i++)
        m = json_string_value(json_object_get(j, keys[i]));
    if (m != NULL)
        return xstrdup(m);
    if (j == NULL && body != NULL && len > 0 && len < 200) {
        size_t n = 0;
        while (n < len && body[n] != '\r' && body[n] != '\n' && body[n] != '\0')
            n++;
        return xasprintf("%.*s", (int)n, body);
    }
    return NULL;
}

char *dist_token_of_reply(const char *body, size_t len)
{
    json_auto_t *reply = json_loadb(body ? body : "", len, 0, NULL);
    const char *token = json_string_value(json_object_get(reply, "token"));
    if (str_empty(token))
        token = json_string_value(json_object_get(reply, "access_token"));
    return str_empty(token) ? NULL : xstrdup(token);
}

bool dist_is_generic_type(const char *mt)
{
    return strcmp(mt, "application/json") == 0 || strcmp(mt, "text/plain") == 0 ||
           strcmp(mt, "application/octet-stream") == 0;
}

char *dist_manifest_media_type(const char *body, size_t len, const char *content_type)
{
    json_auto_t *j = json_loadb(body ? body : "", len, 0, NULL);
    const char *declared = json_string_value(json_object_get(j, "mediaType"));
    if (declared != NULL)
        return xstrdup(declared);
    if (content_type != NULL && !dist_is_generic_type(content_type))
        return xstrdup(content_type);
    if (json_is_array(json_object_get(j, "manifests")))
        return xstrdup(MT_OCI_INDEX);
    if (json_is_object(json_object_get(j, "config")))
        return xstrdup(MT_OCI_MANIFEST);
    return NULL;
}
