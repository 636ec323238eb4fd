/* Configuration: one table of scalar options serves the JSON file, the
 * command line and --help alike, so the three never drift apart.  */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"
#include "log.h"
#include "stream.h"
#include "utils.h"

enum opt_kind { OPT_INT, OPT_STR, OPT_STR_OR_EMPTY, OPT_MODE, OPT_SECONDS, OPT_LEVEL, OPT_CHOICE };

struct opt_def {
    const char *key;  /* JSON key; the flag is the same with '-' for '_' */
    enum opt_kind kind;
    size_t offset;    /* into struct crimp_config */
    long min, max;    /* for OPT_INT / OPT_SECONDS */
    const char *arg;  /* the argument's name in --help */
    const char *help;
};

/* The words an OPT_CHOICE option allows, NULL-terminated.  */
static const char *const LOG_FORMATS[] = {"text", "json", NULL};
static const char *const ON_OFF[] = {"off", "on", NULL};
static const struct {
    const char *key;
    const char *const *words;
} CHOICES[] = {{"log_format", LOG_FORMATS}, {"log_calls", ON_OFF}};

static const char *const *choices_of(const struct opt_def *d)
{
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(CHOICES); i++)
        if (strcmp(CHOICES[i].key, d->key) == 0)
            return CHOICES[i].words;
    return ON_OFF;
}

#define OFF(f) offsetof(struct crimp_config, f)

static const struct opt_def opt_defs[] = {
    {"listen", OPT_STR, OFF(listen), 0, 0, "PATH", "CRI socket path"},
    {"admin_listen", OPT_STR_OR_EMPTY, OFF(admin_listen), 0, 0, "PATH",
     "admin API socket (metrics, latency, calls); auto: admin.sock beside --listen; empty: off"},
    {"metrics_listen", OPT_STR_OR_EMPTY, OFF(metrics_listen), 0, 0, "HOST:PORT",
     "also serve /metrics over TCP; empty: off"},
    {"stream_listen", OPT_STR_OR_EMPTY, OFF(stream_listen), 0, 0, "HOST:PORT",
     "exec/attach/port-forward server for backends without one (docker); port 0: any; "
     "empty: off"},
    {"stream_idle_timeout", OPT_SECONDS, OFF(stream_idle_timeout), 0, 7 * 24 * 3600, "SECONDS",
     "end a streaming session nobody used, or whose client stopped reading, for this long "
     "(its exec'd process killed)"},
    {"stream_head_timeout", OPT_SECONDS, OFF(stream_head_timeout), 1, 3600, "SECONDS",
     "total time a streaming connection has to send its request head and token"},
    {"stream_max_pending", OPT_INT, OFF(stream_max_pending), 1, 4096, "N",
     "streaming connections without a valid token yet (apart from sessions; the oldest is "
     "cut off)"},
    {"stream_max_sessions", OPT_INT, OFF(stream_max_sessions), 1, 65536, "N",
     "concurrent streaming sessions (exec, attach, port-forward)"},
    {"stream_max_message", OPT_INT, OFF(stream_max_message), 65536, 64L << 20, "BYTES",
     "largest SPDY frame or WebSocket message a streaming client may send; larger ends the "
     "session"},
    {"socket_mode", OPT_MODE, OFF(socket_mode), 0, 0777, "MODE", "CRI socket permissions (octal)"},
    {"state_dir", OPT_STR, OFF(state_dir), 0, 0, "DIR", "state directory"},
    {"default_backend", OPT_STR, OFF(default_backend), 0, 0, "NAME", "backend new pods go to; empty: the first one listed"},
    {"workers", OPT_INT, OFF(workers), 1, 1024, "N",
     "most threads for fast calls (started when calls wait, ended when idle)"},
    {"slow_workers", OPT_INT, OFF(slow_workers), 1, 1024, "N",
     "most threads for slow calls (pull, stop, exec)"},
    {"worker_idle_timeout", OPT_SECONDS, OFF(worker_idle_timeout), 0, 24 * 3600, "SECONDS",
     "a worker without a call for this long ends, and malloc's free memory goes back to the "
     "system"},
    {"max_queued", OPT_INT, OFF(max_queued), 1, 1000000, "N",
     "calls waiting in each lane (fast, slow) before new ones are refused"},
    {"backend_max_calls", OPT_INT, OFF(backend_max_calls), 1, 1024, "N",
     "calls of one backend running at once on each lane; keep it under workers so a hung "
     "backend leaves threads for the others (per backend: options.max_calls)"},
    {"backend_max_queued", OPT_INT, OFF(backend_max_queued), 0, 100000, "N",
     "calls of one backend waiting for a turn on each lane; beyond: RESOURCE_EXHAUSTED "
     "(per backend: options.max_queued)"},
    {"backend_call_timeout", OPT_SECONDS, OFF(backend_call_timeout), 1, 24 * 3600, "SECONDS",
     "limit of a backend call made for a CRI call that carries no deadline; kubelet's deadline "
     "always applies (per backend: options.call_timeout)"},
    {"health_interval", OPT_SECONDS, OFF(health_interval), 0, 3600, "SECONDS",
     "pause between health probes of each backend (Status, /metrics crimp_backend_up)"},
    {"health_timeout", OPT_SECONDS, OFF(health_timeout), 0, 3600, "SECONDS",
     "a backend whose probe takes longer counts as down"},
    {"pollers", OPT_INT, OFF(pollers), 1, 64, "N", "gRPC completion queue threads"},
    {"max_streams", OPT_INT, OFF(max_streams), 1, 4096, "N", "concurrent server-streaming calls"},
    {"recent_calls", OPT_INT, OFF(recent_calls), 1, 1000000, "N",
     "recent calls kept with their spans"},
    {"max_message_bytes", OPT_INT, OFF(max_message_bytes), 4096, 1L << 30, "BYTES",
     "largest gRPC message accepted or sent"},
    {"drain_timeout", OPT_SECONDS, OFF(drain_timeout), 0, 3600, "SECONDS",
     "seconds SIGTERM waits for in-flight calls"},
    {"log_level", OPT_LEVEL, OFF(log_level), 0, 0, "LEVEL", "error, warn, info or debug"},
    {"log_format", OPT_CHOICE, OFF(log_format), 0, 0, "FORMAT",
     "text or json (one object a line); under systemd lines carry journald priorities"},
    {"log_calls", OPT_CHOICE, OFF(log_calls), 0, 0, "on|off",
     "an info line per CRI call: method, backend, code, duration, the ID it names"},
};

#define FIELD(cfg, def, type) ((type *)((char *)(cfg) + (def)->offset))

static void set_backends_default(struct crimp_config *cfg)
{
    /* The embedded default needs no option and changes nothing on a node
     * that runs containerd: a passthrough to its own CRI plugin at its
     * usual path.  The docker and containerd backends are chosen by name
     * (--backend, --config).  */
    cfg->n_backends = 1;
    cfg->backends = xcalloc(1, sizeof(*cfg->backends));
    cfg->backends[0].name = xstrdup("containerd-cri");
    cfg->backends[0].type = xstrdup("cri");
    cfg->backends[0].endpoint = xstrdup("unix:///run/containerd/containerd.sock");
    cfg->backends[0].max_queued = -1;
}

void crimp_config_init(struct crimp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = xstrdup("/run/crimp/crimp.sock");
    cfg->admin_listen = xstrdup("auto");
    cfg->metrics_listen = xstrdup("");
    cfg->stream_listen = xstrdup("127.0.0.1:0");
    cfg->stream_idle_timeout = 4 * 3600;
    cfg->stream_head_timeout = CRIMP_STREAM_DEFAULT_HEAD_SECONDS;
    cfg->stream_max_pending = CRIMP_STREAM_DEFAULT_MAX_PENDING;
    cfg->stream_max_sessions = CRIMP_STREAM_DEFAULT_MAX_SESSIONS;
    cfg->stream_max_message = CRIMP_STREAM_DEFAULT_MAX_MESSAGE;
    cfg->socket_mode = 0660;
    cfg->state_dir = xstrdup("/var/lib/crimp");
    cfg->workers = 16;
    cfg->slow_workers = 16;
    cfg->worker_idle_timeout = 10;
    cfg->max_queued = 4096;
    cfg->backend_max_calls = 8;
    cfg->backend_max_queued = 32;
    cfg->backend_call_timeout = 60;
    cfg->health_interval = 1;
    cfg->health_timeout = 2;
    cfg->pollers = 2;
    cfg->max_streams = 64;
    cfg->recent_calls = 512;
    cfg->max_message_bytes = 16 * 1024 * 1024;
    cfg->drain_timeout = 10;
    cfg->log_level = xstrdup("info");
    cfg->log_format = xstrdup("text");
    cfg->log_calls = xstrdup("off");
    cfg->default_backend = xstrdup(""); /* the first backend, resolved after parsing */
    cfg->backend_options = json_array();
    set_backends_default(cfg);
}

static void free_backends(struct crimp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_backends; i++) {
        free(cfg->backends[i].name);
        free(cfg->backends[i].type);
        free(cfg->backends[i].endpoint);
        free(cfg->backends[i].state_dir);
    }
    free(cfg->backends);
    cfg->backends = NULL;
    cfg->n_backends = 0;
}

void crimp_config_free(struct crimp_config *cfg)
{
    free_backends(cfg);
    json_decref(cfg->backend_options);
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(opt_defs); i++) {
        const struct opt_def *d = &opt_defs[i];
        if (d->kind == OPT_STR || d->kind == OPT_STR_OR_EMPTY || d->kind == OPT_LEVEL ||
            d->kind == OPT_CHOICE)
            free(*FIELD(cfg, d, char *));
    }
    free(cfg->config_file);
    memset(cfg, 0, sizeof(*cfg));
}

static int choice_error(const struct opt_def *d, const char *text, const char *where,
                        crimp_error_t *err)
{
    char words[128] = "";
    const char *const *choices = choices_of(d);
    for (const char *const *c = choices; *c; c++)
        snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%s",
                 c == choices ? "" : ", ", *c);
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "%s: `%s` is not one of %s",
                            where, text, words);
}

/* Sets option D from TEXT (a flag's argument or a JSON string).  */
static int set_from_text(struct crimp_config *cfg, const struct opt_def *d, const char *text,
                         const char *where, crimp_error_t *err)
{
    char *end = NULL;
    switch (d->kind) {
    case OPT_STR:
    case OPT_STR_OR_EMPTY:
        if (text[0] == '\0' && d->kind == OPT_STR)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "%s: must not be empty",
                                    where);
        free(*FIELD(cfg, d, char *));
        *FIELD(cfg, d, char *) = xstrdup(text);
        return 0;
    case OPT_LEVEL:
        if (crimp_log_parse_level(text) < 0)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "%s: `%s` is not one of error, warn, info, debug", where, text);
        free(*FIELD(cfg, d, char *));
        *FIELD(cfg, d, char *) = xstrdup(text);
        return 0;
    case OPT_CHOICE:
        for (const char *const *c = choices_of(d); *c; c++)
            if (strcmp(*c, text) == 0) {
                free(*FIELD(cfg, d, char *));
                *FIELD(cfg, d, char *) = xstrdup(text);
                return 0;
            }
        return choice_error(d, text, where, err);
    case OPT_MODE: {
        errno = 0;
        unsigned long v = strtoul(text, &end, 8);
        if (errno || end == text || *end || v > (unsigned long)d->max)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "%s: `%s` is not an octal mode", where, text);
        *FIELD(cfg, d, unsigned) = (unsigned)v;
        return 0;
    }
    case OPT_INT: {
        errno = 0;
        long v = strtol(text, &end, 10);
        if (errno || end == text || *end || v < d->min || v > d->max)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "%s: `%s` is not a whole number from %ld to %ld", where, text,
                                    d->min, d->max);
        *FIELD(cfg, d, int) = (int)v;
        return 0;
    }
    case OPT_SECONDS: {
        errno = 0;
        double v = strtod(text, &end);
        if (errno || end == text || *end || v < d->min || v > d->max)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "%s: `%s` is not a number of seconds from %ld to %ld", where,
                                    text, d->min, d->max);
        *FIELD(cfg, d, double) = v;
        return 0;
    }
    }
    return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: unknown option kind", where);
}

static int set_from_json(struct crimp_config *cfg, const struct opt_def *d, json_t *v,
                         const char *where, crimp_error_t *err)
{
    char buf[64];
    bool numeric = d->kind == OPT_INT || d->kind == OPT_SECONDS;
    if (numeric && json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return set_from_text(cfg, d, buf, where, err);
    }
    if (d->kind == OPT_SECONDS && json_is_real(v)) {
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
        return set_from_text(cfg, d, buf, where, err);
    }
    if (!numeric && json_is_string(v))
        return set_from_text(cfg, d, json_string_value(v), where, err);
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "%s: must be a %s", where,
                            numeric ? "number" : "string");
}

static const struct opt_def *find_opt(const char *key)
{
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(opt_defs); i++)
        if (strcmp(opt_defs[i].key, key) == 0)
            return &opt_defs[i];
    return NULL;
}

/* The keys of a backend's options that are crimp's, not the backend's.  */
static const struct {
    const char *key;
    const char *what;
    double min, max;
} LIMIT_KEYS[] = {
    {"max_calls", "a whole number from 1 to 1024", 1, 1024},
    {"max_queued", "a whole number from 0 to 100000", 0, 100000},
    {"call_timeout", "a number of seconds from 1 to 86400", 1, 86400},
};

static void set_limit(struct crimp_backend_config *b, size_t k, double v)
{
    if (k == 0)
        b->max_calls = (int)v;
    else if (k == 1)
        b->max_queued = (int)v;
    else
        b->call_timeout = v;
}

/* Takes crimp's own limits out of OPTIONS into B: the backend never sees
 * them (backends refuse keys they do not know).  */
static int take_limits(struct crimp_backend_config *b, json_t *options, const char *origin,
                       size_t index, crimp_error_t *err)
{
    for (size_t k = 0; k < CRIMP_ARRAY_SIZE(LIMIT_KEYS); k++) {
        json_t *v = json_object_get(options, LIMIT_KEYS[k].key);
        if (v == NULL)
            continue;
        double d = json_number_value(v);
        bool whole = k == 2 || json_is_integer(v);
        if (!json_is_number(v) || !whole || d < LIMIT_KEYS[k].min || d > LIMIT_KEYS[k].max)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "%s: backends[%zu].options.%s: must be %s", origin, index,
                                    LIMIT_KEYS[k].key, LIMIT_KEYS[k].what);
        set_limit(b, k, d);
        json_object_del(options, LIMIT_KEYS[k].key);
    }
    return 0;
}

/* Limits not given per backend come from crimpd's defaults.  */
static void resolve_limits(struct crimp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_backends; i++) {
        struct crimp_backend_config *b = &cfg->backends[i];
        if (b->max_calls == 0)
            b->max_calls = cfg->backend_max_calls;
        if (b->max_queued < 0)
            b->max_queued = cfg->backend_max_queued;
        if (b->call_timeout == 0)
            b->call_timeout = cfg->backend_call_timeout;
    }
}

static int parse_backend_json(struct crimp_config *cfg, json_t *obj, size_t index,
                              const char *origin, crimp_error_t *err)
{
    struct crimp_backend_config *b = &cfg->backends[index];
    const char *key;
    json_t *v;
    if (!json_is_object(obj))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: backends[%zu]: must be an object", origin, index);
    json_object_foreach(obj, key, v)
    {
        char **slot = strcmp(key, "name") == 0       ? &b->name
                      : strcmp(key, "type") == 0     ? &b->type
                      : strcmp(key, "endpoint") == 0 ? &b->endpoint
                                                     : NULL;
        if (slot != NULL && json_is_string(v) && json_string_length(v) > 0) {
            free(*slot);
            *slot = xstrdup(json_string_value(v));
        } else if (slot != NULL) {
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "%s: backends[%zu].%s: must be a non-empty string", origin,
                                    index, key);
        } else if (strcmp(key, "options") == 0 && json_is_object(v)) {
            if (take_limits(b, v, origin, index, err) < 0)
                return -1;
            json_array_append(cfg->backend_options, v);
            b->options = v;
        } else {
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "%s: backends[%zu]: unknown key `%s` (name, type, endpoint, "
                                    "options)",
                                    origin, index, key);
        }
    }
    if (b->name == NULL || b->type == NULL || b->endpoint == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: backends[%zu]: needs name, type and endpoint", origin, index);
    return 0;
}

static int apply_backends_json(struct crimp_config *cfg, json_t *arr, const char *origin,
                               crimp_error_t *err)
{
    if (!json_is_array(arr))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: backends: must be an array", origin);
    free_backends(cfg);
    cfg->n_backends = json_array_size(arr);
    cfg->backends = xcalloc(cfg->n_backends, sizeof(*cfg->backends));
    for (size_t i = 0; i < cfg->n_backends; i++)
        cfg->backends[i].max_queued = -1; /* 0 is a valid choice: none */
    for (size_t i = 0; i < cfg->n_backends; i++)
        if (parse_backend_json(cfg, json_array_get(arr, i), i, origin, err) < 0)
            return -1;
    return 0;
}

int crimp_config_apply_json(struct crimp_config *cfg, json_t *doc, const char *origin,
                            crimp_error_t *err)
{
    const char *key;
    json_t *v;
    if (!json_is_object(doc))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: the top level must be an object", origin);
    json_object_foreach(doc, key, v)
    {
        cleanup_free char *where = xasprintf("%s: %s", origin, key);
        if (strcmp(key, "backends") == 0) {
            if (apply_backends_json(cfg, v, origin, err) < 0)
                return -1;
            continue;
        }
        const struct opt_def *d = find_opt(key);
        if (d == NULL)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "%s: unknown key `%s`",
                                    origin, key);
        if (set_from_json(cfg, d, v, where, err) < 0)
            return -1;
    }
    return 0;
}

/* The text of the config file at PATH with every line whose first
 * non-blank character is '#' blanked (kept as spaces, so that jansson's
 * line and column numbers still point into the file).  JSON has no
 * comments; the installed default config explains itself with these.  A
 * JSON string cannot span lines, so such a line is never inside one.  */
static char *config_text(const char *path, crimp_error_t *err)
{
    cleanup_file FILE *in = fopen(path, "re");
    if (in == NULL) {
        crimp_make_errno_error(err, errno, "config %s", path);
        return NULL;
    }
    char *text = NULL, *line = NULL;
    size_t size = 0, cap = 0;
    FILE *out = open_memstream(&text, &size);
    if (out == NULL) {
        crimp_make_errno_error(err, errno, "config %s: open_memstream", path);
        return NULL;
    }
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        size_t lead = strspn(line, " \t");
        size_t end = line[n - 1] == '\n' ? (size_t)n - 1 : (size_t)n;
        if (lead < end && line[lead] == '#')
            memset(line + lead, ' ', end - lead);
        fwrite(line, 1, (size_t)n, out);
    }
    free(line);
    fclose(out);
    return text;
}

static int load_file(struct crimp_config *cfg, const char *path, crimp_error_t *err)
{
    cleanup_free char *text = config_text(path, err);
    if (text == NULL)
        return -1;
    json_error_t jerr;
    json_auto_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "config %s: line %d column %d: %s", path, jerr.line, jerr.column,
                                jerr.text);
    free(cfg->config_file);
    cfg->config_file = xstrdup(path);
    cleanup_free char *origin = xasprintf("config %s", path);
    return crimp_config_apply_json(cfg, doc, origin, err);
}

/* --backend NAME=TYPE:ENDPOINT; the first --backend on the command line
 * replaces the configured list, later ones add to it.  */
static int add_backend_flag(struct crimp_config *cfg, const char *arg, bool *replaced,
                            crimp_error_t *err)
{
    const char *eq = strchr(arg, '=');
    const char *colon = eq ? strchr(eq + 1, ':') : NULL;
    if (eq == NULL || colon == NULL || eq == arg || colon == eq + 1 || colon[1] == '\0')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "--backend `%s`: expected NAME=TYPE:ENDPOINT, e.g. "
                                "ctr=cri:unix:///run/containerd/containerd.sock",
                                arg);
    if (!*replaced) {
        free_backends(cfg);
        *replaced = true;
    }
    cfg->backends = xrealloc(cfg->backends, (cfg->n_backends + 1) * sizeof(*cfg->backends));
    struct crimp_backend_config *b = &cfg->backends[cfg->n_backends++];
    memset(b, 0, sizeof(*b));
    b->name = strndup(arg, (size_t)(eq - arg));
    b->type = strndup(eq + 1, (size_t)(colon - eq - 1));
    b->endpoint = xstrdup(colon + 1);
    b->max_queued = -1;
    return 0;
}

/* "auto" puts the admin socket beside the CRI socket, so that several
 * crimpd (tests, a second instance) never fight over one admin path.  */
static void resolve_admin_listen(struct crimp_config *cfg)
{
    if (strcmp(cfg->admin_listen, "auto") != 0)
        return;
    const char *slash = strrchr(cfg->listen, '/');
    size_t dir_len = slash ? (size_t)(slash - cfg->listen) : 0;
    free(cfg->admin_listen);
    cfg->admin_listen = xasprintf("%.*s/admin.sock", (int)dir_len, cfg->listen);
}

enum { FLAG_CONFIG = 1000, FLAG_BACKEND, FLAG_HELP, FLAG_VERSION, FLAG_PRINT, FLAG_OPT0 };

static struct option *build_long_options(char (*names)[32])
{
    size_t n = CRIMP_ARRAY_SIZE(opt_defs);
    struct option *o = xcalloc(n + 6, sizeof(*o));
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], 32, "%s", opt_defs[i].key);
        for (char *p = names[i]; *p; p++)
            if (*p == '_')
                *p = '-';
        o[i] = (struct option){names[i], required_argument, NULL, FLAG_OPT0 + (int)i};
    }
    o[n] = (struct option){"config", required_argument, NULL, FLAG_CONFIG};
    o[n + 1] = (struct option){"backend", required_argument, NULL, FLAG_BACKEND};
    o[n + 2] = (struct option){"help", no_argument, NULL, FLAG_HELP};
    o[n + 3] = (struct option){"version", no_argument, NULL, FLAG_VERSION};
    o[n + 4] = (struct option){"print-config", no_argument, NULL, FLAG_PRINT};
    return o;
}

static int bad_flag(crimp_error_t *err, const char *prog)
{
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                            "bad command line (see %s --help)", prog);
}

int crimp_config_from_args(struct crimp_config *cfg, int argc, char **argv, int *want_exit,
                           crimp_error_t *err)
{
    char names[CRIMP_ARRAY_SIZE(opt_defs)][32];
    cleanup_free struct option *longopts = build_long_options(names);
    bool replaced = false, print = false;
    int c;

    *want_exit = 0;
    /* Pass 1: the config file, so that flags override it wherever they are.  */
    opterr = 0;
    optind = 0; /* 0, not 1: glibc then resets its internal state too */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (c == FLAG_CONFIG && load_file(cfg, optarg, err) < 0)
            return -1;

    opterr = 1;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c >= FLAG_OPT0) {
            const struct opt_def *d = &opt_defs[c - FLAG_OPT0];
            cleanup_free char *where = xasprintf("--%s", names[c - FLAG_OPT0]);
            if (set_from_text(cfg, d, optarg, where, err) < 0)
                return -1;
        } else if (c == FLAG_BACKEND) {
            if (add_backend_flag(cfg, optarg, &replaced, err) < 0)
                return -1;
        } else if (c == FLAG_HELP) {
            crimp_config_usage(stdout, argv[0]);
            *want_exit = 1;
            return 0;
        } else if (c == FLAG_VERSION) {
            printf("crimpd %s\n", CRIMP_VERSION);
            *want_exit = 1;
            return 0;
        } else if (c == FLAG_PRINT) {
            print = true;
        } else if (c != FLAG_CONFIG) {
            return bad_flag(err, argv[0]);
        }
    }
    if (optind < argc)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "unexpected argument `%s` (see %s --help)", argv[optind], argv[0]);
    resolve_admin_listen(cfg);
    resolve_limits(cfg);
    /* Unless named, the default is the first backend listed, so that a
     * config or command line with one backend needs nothing more.  */
    if (str_empty(cfg->default_backend) && cfg->n_backends > 0) {
        free(cfg->default_backend);
        cfg->default_backend = xstrdup(cfg->backends[0].name);
    }
    if (crimp_config_validate(cfg, err) < 0)
        return -1;
    for (size_t i = 0; i < cfg->n_backends; i++) {
        free(cfg->backends[i].state_dir);
        cfg->backends[i].state_dir = xasprintf("%s/backends/%s", cfg->state_dir,
                                               cfg->backends[i].name);
    }
    if (print) {
        json_auto_t *j = crimp_config_to_json(cfg);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        *want_exit = 1;
    }
    return 0;
}

int crimp_config_validate(const struct crimp_config *cfg, crimp_error_t *err)
{
    bool default_found = false;
    for (size_t i = 0; i < cfg->n_backends; i++) {
        const struct crimp_backend_config *b = &cfg->backends[i];
        if (crimp_backend_ops_for_type(b->type) == NULL) {
            cleanup_free char *types = crimp_backend_type_names();
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "backends: `%s` has unknown type `%s` (built in: %s)", b->name,
                                    b->type, types);
        }
        /* Checked here, not only when the backend opens: a bad option
         * fails the start, or a SIGHUP reload, before anything changes.  */
        if (crimp_options_check(b->type, b->options, err) < 0)
            return crimp_error_wrap(err, "backends: `%s`", b->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->backends[j].name, b->name) == 0)
                return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                        "backends: name `%s` is used twice", b->name);
        if (strcmp(b->name, cfg->default_backend) == 0)
            default_found = true;
    }
    /* An empty default_backend means the first one listed.  */
    if (cfg->n_backends > 0 && !default_found && !str_empty(cfg->default_backend))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "default_backend: no backend is named `%s`", cfg->default_backend);
    if (cfg->listen[0] != '/')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "listen: `%s` must be an absolute socket path", cfg->listen);
    if (!str_empty(cfg->admin_listen) && strcmp(cfg->admin_listen, "auto") != 0 &&
        cfg->admin_listen[0] != '/')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "admin_listen: `%s` must be an absolute socket path",
                                cfg->admin_listen);
    if (strlen(cfg->listen) >= 108)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "listen: `%s` is longer than a unix socket path may be (107)",
                                cfg->listen);
    return 0;
}

json_t *crimp_config_to_json(const struct crimp_config *cfg)
{
    json_t *j = json_object();
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(opt_defs); i++) {
        const struct opt_def *d = &opt_defs[i];
        char mode[8];
        switch (d->kind) {
        case OPT_STR:
        case OPT_STR_OR_EMPTY:
        case OPT_LEVEL:
        case OPT_CHOICE:
            json_object_set_new(j, d->key, json_string(*FIELD(cfg, d, char *)));
            break;
        case OPT_MODE:
            snprintf(mode, sizeof(mode), "%04o", *FIELD(cfg, d, unsigned));
            json_object_set_new(j, d->key, json_string(mode));
            break;
        case OPT_INT:
            json_object_set_new(j, d->key, json_integer(*FIELD(cfg, d, int)));
            break;
        case OPT_SECONDS:
            json_object_set_new(j, d->key, json_real(*FIELD(cfg, d, double)));
            break;
        }
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < cfg->n_backends; i++) {
        const struct crimp_backend_config *b = &cfg->backends[i];
        json_t *o = json_pack("{s:s, s:s, s:s}", "name", b->name, "type", b->type, "endpoint",
                              b->endpoint);
        json_t *options = crimp_options_with_defaults(b->type, b->options);
        json_object_set_new(options, "max_calls", json_integer(b->max_calls));
        json_object_set_new(options, "max_queued", json_integer(b->max_queued));
        json_object_set_new(options, "call_timeout", json_real(b->call_timeout));
        json_object_set_new(o, "options", options);
        json_array_append_new(arr, o);
    }
    json_object_set_new(j, "backends", arr);
    return j;
}

void crimp_config_usage(FILE *out, const char *prog)
{
    struct crimp_config defaults;
    crimp_config_init(&defaults);
    json_auto_t *j = crimp_config_to_json(&defaults);

    fprintf(out,
            "Usage: %s [OPTION]...\n"
            "crimp: serves the Kubernetes CRI v1 on a unix socket and carries each call to a\n"
            "backend runtime (docker, containerd, or any CRI endpoint).\n\n"
            "  --config FILE             JSON config file (a line starting with # is a comment);\n"
            "                            flags override it (default: none)\n"
            "  --backend NAME=TYPE:ENDPOINT\n"
            "                            a backend; repeatable; replaces the configured list\n"
            "                            (default: containerd-cri=cri:"
            "unix:///run/containerd/containerd.sock)\n",
            prog);
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(opt_defs); i++) {
        const struct opt_def *d = &opt_defs[i];
        char flag[40];
        snprintf(flag, sizeof(flag), "--%s %s", d->key, d->arg);
        for (char *p = flag + 2; *p && *p != ' '; p++)
            if (*p == '_')
                *p = '-';
        json_t *v = json_object_get(j, d->key);
        cleanup_free char *dv =
            json_is_string(v) ? xstrdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        fprintf(out, "  %-25s %s (default: %s)\n", flag, d->help, dv);
    }
    fprintf(out, "  --print-config            print the effective configuration as JSON and exit\n"
                 "  --help                    this text\n"
                 "  --version                 print crimpd's version\n\n"
                 "Config file keys are the long option names with '_' for '-', plus\n"
                 "\"backends\": [{\"name\", \"type\", \"endpoint\", \"options\"}].\n\n"
                 "Backend options (\"options\" of a backend; which types take each):\n");
    for (const struct crimp_option_spec *o = crimp_backend_options; o->key; o++)
        fprintf(out, "  %-25s [%s] %s%s%s%s\n", o->key, o->types, o->help,
                o->dflt ? " (default: " : "", o->dflt ? o->dflt : "", o->dflt ? ")" : "");
    fprintf(out, "  %-25s [all] override the backend_* defaults above for that backend\n",
            "max_calls, max_queued,");
    fprintf(out, "  %-25s\n", "call_timeout");
    fprintf(out, "Docker uses dockerd's cgroup driver.  All backends must agree (RuntimeConfig\n"
                 "answers the node's one driver): crimpd refuses to start, and SIGHUP to\n"
                 "reload, otherwise.\n");
    crimp_config_free(&defaults);
}
