/* trigger.h - --trigger EXPR (trigger.c): the grammar of a trigger and
 * its parsed form.
 *
 *   rss>=SIZE               resident set at or over SIZE (bytes, or with a
 *                           KiB, MiB or GiB suffix; a fraction is allowed:
 *                           1.5GiB)
 *   rss>=N%                 resident set at or over N % of the memory
 *                           cgroup's limit (never fires without one)
 *   rss-growth>=SIZE/DUR    the resident set grew by SIZE or more within
 *                           DUR (s, m or h suffix; none: seconds)
 *   cpu>=N%/DUR             the process used N % or more of its cgroup's
 *                           CPU quota (of one core without a quota) over
 *                           DUR
 *   exit                    the process died, whatever the cause
 *   oom                     the kernel's OOM killer killed it (the
 *                           cgroup's oom_kill count went up)
 *
 * Ownership: plain data, no pointers. Threads: any; pure.
 * Errors: -EINVAL with a one-line message. Never logs.
 */
#ifndef PROFD_DAEMON_TRIGGER_H
#define PROFD_DAEMON_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

#define TRIGGER_MAX	 16		/* --trigger given at most */
#define TRIGGER_TEXT	 64		/* an expression's length, at most */
#define TRIGGER_MAX_DUR	 3600		/* seconds */

enum trigger_kind {
	TRIG_RSS,		/* bytes */
	TRIG_RSS_PCT,		/* pct of the memory limit */
	TRIG_RSS_GROWTH,	/* bytes within seconds */
	TRIG_CPU,		/* pct of the quota over seconds */
	TRIG_EXIT,
	TRIG_OOM,
};

struct trigger {
	enum trigger_kind kind;
	uint64_t bytes;		/* TRIG_RSS, TRIG_RSS_GROWTH */
	double pct;		/* TRIG_RSS_PCT, TRIG_CPU */
	unsigned seconds;	/* TRIG_RSS_GROWTH, TRIG_CPU */
	char text[TRIGGER_TEXT];	/* as given */
	char safe[TRIGGER_TEXT];	/* text made safe for a file name */
};

/* SIZE at *p: a number of bytes (a fraction allowed), or with KiB, MiB,
 * GiB (also K, M, G, KB, MB, GB, all powers of 1024), 1 byte to 1e18;
 * *p moves past it. It must end at a '/' or the end of the string. 0, or
 * -EINVAL. Pure (--history-memory uses it too). */
int trigger_size(const char **p, uint64_t *bytes);

/* Parse expr into *t. 0, or -EINVAL with err set. Pure. */
int trigger_parse(const char *expr, struct trigger *t, char *err,
		  size_t errlen);

#endif /* PROFD_DAEMON_TRIGGER_H */
