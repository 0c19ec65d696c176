/* snapshot.h - the snapshots triggers write (snapshot.c): the output
 * directory, writing one atomically, pruning to --keep, listing and
 * serving them (/snapshots/), and their counters in /metrics.
 *
 * A snapshot is a directory DIR/<name>-<pid>-<UTC time>-<trigger>/ (name,
 * trigger: letters, digits, '.', '_' and '-' only), built in
 * DIR/.tmp-XXXXXX and renamed into place when complete: what is listed is
 * always whole. Only entries whose names consist of those characters are
 * listed or served, and a file is served only when the listing holds it.
 *
 * Ownership: what the list and file functions put in an http_reply is the
 * server's (struct http_reply); every other argument is borrowed.
 * Threads: snapshot_init on the main thread before any target starts;
 * the rest from any thread (one internal lock). Errors: -errno with a
 * message for a person in err, or the reply's status and msg. Logs what
 * it writes and prunes, and why a write failed.
 */
#ifndef PROFD_DAEMON_SNAPSHOT_H
#define PROFD_DAEMON_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/textbuf.h"
#include "http/http.h"

/* Use dir (created when missing, mode 0750) for snapshots, keeping keep
 * per target name; removes what an earlier profd left half-written. 0, or
 * -errno with err set. */
int snapshot_init(const char *dir, unsigned keep, char *err, size_t errlen);

/* One file of a snapshot: data[0..len) under name (borrowed). */
struct snap_file {
	const char *name;
	const void *data;
	size_t len;
};

/* Write a snapshot of process pid (name: its comm or rule name, made
 * safe here) fired by a trigger (safe: trigger.h's safe text) at wall
 * (ns since the epoch) holding files[0..n), atomically, then prune the
 * name's oldest beyond --keep. The directory's name goes into out. 0 or
 * -errno (counted as an error, logged). */
int snapshot_write(const char *name, pid_t pid, int64_t wall,
		   const char *safe, const struct snap_file *files, size_t n,
		   char *out, size_t outlen);

/* Count a trigger that fired for pid (expr: as given). */
void snapshot_fired(pid_t pid, const char *expr);

/* The counters, in Prometheus' text format. */
void snapshot_metrics(struct textbuf *b);

/* /snapshots/ (name NULL): a JSON array of {name, time, trigger, files:
 * [{name, size}]}, newest first; /snapshots/NAME/FILE: the file's bytes
 * as r->text. 404 for anything not listed, or without --output-dir. */
void snapshot_serve(const char *name, const char *file, struct http_reply *r);

/* "name" with every character outside [A-Za-z0-9._-] made '_', into out
 * ("process" when empty). Pure. */
void snapshot_safe_name(const char *name, char *out, size_t outlen);

#endif /* PROFD_DAEMON_SNAPSHOT_H */
