/* smaps.h - where a process's memory sits now, by mapping (smaps.c): the
 * parser of /proc/PID/smaps, the groups it sums the mappings into, and
 * the pprof profile /debug/pprof/memory serves.
 *
 * The text is the kernel's, but the paths in it are the target's own
 * choice (any bytes but NUL and '/', a newline escaped as "\012", spaces
 * kept, " (deleted)" appended to an unlinked file), and a read cut at
 * profd's size cap ends in the middle of a record: the parser takes what
 * it can and never trusts a number or a length it did not check.
 *
 * Ownership: smaps_parse fills a struct smaps the caller frees with
 * smaps_free (the group names are its own copies); smaps_profile returns
 * a profile the caller frees with pprof_free.
 * Threads: pure functions, no state: any thread.
 * Errors: -ENOMEM (the groups parsed so far are kept, and freed by
 * smaps_free); smaps_profile NULL with errno ENOMEM. Never logs. Fuzzed
 * by tests/fuzz/fuzz_smaps.c.
 */
#ifndef PROFD_DAEMON_SMAPS_H
#define PROFD_DAEMON_SMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"

/* Distinct groups kept; the mappings of any further name are summed into
 * "[other]". Bounds the profile a target with many mapped files gets. */
#define SMAPS_MAX_GROUPS 4096
/* Bytes of a group name kept (longer paths are cut, "..." appended). */
#define SMAPS_NAME_MAX 1024

/* One group: the mappings of one file, or of one kind of anonymous
 * memory ([heap], [stack], [anon], [vdso], ...), summed. Bytes. */
struct smaps_group {
	char *name;
	uint64_t size, rss, anon, swap;
	unsigned maps;		/* mappings summed */
};

struct smaps {
	struct smaps_group *g;
	size_t n, cap;
	struct htab index;	/* hash of name -> index + 1 */
	uint64_t maps;		/* mappings seen */
	uint64_t rss, anon, swap;	/* totals */
	bool partial;		/* a record was cut short */
};

/* Parse smaps text buf[0..len) (need not end in NUL) and add its mappings
 * to s (zeroed by the caller before the first call). An anonymous mapping
 * that holds one of the stack pointers sps[0..nsps) (sorted ascending:
 * the threads' own, as far as known) is a thread's stack, "[stack]"; the
 * kernel names only the main thread's. A record cut short (the text ends
 * inside it) counts what it has and sets partial. 0, or -ENOMEM. */
int smaps_parse(const char *buf, size_t len, const uint64_t *sps,
		size_t nsps, struct smaps *s);

/* Free what s holds; s is zeroed. Accepts a zeroed s. */
void smaps_free(struct smaps *s);

/* The group name of a mapping, from the path field of its header line
 * (p[0..n), leading blanks already skipped): "[anon]" for none,
 * "[stack]" for "[stack]" and the old "[stack:TID]", the bracketed
 * kernel names as they are, a file's path with "\012" turned back into
 * a newline shown as "\n" and cut at SMAPS_NAME_MAX. Writes a
 * NUL-terminated name into out (outlen >= 16). Exposed for unit tests. */
void smaps_group_name(const char *p, size_t n, char *out, size_t outlen);

struct pprof;

/* The memory view as a pprof profile: sample types resident/bytes,
 * anonymous/bytes, swap/bytes (default resident), one sample per group
 * whose stack is one frame named after the group, largest first.
 * comment (NULL: none) is added as a comment. NULL with errno ENOMEM. */
struct pprof *smaps_profile(const struct smaps *s, int64_t time_nanos,
			    const char *comment);

#endif /* PROFD_DAEMON_SMAPS_H */
