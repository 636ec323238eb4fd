/* SHA-1 and SHA-256 from OpenSSL's libcrypto (EVP): digests of image
 * content and chain IDs (chain_i = sha256(chain_{i-1} + " " + diffID_i)),
 * registry blob checks, and the WebSocket accept key (SHA-1).  */
#ifndef CRIMP_DIGEST_H
#define CRIMP_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20

/* SHA-1 of DATA into OUT (RFC 3174); only the WebSocket handshake uses it.  */
void crimp_sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LEN]);

/* An incremental SHA-256.  sha256_init starts one (aborts when out of
 * memory), sha256_final ends and frees it; sha256_release frees one that
 * is abandoned unfinished (no-op after final, or on a zeroed context).  */
struct sha256_ctx {
    struct evp_md_ctx_st *md;
};

#define SHA256_DIGEST_LEN 32
/* "sha256:" + 64 hex digits + NUL */
#define SHA256_DIGEST_STR_LEN 72

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);
void sha256_release(struct sha256_ctx *c);

/* "sha256:<hex>" of DATA into OUT.  */
void sha256_digest_string(const void *data, size_t len, char out[SHA256_DIGEST_STR_LEN]);
/* "sha256:<hex>" of a finished context into OUT (finalizes C).  */
void sha256_final_string(struct sha256_ctx *c, char out[SHA256_DIGEST_STR_LEN]);

#endif
