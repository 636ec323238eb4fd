/* Leveled logging to stderr, one line per message, thread-safe.
 *
 * Text lines carry their own time ("2026-…Z INFO  message") so that a file
 * log reads on its own.  When stderr is journald's stream ($JOURNAL_STREAM
 * names its device and inode, as systemd sets it), lines start with the
 * sd-daemon priority prefix (<3> error … <7> debug) so `journalctl -p`
 * filters them, and text lines leave the time to the journal.  JSON lines
 * are one object each: time, level, msg, and for call lines the fields of
 * crimp_log_call.  */
#ifndef CRIMP_LOG_H
#define CRIMP_LOG_H

#include <stdbool.h>

enum crimp_log_level {
    CRIMP_LOG_ERROR = 0,
    CRIMP_LOG_WARN,
    CRIMP_LOG_INFO,
    CRIMP_LOG_DEBUG,
};

/* Sets the most verbose level printed (default INFO).  */
void crimp_log_set_level(enum crimp_log_level level);
enum crimp_log_level crimp_log_get_level(void);

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else.  */
int crimp_log_parse_level(const char *name);

enum crimp_log_format {
    CRIMP_LOG_FORMAT_TEXT = 0,
    CRIMP_LOG_FORMAT_JSON,
};
void crimp_log_set_format(enum crimp_log_format format);
/* Parses "text" or "json"; -1 for anything else.  */
int crimp_log_parse_format(const char *name);

/* Whether FD is the stream JOURNAL_STREAM ("<dev>:<inode>") names.  */
bool crimp_log_stream_is_journal(const char *journal_stream, int fd);
/* Turns the priority prefixes on when stderr is journald's; returns it.  */
bool crimp_log_detect_journal(void);

void crimp_log(enum crimp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One finished CRI call, for operators who turn call lines on
 * (--log-calls on): logged at info.  */
struct crimp_log_call_fields {
    const char *method;  /* "RuntimeService/RunPodSandbox" */
    const char *backend; /* NULL: answered by crimp itself */
    const char *code;    /* "OK", "NOT_FOUND" */
    double duration_ms;
    const char *id;      /* the pod, container or image the call names; may be NULL */
};
void crimp_log_call(const struct crimp_log_call_fields *f);
/* Call lines are off until turned on; they need the info level too.  */
void crimp_log_set_calls(bool on);
bool crimp_log_calls_enabled(void);

#define log_error(...) crimp_log(CRIMP_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  crimp_log(CRIMP_LOG_WARN, __VA_ARGS__)
#define log_info(...)  crimp_log(CRIMP_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (crimp_log_get_level() >= CRIMP_LOG_DEBUG)                                              \
            crimp_log(CRIMP_LOG_DEBUG, __VA_ARGS__);                                               \
    } while (0)

#endif
