/* JSON documents printed as YAML (block style), for crimpctl -o yaml.
 * Strings are always double-quoted: YAML's double-quoted scalars take
 * JSON's escapes, so jansson's own encoding of a string is valid YAML and
 * no value (a "yes", a "1.0", a "null", a ":") can change type on the way.
 * Keys are plain when they are simple names, quoted otherwise.  */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static bool plain_key(const char *k)
{
    if (!isalpha((unsigned char)k[0]) && k[0] != '_')
        return false;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-./", *p))
            return false;
    /* Names YAML 1.1 would read as booleans or null.  */
    static const char *const words[] = {"y", "n", "yes", "no", "on", "off", "true", "false",
                                        "null", NULL};
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(k, words[i]) == 0)
            return false;
    return true;
}

static void print_key(const char *k, FILE *out)
{
    if (plain_key(k)) {
        fputs(k, out);
    } else {
        json_t *s = json_string(k);
        json_dumpf(s, out, JSON_ENCODE_ANY);
        json_decref(s);
    }
    fputc(':', out);
}

/* A value that fits on its key's line: scalars and empty containers.  */
static bool inline_value(json_t *v)
{
    return !(json_is_object(v) && json_object_size(v) > 0) &&
           !(json_is_array(v) && json_array_size(v) > 0);
}

static void print_inline(json_t *v, FILE *out)
{
    if (json_is_object(v))
        fputs("{}", out);
    else if (json_is_array(v))
        fputs("[]", out);
    else
        json_dumpf(v, out, JSON_ENCODE_ANY);
}

static void print_node(json_t *v, int indent, FILE *out);

static void print_object(json_t *obj, int indent, FILE *out, bool first_inline)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach (obj, k, v) {
        if (!(first && first_inline))
            fprintf(out, "%*s", indent, "");
        first = false;
        print_key(k, out);
        if (inline_value(v)) {
            fputc(' ', out);
            print_inline(v, out);
            fputc('\n', out);
        } else {
            fputc('\n', out);
            print_node(v, indent + 2, out);
        }
    }
}

static void print_array(json_t *arr, int indent, FILE *out)
{
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        fprintf(out, "%*s- ", indent, "");
        if (inline_value(v)) {
            print_inline(v, out);
            fputc('\n', out);
        } else if (json_is_object(v)) {
            print_object(v, indent + 2, out, true); /* "- key: …" then aligned keys */
        } else {
            fputc('\n', out);
            print_node(v, indent + 2, out);
        }
    }
}

static void print_node(json_t *v, int indent, FILE *out)
{
    if (inline_value(v)) {
        fprintf(out, "%*s", indent, "");
        print_inline(v, out);
        fputc('\n', out);
    } else if (json_is_object(v)) {
        print_object(v, indent, out, false);
    } else {
        print_array(v, indent, out);
    }
}

void cli_yaml_dump(json_t *doc, FILE *out)
{
    print_node(doc, 0, out);
}
