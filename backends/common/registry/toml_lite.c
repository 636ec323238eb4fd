/* A reader for the TOML subset of toml_lite.h: a cursor over the text,
 * one function per production.  Every error names the line.  */
#include "toml_lite.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utils.h"

struct cursor {
    const char *p, *end;
    int line;
};

static int syntax(const struct cursor *c, crimp_error_t *err, const char *what)
{
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "line %d: %s", c->line, what);
}

static bool at_end(const struct cursor *c)
{
    return c->p >= c->end;
}

static void skip_blanks(struct cursor *c)
{
    while (!at_end(c) && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static void skip_comment(struct cursor *c)
{
    if (!at_end(c) && *c->p == '#')
        while (!at_end(c) && *c->p != '\n')
            c->p++;
}

/* Blanks, comments and newlines: what may stand between array items.  */
static void skip_space(struct cursor *c)
{
    for (;;) {
        skip_blanks(c);
        skip_comment(c);
        if (at_end(c) || (*c->p != '\n' && *c->p != '\r'))
            return;
        if (*c->p == '\n')
            c->line++;
        c->p++;
    }
}

/* After a value or a header only a comment may follow on the line.  */
static int end_of_line(struct cursor *c, crimp_error_t *err)
{
    skip_blanks(c);
    skip_comment(c);
    if (!at_end(c) && *c->p == '\r')
        c->p++;
    if (at_end(c))
        return 0;
    if (*c->p != '\n')
        return syntax(c, err, "unexpected text after the value");
    c->p++;
    c->line++;
    return 0;
}

static int hex_value(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        int d = isdigit((unsigned char)p[i])    ? p[i] - '0'
                : isxdigit((unsigned char)p[i]) ? tolower((unsigned char)p[i]) - 'a' + 10
                                                : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* One escape of a basic string; \uXXXX only below 0x80 (the files this
 * reads hold paths, URLs and header values).  */
static int unescape(struct cursor *c, char *out, crimp_error_t *err)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (at_end(c))
        return syntax(c, err, "unterminated string");
    const char *hit = strchr(from, *c->p);
    if (*c->p != '\0' && hit != NULL) {
        *out = to[hit - from];
        c->p++;
        return 0;
    }
    if (*c->p == 'u' && c->end - c->p >= 5) {
        int v = hex_value(c->p + 1, 4);
        if (v > 0 && v < 0x80) {
            *out = (char)v;
            c->p += 5;
            return 0;
        }
    }
    return syntax(c, err, "unsupported escape in string");
}

static int parse_string(struct cursor *c, char **out, crimp_error_t *err)
{
    char quote = *c->p++;
    size_t cap = 32, n = 0;
    cleanup_free char *buf = xmalloc(cap);
    for (;;) {
        if (at_end(c) || *c->p == '\n')
            return syntax(c, err, "unterminated string");
        char ch = *c->p++;
        if (ch == quote)
            break;
        if (ch == '\0')
            return syntax(c, err, "NUL byte in string");
        if (ch == '\\' && quote == '"' && unescape(c, &ch, err) < 0)
            return -1;
        if (n + 2 > cap)
            buf = xrealloc(buf, cap *= 2);
        buf[n++] = ch;
    }
    buf[n] = '\0';
    *out = steal_ptr(&buf);
    return 0;
}

static bool is_bare_key_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '-';
}

static int parse_key(struct cursor *c, char **out, crimp_error_t *err)
{
    if (!at_end(c) && (*c->p == '"' || *c->p == '\''))
        return parse_string(c, out, err);
    const char *start = c->p;
    while (!at_end(c) && is_bare_key_char(*c->p))
        c->p++;
    if (c->p == start)
        return syntax(c, err, "expected a key");
    *out = strndup(start, (size_t)(c->p - start));
    if (*out == NULL)
        abort();
    return 0;
}

static bool take_word(struct cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    if ((size_t)(c->end - c->p) > n && is_bare_key_char(c->p[n]))
        return false;
    c->p += n;
    return true;
}

static int parse_value(struct cursor *c, int depth, json_t **out, crimp_error_t *err);

static int parse_array(struct cursor *c, int depth, json_t **out, crimp_error_t *err)
{
    if (depth >= TOML_LITE_MAX_DEPTH)
        return syntax(c, err, "arrays nested too deeply");
    c->p++; /* '[' */
    json_auto_t *arr = json_array();
    for (;;) {
        skip_space(c);
        if (at_end(c))
            return syntax(c, err, "unterminated array");
        if (*c->p == ']')
            break;
        json_t *item = NULL;
        if (parse_value(c, depth + 1, &item, err) < 0)
            return -1;
        json_array_append_new(arr, item);
        skip_space(c);
        if (!at_end(c) && *c->p == ',')
            c->p++;
        else if (at_end(c) || *c->p != ']')
            return syntax(c, err, "expected ',' or ']' in array");
    }
    c->p++; /* ']' */
    *out = json_incref(arr);
    return 0;
}

static int parse_integer(struct cursor *c, json_t **out, crimp_error_t *err)
{
    const char *start = c->p;
    if (*c->p == '-' || *c->p == '+')
        c->p++;
    while (!at_end(c) && (isdigit((unsigned char)*c->p) || *c->p == '_'))
        c->p++;
    char digits[32];
    size_t n = 0;
    for (const char *q = start; q < c->p && n + 1 < sizeof(digits); q++)
        if (*q != '_')
            digits[n++] = *q;
    digits[n] = '\0';
    if (n == 0 || (size_t)(c->p - start) >= sizeof(digits) ||
        !isdigit((unsigned char)digits[n - 1]))
        return syntax(c, err, "unsupported value (strings, booleans, integers and arrays only)");
    *out = json_integer(strtoll(digits, NULL, 10));
    return 0;
}

static int parse_value(struct cursor *c, int depth, json_t **out, crimp_error_t *err)
{
    if (at_end(c))
        return syntax(c, err, "missing value");
    if (*c->p == '"' || *c->p == '\'') {
        if (c->end - c->p >= 3 && c->p[1] == c->p[0] && c->p[2] == c->p[0])
            return syntax(c, err, "multi-line strings are not supported");
        char *s = NULL;
        if (parse_string(c, &s, err) < 0)
            return -1;
        *out = json_string(s);
        free(s);
        return *out != NULL ? 0 : syntax(c, err, "string is not UTF-8");
    }
    if (*c->p == '[')
        return parse_array(c, depth, out, err);
    if (take_word(c, "true")) {
        *out = json_true();
        return 0;
    }
    if (take_word(c, "false")) {
        *out = json_false();
        return 0;
    }
    return parse_integer(c, out, err);
}

static void table_clear(struct toml_lite_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->path[i]);
    t->n = 0;
}

static int parse_header(struct cursor *c, struct toml_lite_table *t, crimp_error_t *err)
{
    c->p++; /* '[' */
    if (!at_end(c) && *c->p == '[')
        return syntax(c, err, "arrays of tables are not supported");
    table_clear(t);
    for (;;) {
        skip_blanks(c);
        if (t->n == TOML_LITE_MAX_PATH)
            return syntax(c, err, "table name has too many parts");
        if (parse_key(c, &t->path[t->n], err) < 0)
            return -1;
        t->n++;
        skip_blanks(c);
        if (!at_end(c) && *c->p == '.') {
            c->p++;
            continue;
        }
        if (at_end(c) || *c->p != ']')
            return syntax(c, err, "expected ']' after the table name");
        c->p++;
        return end_of_line(c, err);
    }
}

static int parse_pair(struct cursor *c, const struct toml_lite_table *t, toml_lite_pair_fn on_pair,
                      void *ctx, crimp_error_t *err)
{
    cleanup_free char *key = NULL;
    if (parse_key(c, &key, err) < 0)
        return -1;
    skip_blanks(c);
    if (!at_end(c) && *c->p == '.')
        return syntax(c, err, "dotted keys are not supported; use a [table]");
    if (at_end(c) || *c->p != '=')
        return syntax(c, err, "expected '=' after the key");
    c->p++;
    skip_blanks(c);
    int line = c->line;
    json_auto_t *value = NULL;
    if (parse_value(c, 0, &value, err) < 0 || end_of_line(c, err) < 0)
        return -1;
    return on_pair(ctx, t, key, value, line, err);
}

int toml_lite_parse(const char *text, size_t len, toml_lite_table_fn on_table,
                    toml_lite_pair_fn on_pair, void *ctx, crimp_error_t *err)
{
    struct cursor c = {.p = text, .end = text + len, .line = 1};
    struct toml_lite_table table = {.n = 0};
    int rc = 0;
    while (rc == 0) {
        skip_space(&c);
        if (at_end(&c))
            break;
        if (*c.p == '[') {
            rc = parse_header(&c, &table, err);
            if (rc == 0)
                rc = on_table(ctx, &table, c.line - 1, err);
        } else {
            rc = parse_pair(&c, &table, on_pair, ctx, err);
        }
    }
    table_clear(&table);
    return rc;
}
