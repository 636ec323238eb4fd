/* A tiny test runner in crun's convention: each test returns 0 (pass), -1
 * (fail) or 77 (skip); main prints TAP-like `ok N - name` lines and exits 1 if
 * any test failed, 77 if all were skipped.  */
#ifndef CRIMP_UNIT_H
#define CRIMP_UNIT_H

#include <stdio.h>

struct unit_test {
    const char *name;
    int (*fn)(void);
};

#define UNIT_TEST(f) {#f, f}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

/* Like CHECK, for a call that fails with `crimp_error_t err` set: prints its message.  */
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        if ((expr) < 0) {                                                                          \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,                   \
                    err ? err->msg : "(no error)");                                                \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

static inline int unit_run(const struct unit_test *tests, size_t n)
{
    int failed = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        int r = tests[i].fn();
        if (r == 77) {
            printf("ok %zu - %s # SKIP\n", i + 1, tests[i].name);
            skipped++;
        } else if (r != 0) {
            printf("not ok %zu - %s\n", i + 1, tests[i].name);
            failed++;
        } else {
            printf("ok %zu - %s\n", i + 1, tests[i].name);
        }
    }
    if (failed)
        return 1;
    return (size_t)skipped == n ? 77 : 0;
}

#endif
