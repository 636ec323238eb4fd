/* libFuzzer target for what a registry or token server answers, as the
 * registry client reads it (backends/common/registry/distribution_reply.c,
 * distribution.c): header lines (status, Docker-Content-Digest,
 * Content-Type, WWW-Authenticate challenges), error bodies, token replies,
 * a manifest body's media type, and digests.  The input is the reply, head
 * and body alike; each line of it is also taken as a header line.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/registry/distribution-internal.h"
#include "common/registry/distribution.h"
#include "utils.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void challenge(const char *value)
{
    char *scheme = NULL;
    json_t *params = NULL;
    if (dist_parse_www_authenticate(value, &scheme, &params) == 0) {
        if (scheme == NULL || !json_is_object(params))
            __builtin_trap();
        (void)json_string_value(json_object_get(params, "realm"));
    }
    free(scheme);
    json_decref(params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    free(dist_reply_message(body, size));
    free(dist_token_of_reply(body, size));
    free(dist_manifest_media_type(body, size, NULL));
    free(dist_manifest_media_type(body, size, "application/vnd.oci.image.index.v1+json"));

    cleanup_free char *text = strndup(body, size);
    challenge(text);
    (void)dist_digest_valid(text);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        long status = -1;
        char *name = NULL, *value = NULL;
        switch (dist_header_line(line, &status, &name, &value)) {
        case DIST_LINE_HEADER:
            if (name == NULL || value == NULL)
                __builtin_trap();
            challenge(value);
            (void)dist_digest_valid(value);
            (void)dist_is_generic_type(value);
            break;
        case DIST_LINE_STATUS:
        case DIST_LINE_OTHER:
            break;
        }
    }
    return 0;
}
