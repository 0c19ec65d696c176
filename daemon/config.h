/* config.h - profd's command line (config.c): one option table drives the
 * parser and --help.
 *
 * Threads: main thread, before any other thread starts (getopt_long keeps
 * global state). Errors: -EINVAL with a one-line message in err; never
 * logs, never exits.
 */
#ifndef PROFD_CONFIG_H
#define PROFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "daemon/trigger.h"

#define PROFD_MAX_PIDS	  64		/* --pid given */
#define PROFD_MAX_MATCH	  16		/* --match given */

/* What profd is asked to do: serve (no subcommand), or one of the
 * commands that need no HTTP server (cli.c). */
enum profd_cmd {
	CMD_SERVE,
	CMD_DUMP,		/* profd dump --pid PID */
	CMD_RECORD,		/* profd record ... -o FILE */
	CMD_TOP,		/* profd top --pid PID */
};

/* profd record --format */
enum profd_format {
	FORMAT_PPROF,		/* gzip'd profile.proto */
	FORMAT_FOLDED,		/* collapsed stacks, one a line */
	FORMAT_SVG,		/* a flame graph (http_flame_svg) */
};

struct config {
	pid_t pids[PROFD_MAX_PIDS];	/* --pid, repeatable */
	size_t npids;
	const char *match[PROFD_MAX_MATCH];	/* --match REGEX; argv's */
	size_t nmatch;
	bool allow_any_pid;
	unsigned max_targets;
	unsigned max_sessions;		/* windows open at once, in all */
	char auth_token_file[512];
	char tls_cert[512], tls_key[512];
	char listen[128];	/* civetweb syntax: "127.0.0.1:8005", "8005" */
	unsigned hz;		/* default sampling rate */
	unsigned max_hz;
	unsigned max_seconds;
	unsigned stack_bytes;	/* stack copied per sample */
	unsigned max_batch;	/* threads stopped at once */
	unsigned stop_budget_us; /* summed stop time per tick */
	unsigned max_stop_us;	/* --max-stop-us */
	bool attach_window;	/* --attach=window */
	enum sampler_mode sampler;	/* --sampler */
	int rt_priority;	/* --rt-priority */
	int verbosity;		/* LOG_LVL_* */
	bool help, version;
	char debuginfod[1024];	/* space-separated URLs; "" when off */
	unsigned debuginfod_timeout;	/* seconds */
	uint64_t debuginfod_max_size;	/* bytes; 0: no limit */
	char debuginfod_cache[512];	/* set when debuginfod is on */
	char runtime_dir[512];	/* the guardian's record; "" none */
	bool no_guardian;	/* --no-guardian */
	unsigned continuous_hz;	/* --continuous[=HZ]; 0: off */
	unsigned history_s;	/* --history, seconds */
	bool have_history;	/* --history given */
	uint64_t history_memory;	/* --history-memory, bytes */
	bool have_history_memory;	/* --history-memory given */
	struct trigger triggers[TRIGGER_MAX];	/* --trigger, repeatable */
	size_t ntriggers;
	char output_dir[512];	/* --output-dir; "" none */
	unsigned keep;		/* --keep: snapshots kept per target name */
	bool have_keep;		/* --keep given */
	/* the commands without a server (cli.c) */
	enum profd_cmd cmd;	/* argv[1]: dump, record, top */
	unsigned seconds;	/* record --seconds; 0: until it ends */
	bool wall;		/* record --wall */
	char output[512];	/* record -o FILE */
	enum profd_format format;	/* record --format */
	char **command;		/* record -- COMMAND ARGS (argv's, NULL
				   terminated); NULL: none */
};

/* Fill c with the defaults, then parse argv into it. c->match points into
 * argv, which must outlive c. Stops at -h/--help or -V/--version with
 * c->help or c->version set. Returns 0, or -EINVAL with err set to a
 * one-line message (the caller prints it with config_synopsis and exits
 * 64). Main thread only. */
int config_parse(struct config *c, int argc, char **argv, char *err,
		 size_t errlen);

/* Translate --listen "[HOST]:PORT" into civetweb's listening_ports syntax:
 * ":8005" -> "8005" (every IPv4 interface), "[::1]:8005" unchanged,
 * "localhost:8005" -> "127.0.0.1:8005". Pure, any thread. -EINVAL on a
 * bad address or when out (outlen bytes) is too small. */
int config_listen(const char *arg, char *out, size_t outlen);

/* A --history DURATION: a whole number with an s, m or h suffix (none:
 * seconds) into *seconds, within [min, max] seconds. Pure, any thread.
 * 0, or -EINVAL. */
int config_duration(const char *arg, unsigned min, unsigned max,
		    unsigned *seconds);

/* Print --help to f: the synopsis, then one entry per option of the
 * table, in its order. Any thread; write errors are the caller's (ferror). */
void config_help(FILE *f);

/* The name of a command (CMD_SERVE: "profd"), for messages. Pure. */
const char *config_cmd_name(enum profd_cmd cmd);

/* The synopsis printed with a usage error (static text). */
extern const char config_synopsis[];

#endif /* PROFD_CONFIG_H */
