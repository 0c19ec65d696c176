/* log.h - one line per event on stderr (journald and kubectl logs pick it
 * up), in the OpenBSD log.h shape: log_warn appends strerror(errno),
 * log_warnx does not; fatal/fatalx log and exit 1. Every function keeps
 * errno. Each line is formatted into a local buffer and written with one
 * write(2), so lines from the sampler and civetweb's workers never
 * interleave. Never log per sample: count instead.
 */
#ifndef PROFD_LOG_H
#define PROFD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_VERBOSE,
	LOG_LVL_DEBUG,
	LOG_LVL_ERROR,		/* tag only: fatal() and fatalx() */
};

extern int log_verbosity;

void log_init(int verbosity);
/* Whether lines begin with the time (the default, for a daemon's log);
 * profd's commands (cli.c) print "profd: ..." alone, as a tool does. Main
 * thread, before other threads start. */
void log_set_timestamps(bool on);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Test the level before evaluating the arguments (Redis' serverLog). */
#define log_verbose(...)                                                     \
	do {                                                                 \
		if (log_verbosity >= LOG_LVL_VERBOSE)                        \
			log_msg(LOG_LVL_VERBOSE, __VA_ARGS__);               \
	} while (0)
#define log_debug(...)                                                       \
	do {                                                                 \
		if (log_verbosity >= LOG_LVL_DEBUG)                          \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif /* PROFD_LOG_H */
