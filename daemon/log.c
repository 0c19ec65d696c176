/* log.c - see log.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"

int log_verbosity = LOG_LVL_INFO;
static bool log_timestamps = true;

void
log_init(int verbosity)
{
	log_verbosity = verbosity;
}

void
log_set_timestamps(bool on)
{
	log_timestamps = on;
}

static void
vlog(int level, const char *errstr, const char *fmt, va_list ap)
{
	static const char *const tag[] = { "warning: ", "", "", "debug: ",
					     "error: " };
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int saved = errno, r;

	n = 0;
	if (log_timestamps) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03ldZ ",
			     ts.tv_nsec / 1000000);
		if (r > 0)
			n += (size_t)r;
	}
	r = snprintf(line + n, sizeof(line) - n, "profd: %s", tag[level]);
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (errstr && n < sizeof(line)) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", errstr);
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere else to report it */
	}
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, e, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < LOG_LVL_INFO)
		return;
	va_start(ap, fmt);
	vlog(LOG_LVL_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < level)
		return;
	va_start(ap, fmt);
	vlog(level == LOG_LVL_DEBUG ? LOG_LVL_DEBUG : LOG_LVL_INFO, NULL, fmt,
	     ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
