/* registry.h - the processes profd serves: given by --pid, found by
 * --match, or asked for by /pid/<PID>/ under --allow-any-pid
 * (registry.c).
 *
 * Ownership: the registry owns its targets; registry_get() and
 * registry_snapshot() lend them with a reference that the caller gives
 * back with registry_put(), and a target is freed only when no request
 * holds it. Threads: registry_new, _add_rule, _add_pid, _start, _stop
 * and _free belong to the main thread; _get, _put, _snapshot, _count and
 * registry_counts may be called from any thread (HTTP workers); the
 * watcher thread is the registry's own. Errors: -errno with err filled,
 * or an HTTP status and message in the reply. Logs targets taken on and
 * let go (log_info).
 */
#ifndef PROFD_REGISTRY_H
#define PROFD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct http_reply;
struct target;
struct target_opts;

enum reg_origin {
	REG_PID,	/* --pid */
	REG_MATCH,	/* --match */
	REG_ON_DEMAND,	/* /pid/<PID>/ under --allow-any-pid */
};

struct registry_info {
	enum reg_origin origin;
	int64_t since;		/* wall ns when profd took it on */
	const char *rule;	/* the --match rule (the registry's), or NULL */
};

struct registry;

/* An empty registry; every target it starts gets a copy of *o. NULL when
 * out of memory. */
struct registry *registry_new(const struct target_opts *o, bool any_pid,
			      size_t max_targets);
/* A --match rule: POSIX extended regex against a process's command name
 * and its command line. -EINVAL (or -ENOMEM) with err filled. */
int registry_add_rule(struct registry *r, const char *re, char *err,
		      size_t errlen);
/* A --pid target, checked and started now. -errno with err filled. */
int registry_add_pid(struct registry *r, pid_t pid, char *err,
		     size_t errlen);
/* First scan, then the watcher thread (with --match rules, and with
 * --allow-any-pid to drop targets that exited). -errno of
 * pthread_create. */
int registry_start(struct registry *r);
/* Targets listed now. */
size_t registry_count(struct registry *r);
/* The target for pid (0: the only one), with a reference the caller drops
 * with registry_put(); NULL with reply's status and msg filled. */
struct target *registry_get(struct registry *r, pid_t pid,
			    struct http_reply *reply);
/* Services (--match rules, registry.c): NAME of /service/NAME/ is the
 * rule without its ^ and $ when the rest is a plain name
 * ([A-Za-z0-9._-]), else match<N> (the rule's rank). A service's id is a
 * negative pid that registry_get() and registry_get_recorded() take: the
 * process recording the service's history (or its only one); in a
 * restart gap they wait for the next process up to twice the longest
 * gap the service has had (from an exit noticed to the next process
 * taken on), within REG_SERVICE_WAIT_MIN_S..REG_SERVICE_WAIT_MAX_S. */
#define REG_SERVICE_WAIT_MIN_S 5
#define REG_SERVICE_WAIT_MAX_S 30
/* The id of service name, 0 when there is none. Any thread. */
pid_t registry_service_id(struct registry *r, const char *name);
/* registry_get(), but for a service in a restart gap the process that
 * recorded its history last will do, at once (history requests). */
struct target *registry_get_recorded(struct registry *r, pid_t pid,
				     struct http_reply *reply);
/* /services as JSON into *out (malloc'd, the caller's): per service its
 * name, rule, processes, restarts and exit records. 0 or -ENOMEM. Any
 * thread. */
int registry_services_json(struct registry *r, char **out, size_t *len);
/* Append the services' series of /metrics (profd_service_up,
 * _restarts_total, _exits_total) to *text (malloc'd, *len bytes, grown
 * here). 0 or -ENOMEM (*text untouched). Any thread. */
int registry_services_metrics(struct registry *r, char **text, size_t *len);
/* Give back a reference from registry_get() or registry_snapshot(). */
void registry_put(struct registry *r, struct target *t);
/* Up to max listed targets, each with a reference (registry_put each);
 * info (NULL: not wanted) gets max entries' room. */
size_t registry_snapshot(struct registry *r, struct target **out, size_t max,
			 struct registry_info *info);
/* Over every registry: --allow-any-pid targets let go to make room for
 * another under --max-targets (least recently used first), and those let
 * go because nobody had asked for them in a while. Any thread. */
void registry_counts(uint64_t *evicted, uint64_t *idle_released);
/* Stop the watcher and every sampler (waiting workers wake up). */
void registry_stop(struct registry *r);
/* registry_stop(), then free every target. Accepts NULL. */
void registry_free(struct registry *r);

#endif /* PROFD_REGISTRY_H */
