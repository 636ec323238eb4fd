/* Leveled logging to stderr (journald adds its own timestamps; the lines
 * still carry one so a file log reads on its own).  Thread-safe.  */
#ifndef CRIMP_LOG_H
#define CRIMP_LOG_H

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

void crimp_log(enum crimp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) crimp_log(CRIMP_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  crimp_log(CRIMP_LOG_WARN, __VA_ARGS__)
#define log_info(...)  crimp_log(CRIMP_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (crimp_log_get_level() >= CRIMP_LOG_DEBUG)                                              \
            crimp_log(CRIMP_LOG_DEBUG, __VA_ARGS__);                                               \
    } while (0)

#endif
