/* The options of every backend type, one schema: what each key means,
 * which backend types take it, its type, default and range.  The same rows
 * validate a configuration (at start and on SIGHUP, before any backend is
 * opened), answer the backends' reads, fill `crimpd --print-config` with
 * defaults, and are the README's option table (tests/unit/test_options.c
 * holds the two together).  */
#ifndef CRIMP_BACKEND_OPTIONS_H
#define CRIMP_BACKEND_OPTIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

enum crimp_option_type {
    CRIMP_OPTION_STRING,
    /* A whole number: a JSON integer or a string of one ("30").  */
    CRIMP_OPTION_INT,
    CRIMP_OPTION_STRING_LIST,
};

struct crimp_option_spec {
    const char *key;
    const char *types; /* the backend types that take it: "docker containerd" */
    enum crimp_option_type type;
    /* As written in a configuration; NULL when computed at open (`help`
     * says how).  An INT default may be "auto": computed too.  */
    const char *dflt;
    long long min, max;         /* INT: the accepted range */
    const char *const *choices; /* STRING: the accepted values (NULL-terminated), or any */
    bool may_be_empty;          /* STRING: "" is accepted */
    const char *help;
};

/* Every option, NULL-key terminated.  */
extern const struct crimp_option_spec crimp_backend_options[];

/* The row for KEY, or NULL.  */
const struct crimp_option_spec *crimp_option_find(const char *key);

/* Checks OPTIONS (a JSON object, or NULL) of a backend of type TYPE against
 * the schema: INVALID_ARGUMENT naming the key for an unknown key (listing
 * those TYPE takes), a wrong type or a value out of range.  */
int crimp_options_check(const char *type, json_t *options, crimp_error_t *err);

/* OPTIONS with every key TYPE takes that has a default filled in (a new
 * object): what `crimpd --print-config` shows.  */
json_t *crimp_options_with_defaults(const char *type, json_t *options);

/* The value of a checked KEY in OPTIONS, else its default.  A string
 * option without a default gives NULL; an INT option set to or defaulting
 * to "auto" gives IF_AUTO.  */
const char *crimp_option_string(json_t *options, const char *key);
long long crimp_option_int(json_t *options, const char *key, long long if_auto);

#endif
