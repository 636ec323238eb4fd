/* SHA-1 and SHA-256 through libcrypto's EVP interface (digest.h).  EVP
 * fails only when out of memory or when the digest is missing from the
 * library, neither of which crimp can recover from: it aborts, as
 * xmalloc does.  */
#include "digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void digest_failed(const char *what)
{
    fprintf(stderr, "crimp: libcrypto %s failed\n", what);
    abort();
}

void crimp_sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha1(), NULL) != 1 || n != SHA1_DIGEST_LEN)
        digest_failed("SHA-1");
}

void sha256_init(struct sha256_ctx *c)
{
    c->md = EVP_MD_CTX_new();
    if (c->md == NULL || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
        digest_failed("SHA-256 init");
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
    if (EVP_DigestUpdate(c->md, data, len) != 1)
        digest_failed("SHA-256 update");
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(c->md, out, &n) != 1 || n != SHA256_DIGEST_LEN)
        digest_failed("SHA-256 final");
    sha256_release(c);
}

void sha256_release(struct sha256_ctx *c)
{
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

void sha256_final_string(struct sha256_ctx *c, char out[SHA256_DIGEST_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(c, d);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        out[7 + 2 * i] = hex[d[i] >> 4];
        out[8 + 2 * i] = hex[d[i] & 15];
    }
    out[7 + 2 * SHA256_DIGEST_LEN] = '\0';
}

void sha256_digest_string(const void *data, size_t len, char out[SHA256_DIGEST_STR_LEN])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final_string(&c, out);
}
