/* stderr logger: text or JSON lines, with syslog priority prefixes when
 * stderr is journald's stream (see log.h).  */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current_level = CRIMP_LOG_INFO;
static _Atomic int current_format = CRIMP_LOG_FORMAT_TEXT;
static atomic_bool to_journal = false;
static atomic_bool calls_on = false;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void crimp_log_set_level(enum crimp_log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum crimp_log_level crimp_log_get_level(void)
{
    return (enum crimp_log_level)atomic_load(&current_level);
}

int crimp_log_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void crimp_log_set_format(enum crimp_log_format format)
{
    atomic_store(&current_format, (int)format);
}

int crimp_log_parse_format(const char *name)
{
    return strcmp(name, "text") == 0   ? CRIMP_LOG_FORMAT_TEXT
           : strcmp(name, "json") == 0 ? CRIMP_LOG_FORMAT_JSON
                                       : -1;
}

bool crimp_log_stream_is_journal(const char *journal_stream, int fd)
{
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    if (journal_stream == NULL || sscanf(journal_stream, "%llu:%llu", &dev, &ino) != 2 ||
        fstat(fd, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool crimp_log_detect_journal(void)
{
    bool yes = crimp_log_stream_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO);
    atomic_store(&to_journal, yes);
    return yes;
}

/* sd-daemon(3)'s <N> prefixes: err, warning, info, debug.  */
static const char *journal_prefix(enum crimp_log_level level)
{
    static const char *const prefixes[] = {"<3>", "<4>", "<6>", "<7>"};
    return atomic_load(&to_journal) ? prefixes[level] : "";
}

static void timestamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%06dZ", (int)(ts.tv_nsec / 1000) % 1000000);
}

/* One whole line in one write, so that threads never interleave.  */
static void emit(const char *line)
{
    flockfile(stderr);
    fputs(line, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* JSON holds only UTF-8: text quoting a peer's bytes that are not (a
 * broken reply, an ID a client made up) keeps them as '?', so the line is
 * never dropped.  */
static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char *copy = strdup(s);
    if (copy == NULL)
        return json_string("?");
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

/* A JSON line of OBJ (taken) with time and level added.  */
static void emit_json(enum crimp_log_level level, json_t *obj)
{
    char stamp[40];
    timestamp(stamp, sizeof(stamp));
    json_object_set_new(obj, "time", json_string(stamp));
    json_object_set_new(obj, "level", json_string(level_names[level]));
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(obj);
    if (text == NULL)
        return;
    char *line = NULL;
    if (asprintf(&line, "%s%s", journal_prefix(level), text) >= 0) {
        emit(line);
        free(line);
    }
    free(text);
}

/* A text line: "<time> LEVEL message"; under journald its prefix instead
 * of the time, which the journal keeps itself.  */
static void emit_text(enum crimp_log_level level, const char *msg)
{
    static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char stamp[40];
    char *line = NULL;
    int n;
    if (atomic_load(&to_journal)) {
        n = asprintf(&line, "%s%s", journal_prefix(level), msg);
    } else {
        timestamp(stamp, sizeof(stamp));
        n = asprintf(&line, "%s %-5s %s", stamp, tags[level], msg);
    }
    if (n >= 0) {
        emit(line);
        free(line);
    }
}

void crimp_log(enum crimp_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&current_level))
        return;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (atomic_load(&current_format) == CRIMP_LOG_FORMAT_JSON) {
        emit_json(level, json_pack("{s:o}", "msg", json_text(msg)));
    } else {
        emit_text(level, msg);
    }
    free(msg);
}

void crimp_log_set_calls(bool on)
{
    atomic_store(&calls_on, on);
}

bool crimp_log_calls_enabled(void)
{
    return atomic_load(&calls_on) && CRIMP_LOG_INFO <= atomic_load(&current_level);
}

void crimp_log_call(const struct crimp_log_call_fields *f)
{
    if (!crimp_log_calls_enabled())
        return;
    if (atomic_load(&current_format) == CRIMP_LOG_FORMAT_JSON) {
        json_t *obj = json_pack("{s:s, s:s, s:o, s:s, s:f}", "msg", "call", "method", f->method,
                                "backend", json_text(f->backend ? f->backend : "crimp"), "code",
                                f->code, "duration_ms", f->duration_ms);
        if (obj != NULL && f->id != NULL && f->id[0] != '\0')
            json_object_set_new(obj, "id", json_text(f->id));
        if (obj != NULL)
            emit_json(CRIMP_LOG_INFO, obj);
        return;
    }
    char *msg = NULL;
    if (asprintf(&msg, "call %s backend=%s code=%s duration_ms=%.3f%s%s", f->method,
                 f->backend ? f->backend : "crimp", f->code, f->duration_ms,
                 f->id && f->id[0] ? " id=" : "", f->id && f->id[0] ? f->id : "") >= 0) {
        emit_text(CRIMP_LOG_INFO, msg);
        free(msg);
    }
}
