/* cli.h - the commands that need no HTTP server (no socket at all):
 * profd dump (every thread's stack now), profd record (a profile into a
 * file, of a running process or of a command run to its end) and profd
 * top (a live terminal view). Each takes its process through a registry
 * of one target, as the server does, and leaves it running and untraced.
 *
 * Threads: main thread. cli_spawn runs before any thread exists (it
 * forks); cli_main after main.c's setup, with the signals of `set`
 * blocked in every thread. Errors: each function says what went wrong on
 * stderr itself and returns the exit status profd ends with.
 */
#ifndef PROFD_DAEMON_CLI_H
#define PROFD_DAEMON_CLI_H

#include <signal.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/target.h"

/* The program of profd record -- COMMAND, started by cli_spawn: a
 * reaper process (our child, not traced) forks and execs COMMAND, tells
 * us its PID once the exec has succeeded, and its wait status when it
 * ends, through fd. So the PID we trace is not our own child, and the
 * sampler's waits can never take its exit from us. */
struct cli_child {
	pid_t reaper;		/* 0: no command */
	int fd;			/* the reaper's reports; -1: none */
	int out;		/* record's -o FILE, open from the start so
				   that a bad name fails at once; -1: none */
};

/* Open record's -o FILE, and start c->command (when given) as above,
 * keeping our stdin, stdout and stderr. Before any thread exists. 0, or
 * the exit status to end with (message said). */
int cli_spawn(const struct config *c, struct cli_child *ch);

/* Run c->cmd (CMD_DUMP, CMD_RECORD, CMD_TOP) with targets made with o;
 * ch: cli_spawn's. Returns the exit status: 0, 1 on a failure, or for
 * record -- COMMAND the command's (128 + N when signal N killed it). */
int cli_main(const struct config *c, const struct target_opts *o,
	     const sigset_t *set, struct cli_child *ch);

#endif /* PROFD_DAEMON_CLI_H */
