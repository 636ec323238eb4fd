/* common/base64.c: RFC 4648's test vectors both ways, the URL-safe
 * alphabet, and the non-canonical input the decoder refuses.  */
#include <string.h>

#include "base64.h"
#include "unit.h"

static int test_rfc4648_vectors(void)
{
    static const char *const v[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char out[16];
        uint8_t raw[16];
        size_t n = strlen(v[i][0]);
        CHECK(crimp_base64_encode(v[i][0], n, out) == strlen(v[i][1]));
        CHECK(strcmp(out, v[i][1]) == 0 && strlen(out) == CRIMP_BASE64_LEN(n));
        CHECK(crimp_base64_decode(v[i][1], strlen(v[i][1]), raw) == (long)n);
        CHECK(memcmp(raw, v[i][0], n) == 0);
    }
    return 0;
}

static int test_url_alphabet(void)
{
    static const uint8_t in[] = {0xfb, 0xff, 0xbf};
    char out[8];
    CHECK(crimp_base64_encode(in, 3, out) == 4 && strcmp(out, "+/+/") == 0);
    CHECK(crimp_base64url_encode(in, 3, out) == 4 && strcmp(out, "-_-_") == 0);
    CHECK(crimp_base64url_encode("{}", 2, out) == 4 && strcmp(out, "e30=") == 0);
    return 0;
}

static int test_rejects_non_canonical(void)
{
    uint8_t raw[16];
    CHECK(crimp_base64_decode("Zg=", 3, raw) < 0);
    CHECK(crimp_base64_decode("Zh==", 4, raw) < 0); /* non-zero padding bits */
    CHECK(crimp_base64_decode("Z===", 4, raw) < 0);
    CHECK(crimp_base64_decode("Zg==Zg==", 8, raw) < 0); /* padding mid-way */
    CHECK(crimp_base64_decode("Zm9v YmE", 8, raw) < 0);
    CHECK(crimp_base64_decode("-_-_", 4, raw) < 0); /* URL-safe is not accepted */
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_rfc4648_vectors),
        UNIT_TEST(test_url_alphabet),
        UNIT_TEST(test_rejects_non_canonical),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
