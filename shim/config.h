/* crimpd's configuration: embedded defaults, then a JSON file (--config),
 * then command-line flags, each overriding the one before.  Parsed once at
 * start into struct crimp_config and passed down as const.  */
#ifndef CRIMP_CONFIG_H
#define CRIMP_CONFIG_H

#include <jansson.h>
#include <stdio.h>

#include "backend.h"
#include "error.h"

struct crimp_config {
    char *config_file;      /* NULL when only defaults and flags are used */
    char *listen;           /* CRI socket path */
    char *admin_listen;     /* admin API socket path; "" disables it */
    char *metrics_listen;   /* HOST:PORT for /metrics over TCP; "" (default) disables */
    char *stream_listen;    /* HOST:PORT of the streaming server; "" disables */
    double stream_idle_timeout; /* seconds; also bounds a send nobody takes */
    double stream_head_timeout; /* seconds for a connection's whole request head */
    int stream_max_pending;     /* connections without a valid token yet */
    int stream_max_sessions;    /* concurrent streaming sessions */
    int stream_max_message;     /* bytes: largest SPDY frame / WebSocket message in */
    unsigned socket_mode;   /* e.g. 0660 */
    char *state_dir;        /* checkpoints, default-backend choice */
    int workers;            /* fast lane threads */
    int slow_workers;       /* slow lane threads */
    double worker_idle_timeout; /* seconds a worker waits for a call before it ends */
    int max_queued;         /* calls waiting in each lane before any is refused */
    int backend_max_calls;  /* default: one backend's calls running at once, per lane */
    int backend_max_queued; /* default: one backend's calls waiting for a turn, per lane */
    double backend_call_timeout; /* default: seconds for a call that has no kubelet deadline */
    double health_interval; /* seconds between probes of each backend */
    double health_timeout;  /* seconds a probe may take before the backend counts as down */
    int pollers;            /* gRPC completion queue threads */
    int max_streams;        /* concurrent server-streaming calls */
    int recent_calls;       /* calls kept with their spans for tracing */
    int max_message_bytes;  /* gRPC receive and send limit */
    double drain_timeout;   /* seconds SIGTERM waits for in-flight calls */
    char *log_level;        /* error, warn, info, debug */
    char *log_format;       /* text, json */
    char *log_calls;        /* on: an info line per CRI call */
    char *default_backend;  /* name of the backend new pods go to */
    struct crimp_backend_config *backends;
    size_t n_backends;
    json_t *backend_options; /* owns every backends[i].options */
};

/* Fills CFG from the embedded defaults.  */
void crimp_config_init(struct crimp_config *cfg);

/* Applies the command line (ARGV[0] is the program): reads --config FILE
 * first, then every other flag on top.  Sets *WANT_EXIT to 1 when the
 * command line asked only for --help, --version or --print-config (after
 * printing).  INVALID_ARGUMENT errors name the flag or key at fault.  */
int crimp_config_from_args(struct crimp_config *cfg, int argc, char **argv, int *want_exit,
                           crimp_error_t *err);

/* Applies a JSON document (the contents of a config file).  */
int crimp_config_apply_json(struct crimp_config *cfg, json_t *doc, const char *origin,
                            crimp_error_t *err);

/* Checks cross-field rules: unique backend names, known types, a default
 * that exists, limits in range.  */
int crimp_config_validate(const struct crimp_config *cfg, crimp_error_t *err);

/* The effective configuration as JSON (new reference).  */
json_t *crimp_config_to_json(const struct crimp_config *cfg);

/* Writes --help text with every option and its default.  */
void crimp_config_usage(FILE *out, const char *prog);

void crimp_config_free(struct crimp_config *cfg);

#endif
