/* metrics.h - /metrics in Prometheus' text format and /targets as JSON
 * (metrics.c).
 *
 * Ownership: *out is malloc'd for the caller, who frees it; the targets
 * stay the caller's (it holds a reference to each). Threads: any thread
 * (HTTP workers); target counters are read with atomics and locks of
 * their owners. Errors: -ENOMEM, *out untouched then. Never logs.
 */
#ifndef PROFD_METRICS_H
#define PROFD_METRICS_H

#include <stddef.h>

struct registry_info;
struct target;

/* Prometheus text for /metrics: per-target sampler counters, then profd's
 * own (CPU, memory, windows, registry, guardian, faults). */
int metrics_text(struct target **targets, size_t n, char **out, size_t *len);

/* JSON for /targets: pid, comm, cmdline, exe, build_id, origin, match,
 * since, alive of each target; info[i] describes targets[i]. */
int targets_json(struct target **ts, const struct registry_info *info,
		 size_t n, char **out, size_t *len);

#endif /* PROFD_METRICS_H */
