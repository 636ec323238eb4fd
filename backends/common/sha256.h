/* SHA-256, bundled (FIPS 180-4) so that digests of image content and chain
 * IDs need no crypto library: verifying registry blobs, computing
 * chain_i = sha256(chain_{i-1} + " " + diffID_i).  */
#ifndef CRIMP_SHA256_H
#define CRIMP_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
    uint32_t state[8];
    uint64_t n_bytes;
    uint8_t block[64];
    size_t n_block;
};

#define SHA256_DIGEST_LEN 32
/* "sha256:" + 64 hex digits + NUL */
#define SHA256_DIGEST_STR_LEN 72

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* "sha256:<hex>" of DATA into OUT.  */
void sha256_digest_string(const void *data, size_t len, char out[SHA256_DIGEST_STR_LEN]);
/* "sha256:<hex>" of a finished context into OUT (finalizes C).  */
void sha256_final_string(struct sha256_ctx *c, char out[SHA256_DIGEST_STR_LEN]);

#endif
