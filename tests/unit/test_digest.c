/* common/digest.c: SHA-256 against the FIPS 180-2 / NIST example vectors,
 * fed whole and in odd-sized pieces that cross block boundaries, the digest
 * string, and SHA-1 against RFC 3174's vectors.  */
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "unit.h"
#include "utils.h"

static const char ABC448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char ABC896[] =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopq"
    "rsmnopqrstnopqrstu";

static void hex_of(const uint8_t d[SHA256_DIGEST_LEN], char out[65])
{
    for (int i = 0; i < SHA256_DIGEST_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The digest of DATA fed in pieces of PIECE bytes (0: in one call).  */
static void digest_in_pieces(const char *data, size_t len, size_t piece, char out[65])
{
    struct sha256_ctx c;
    sha256_init(&c);
    if (piece == 0)
        piece = len ? len : 1;
    for (size_t off = 0; off < len; off += piece)
        sha256_update(&c, data + off, len - off < piece ? len - off : piece);
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(&c, d);
    hex_of(d, out);
}

static int test_nist_vectors(void)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {ABC448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {ABC896, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    static const size_t pieces[] = {0, 1, 3, 7, 55, 63, 64, 65};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(v); i++) {
        for (size_t p = 0; p < CRIMP_ARRAY_SIZE(pieces); p++) {
            char hex[65];
            digest_in_pieces(v[i].in, strlen(v[i].in), pieces[p], hex);
            if (strcmp(hex, v[i].hex) != 0) {
                fprintf(stderr, "vector %zu piece %zu: got %s\n", i, pieces[p], hex);
                return -1;
            }
        }
    }
    return 0;
}

/* One million 'a', in pieces of 997 then 1 then 4093 bytes, repeating.  */
static int test_million_a(void)
{
    static char a[4093];
    memset(a, 'a', sizeof(a));
    static const size_t sizes[] = {997, 1, 4093};
    struct sha256_ctx c;
    sha256_init(&c);
    size_t done = 0;
    for (size_t k = 0; done < 1000000; k++) {
        size_t n = sizes[k % 3];
        if (n > 1000000 - done)
            n = 1000000 - done;
        sha256_update(&c, a, n);
        done += n;
    }
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(&c, d);
    char hex[65];
    hex_of(d, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    return 0;
}

/* Lengths around the padding boundary (55, 56, 64 bytes; expected values
 * from sha256sum), in one call and byte by byte.  */
static int test_padding_boundaries(void)
{
    static const struct {
        size_t len;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    };
    char buf[64];
    memset(buf, 'a', sizeof(buf));
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(v); i++) {
        char whole[65], bytes[65];
        digest_in_pieces(buf, v[i].len, 0, whole);
        digest_in_pieces(buf, v[i].len, 1, bytes);
        CHECK(strcmp(whole, v[i].hex) == 0);
        CHECK(strcmp(bytes, v[i].hex) == 0);
    }
    return 0;
}

static int test_digest_string(void)
{
    char s[SHA256_DIGEST_STR_LEN];
    memset(s, 'x', sizeof(s));
    sha256_digest_string("abc", 3, s);
    CHECK(strcmp(s, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") ==
          0);
    CHECK(strlen(s) == SHA256_DIGEST_STR_LEN - 1);

    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, "a", 1);
    sha256_update(&c, "bc", 2);
    char t[SHA256_DIGEST_STR_LEN];
    sha256_final_string(&c, t);
    CHECK(strcmp(s, t) == 0);

    sha256_digest_string("", 0, s);
    CHECK(strcmp(s, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") ==
          0);
    return 0;
}

static int test_sha1_vectors(void)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {ABC448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    uint8_t d[SHA1_DIGEST_LEN];
    char hex[2 * SHA1_DIGEST_LEN + 1];
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(v); i++) {
        crimp_sha1(v[i].in, strlen(v[i].in), d);
        for (int k = 0; k < SHA1_DIGEST_LEN; k++)
            snprintf(hex + 2 * k, 3, "%02x", d[k]);
        CHECK(strcmp(hex, v[i].hex) == 0);
    }
    cleanup_free char *million = xmalloc(1000000);
    memset(million, 'a', 1000000);
    crimp_sha1(million, 1000000, d);
    for (int k = 0; k < SHA1_DIGEST_LEN; k++)
        snprintf(hex + 2 * k, 3, "%02x", d[k]);
    CHECK(strcmp(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0);
    return 0;
}

/* An abandoned context is freed by sha256_release (ASan's leak check sees
 * the difference), and releasing twice or after final is harmless.  */
static int test_release(void)
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, "abc", 3);
    sha256_release(&c);
    sha256_release(&c);
    CHECK(c.md == NULL);
    sha256_init(&c);
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(&c, d);
    CHECK(c.md == NULL);
    sha256_release(&c);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_nist_vectors),
        UNIT_TEST(test_million_a),
        UNIT_TEST(test_padding_boundaries),
        UNIT_TEST(test_digest_string),
        UNIT_TEST(test_sha1_vectors),
        UNIT_TEST(test_release),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
