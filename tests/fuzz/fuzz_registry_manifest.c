/* libFuzzer target for registry manifests and indexes as the registry
 * client and the containerd backend read them (backends/common/registry/
 * distribution.c; backends/containerd/images.c and pull.c call the same
 * functions on content they fetched or stored): the input is a manifest
 * or index body.  An index is asked for each platform crimp may run on,
 * a manifest for its config and layers, and what they hand out must be
 * well-formed descriptors.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/registry/distribution-internal.h"
#include "common/registry/distribution.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_descriptor(const struct dist_descriptor *d)
{
    if (d->digest == NULL || !dist_digest_valid(d->digest) || d->media_type == NULL || d->size < 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_auto_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (doc == NULL)
        return 0;
    (void)dist_is_index(json_string_value(json_object_get(doc, "mediaType")));
    static const char *const arches[] = {"amd64", "arm64", "arm", "ppc64le", "s390x", "386"};
    for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
        struct dist_descriptor m = {0};
        crimp_error_t err = NULL;
        if (dist_index_select(doc, "linux", arches[i], &m, &err) == 0)
            check_descriptor(&m);
        else
            crimp_error_release(&err);
        dist_descriptor_clear(&m);
    }
    struct dist_descriptor config = {0}, *layers = NULL;
    size_t n = 0;
    crimp_error_t err = NULL;
    if (dist_manifest_parse(doc, &config, &layers, &n, &err) == 0) {
        check_descriptor(&config);
        for (size_t i = 0; i < n; i++) {
            check_descriptor(&layers[i]);
            dist_descriptor_clear(&layers[i]);
        }
        free(layers);
    } else {
        crimp_error_release(&err);
    }
    dist_descriptor_clear(&config);
    return 0;
}
