/* Logging for mslbd: one line per event, with time and level. */
#ifndef MSLB_LOG_H
#define MSLB_LOG_H 1

enum mslb_log_level { MSLB_LOG_ERR, MSLB_LOG_WARN, MSLB_LOG_INFO,
                      MSLB_LOG_DBG };

/* Also writes to 'file_name' (appending) when not NULL.  Returns 0 or an
 * errno value. */
int mslb_log_open(const char *file_name);
void mslb_log_set_level(enum mslb_log_level);
void mslb_log(enum mslb_log_level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_ERR(...) mslb_log(MSLB_LOG_ERR, __VA_ARGS__)
#define LOG_WARN(...) mslb_log(MSLB_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) mslb_log(MSLB_LOG_INFO, __VA_ARGS__)
#define LOG_DBG(...) mslb_log(MSLB_LOG_DBG, __VA_ARGS__)

#endif /* log.h */
