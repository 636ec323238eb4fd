/* crimpd: configuration, signals, and the server's start and stop.  */
#include <errno.h>
#include <fcntl.h>
#include <grpc/grpc.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>

#include "admin.h"
#include "config.h"
#include "drivers.h"
#include "health.h"
#include "log.h"
#include "reload.h"
#include "router.h"
#include "sd_notify.h"
#include "server.h"
#include "signal_pipe.h"
#include "utils.h"

/* SIGTERM, SIGINT and SIGHUP arrive as bytes on this pipe (signal_pipe.h),
 * read by main.  */
static int signal_fd = -1;

static int install_signal_handlers(crimp_error_t *err)
{
    static const int signals[] = {SIGTERM, SIGINT, SIGHUP};
    signal_fd = crimp_signal_pipe(signals, sizeof(signals) / sizeof(signals[0]), err);
    return signal_fd < 0 ? -1 : 0;
}

/* The log settings of CFG: level, format, call lines.  */
static void apply_log_settings(const struct crimp_config *cfg)
{
    crimp_log_set_level((enum crimp_log_level)crimp_log_parse_level(cfg->log_level));
    crimp_log_set_format((enum crimp_log_format)crimp_log_parse_format(cfg->log_format));
    crimp_log_set_calls(strcmp(cfg->log_calls, "on") == 0);
}

/* SIGHUP: the command line (and so the config file) read again, the
 * backends applied (shim/reload.c), the log settings too.  A bad file changes
 * nothing.  */
static void reload(int argc, char **argv, struct crimp_router *router,
                   struct crimp_recorder *recorder)
{
    struct crimp_config *cfg = xcalloc(1, sizeof(*cfg));
    cleanup_error crimp_error_t err = NULL;
    int want_exit = 0;
    crimp_config_init(cfg);
    if (crimp_config_from_args(cfg, argc, argv, &want_exit, &err) < 0) {
        log_error("SIGHUP: configuration not reloaded: %s", err->msg);
        crimp_config_free(cfg);
        free(cfg);
        return;
    }
    log_info("SIGHUP: reloading %s", cfg->config_file ? cfg->config_file : "the command line");
    if (crimp_router_reload(router, cfg, recorder, &err) < 0) {
        log_error("SIGHUP: configuration not reloaded, the running one is kept: %s", err->msg);
        crimp_config_free(cfg);
        free(cfg);
        return;
    }
    apply_log_settings(cfg);
}

/* glibc gives each thread that allocates while the others hold theirs an
 * arena of its own, up to 8 per core, each keeping what its thread freed:
 * a few megabytes of resident memory apiece in a daemon whose workers come
 * and go.  crimpd's threads mostly wait on I/O, so two arenas carry their
 * allocations without contention worth the memory.  MALLOC_ARENA_MAX (or
 * GLIBC_TUNABLES=glibc.malloc.arena_max) set by the operator wins.  */
static void bound_malloc_arenas(void)
{
    if (CRIMP_GLIBC_MALLOC && getenv("MALLOC_ARENA_MAX") == NULL &&
        (getenv("GLIBC_TUNABLES") == NULL || strstr(getenv("GLIBC_TUNABLES"), "arena_max") == NULL))
        mallopt(M_ARENA_MAX, 2);
}

/* Tells systemd STATE (sd_notify.c); a failure is logged, never fatal.  */
static void notify(const char *state)
{
    cleanup_error crimp_error_t err = NULL;
    if (crimp_sd_notify(state, &err) < 0)
        log_warn("systemd notification `%s` not sent: %s", state, err->msg);
}

/* The main thread from READY on: signals, and systemd's watchdog pinged
 * every half period when one is set (WatchdogSec=), from this thread, so
 * a crimpd whose main thread hangs (in a reload, say) is restarted.  */
static int wait_for_stop(int argc, char **argv, struct crimp_router *router,
                         struct crimp_recorder *recorder)
{
    int64_t watchdog_us = crimp_sd_watchdog_interval_us();
    int timeout_ms = watchdog_us > 0 ? (int)(watchdog_us / 1000 > 0 ? watchdog_us / 1000 : 1) : -1;
    if (watchdog_us > 0)
        notify("WATCHDOG=1");
    for (;;) {
        struct pollfd p = {.fd = signal_fd, .events = POLLIN};
        int ready = poll(&p, 1, timeout_ms);
        if (ready == 0) {
            notify("WATCHDOG=1");
            continue;
        }
        unsigned char b;
        ssize_t n = ready > 0 ? read(signal_fd, &b, 1) : -1;
        if (n < 0 && errno == EINTR)
            continue;
        if (n != 1)
            return SIGTERM;
        if (b == SIGHUP) {
            notify("RELOADING=1");
            reload(argc, argv, router, recorder);
            notify("READY=1");
            continue;
        }
        return b;
    }
}

/* Learns each backend's runtime version once at start, so that the first
 * Version reply already names it.  A backend that is down is only logged:
 * crimpd serves and reports it in Status until it comes up.  */
static void probe_backends(struct crimp_router *router)
{
    for (size_t i = 0; i < crimp_router_count(router); i++) {
        struct crimp_backend *b = crimp_router_get(router, i);
        if (b == NULL)
            continue;
        cleanup_error crimp_error_t err = NULL;
        cleanup_free char *v = NULL;
        if (crimp_router_refresh_version(router, b, NULL, &err) < 0) {
            log_warn("backend `%s` (%s at %s) does not answer yet: %s", b->config->name,
                     b->config->type, b->config->endpoint, err->msg);
            continue;
        }
        v = crimp_router_backend_version(router, b);
        log_info("backend `%s` (%s at %s): %s%s", b->config->name, b->config->type,
                 b->config->endpoint, v ? v : "?",
                 b == crimp_router_default(router) ? " [default]" : "");
    }
}

int main(int argc, char **argv)
{
    struct crimp_config cfg;
    cleanup_error crimp_error_t err = NULL;
    int want_exit = 0;

    bound_malloc_arenas(); /* before any thread: grpc's, the workers */
    crimp_config_init(&cfg);
    if (crimp_config_from_args(&cfg, argc, argv, &want_exit, &err) < 0) {
        fprintf(stderr, "crimpd: %s\n", err->msg);
        crimp_config_free(&cfg);
        return 2;
    }
    if (want_exit) {
        crimp_config_free(&cfg);
        return 0;
    }
    apply_log_settings(&cfg);
    crimp_log_detect_journal();
    if (install_signal_handlers(&err) < 0) {
        fprintf(stderr, "crimpd: %s\n", err->msg);
        crimp_config_free(&cfg);
        return 1;
    }
    grpc_init();

    struct crimp_router *router = crimp_router_new(&cfg, &err);
    struct crimp_server *srv = NULL;
    struct crimp_health *health = NULL;
    if (router != NULL) {
        if (crimp_router_count(router) == 0)
            log_warn("no backend configured: every call but Version and Status will fail");
        probe_backends(router);
        if (crimp_router_check_drivers(router, &err) == 0) {
            crimp_router_rebuild_ownership(router);
            /* Probed before the first call, so that Status knows at once.  */
            health = crimp_health_start(router, cfg.health_interval, cfg.health_timeout);
            crimp_router_set_health(router, health);
            srv = crimp_server_start(&cfg, router, &err);
        }
    }
    if (srv == NULL) {
        log_error("%s", err->msg);
        if (router != NULL)
            crimp_router_set_health(router, NULL);
        crimp_health_stop(health);
        crimp_router_free(router);
        grpc_shutdown_blocking();
        crimp_config_free(&cfg);
        return 1;
    }
    struct crimp_admin *admin =
        crimp_admin_start(&cfg, router, crimp_server_recorder(srv), &err);
    if (admin == NULL) {
        /* The CRI socket serves kubelet; a busy admin path must not stop it.  */
        log_warn("admin API not started: %s", err->msg);
        crimp_error_release(&err);
    }
    log_info("crimpd %s ready", CRIMP_VERSION);
    /* The CRI socket accepts calls by now (crimp_server_start returned).  */
    cleanup_free char *status = xasprintf("READY=1\nSTATUS=serving CRI v1 on %s", cfg.listen);
    notify(status);
    int sig = wait_for_stop(argc, argv, router, crimp_server_recorder(srv));
    log_info("%s: shutting down", strsignal(sig));
    notify("STOPPING=1\nSTATUS=draining");
    crimp_admin_stop(admin);
    crimp_server_stop(srv);
    crimp_router_set_health(router, NULL);
    crimp_health_stop(health);
    crimp_router_free(router);
    grpc_shutdown_blocking();
    crimp_config_free(&cfg);
    return 0;
}
