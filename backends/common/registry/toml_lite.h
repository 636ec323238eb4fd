/* The part of TOML that registry host files use: comments, `key = value`,
 * table headers with dotted and quoted keys ([host."https://m:5000".header]),
 * basic and literal strings, booleans, integers and arrays (nested,
 * multi-line).  Each key/value pair is handed to a callback with its table
 * path and the value as a jansson value; anything else (inline tables,
 * multi-line strings, dates, floats) is refused with the line number, so an
 * operator's typo is a clear error instead of a silently ignored mirror.  */
#ifndef CRIMP_TOML_LITE_H
#define CRIMP_TOML_LITE_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

#define TOML_LITE_MAX_PATH  4  /* components of a table header */
#define TOML_LITE_MAX_DEPTH 4  /* array nesting */

struct toml_lite_table {
    char *path[TOML_LITE_MAX_PATH];
    size_t n;
};

/* Called for each pair; TABLE is the header it sits under (n == 0: top).
 * Returning < 0 stops the parse with *err as set by the callback.  */
typedef int (*toml_lite_pair_fn)(void *ctx, const struct toml_lite_table *table,
                                 const char *key, json_t *value, int line, crimp_error_t *err);

/* Called for each table header, before the pairs under it: a table may
 * matter without any pair ([host."https://mirror"] alone names a mirror).  */
typedef int (*toml_lite_table_fn)(void *ctx, const struct toml_lite_table *table, int line,
                                  crimp_error_t *err);

int toml_lite_parse(const char *text, size_t len, toml_lite_table_fn on_table,
                    toml_lite_pair_fn on_pair, void *ctx, crimp_error_t *err);

#endif
