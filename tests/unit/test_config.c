/* test_config - command line parsing (daemon/config.c). */
#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/log.h"
#include "tests/unit/check.h"

#define ERRLEN 256

static int
parse(struct config *c, char *err, ...)
{
	static char *argv[16];	/* c->match and c->command point into it */
	int argc = 0;
	va_list ap;

	static char name[] = "profd";

	argv[argc++] = name;
	va_start(ap, err);
	for (;;) {
		char *a = va_arg(ap, char *);

		if (!a)
			break;
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return config_parse(c, argc, argv, err, ERRLEN);
}

static void
check_listen(const char *in, const char *want)
{
	char out[128], what[160];
	int r = config_listen(in, out, sizeof(out));

	snprintf(what, sizeof(what), "listen '%s' -> '%s'", in,
		 want ? want : "error");
	if (want)
		CHECK(r == 0 && strcmp(out, want) == 0, what);
	else
		CHECK(r == -EINVAL, what);
}

/* profd dump|record|top: their options, what they refuse. */
static void
check_commands(void)
{
	struct config c;
	char err[ERRLEN];

	CHECK_EQ_INT(parse(&c, err, "dump", "--pid", "7", NULL), 0, "dump");
	CHECK(c.cmd == CMD_DUMP && c.npids == 1 && c.pids[0] == 7,
	      "dump --pid 7");
	CHECK_EQ_INT(c.verbosity, LOG_LVL_WARN, "commands: warnings only");
	CHECK_EQ_INT(parse(&c, err, "top", "-p", "7", "-v", NULL), 0, "top -v");
	CHECK(c.cmd == CMD_TOP && c.verbosity == LOG_LVL_INFO, "top -v: info");
	CHECK_EQ_INT(parse(&c, err, "record", "-p", "7", "-o", "f",
			   "--seconds", "3", "--wall", "--format", "folded",
			   "--hz", "50", NULL),
		     0, "record --pid");
	CHECK(c.cmd == CMD_RECORD && c.seconds == 3 && c.wall &&
		      c.format == FORMAT_FOLDED && c.hz == 50 &&
		      strcmp(c.output, "f") == 0 && !c.command,
	      "record's options");
	CHECK_EQ_INT(parse(&c, err, "record", "-o", "f", "--", "sh", "-c",
			   "exit 3", NULL),
		     0, "record -- COMMAND");
	CHECK(c.command && strcmp(c.command[0], "sh") == 0 &&
		      strcmp(c.command[1], "-c") == 0 && !c.command[3],
	      "record -- sh -c ...: the command and its arguments");
	CHECK_EQ_INT(parse(&c, err, "record", "-o", "f", "ls", "-l", NULL), 0,
		     "record COMMAND without --");
	CHECK(c.command && strcmp(c.command[1], "-l") == 0,
	      "the command's options are its own");
	CHECK_EQ_INT(parse(&c, err, "record", "-o", "f", NULL), -EINVAL,
		     "record: no process");
	CHECK_EQ_INT(parse(&c, err, "record", "-p", "7", NULL), -EINVAL,
		     "record: no -o");
	CHECK(strstr(err, "-o FILE") != NULL, "record: says -o FILE");
	CHECK_EQ_INT(parse(&c, err, "record", "-p", "7", "-o", "f", "--",
			   "ls", NULL),
		     -EINVAL, "record: --pid and a command");
	CHECK_EQ_INT(parse(&c, err, "record", "-p", "7", "-o", "f",
			   "--format", "svg", NULL),
		     0, "record --format svg");
	CHECK(c.format == FORMAT_SVG, "record --format svg: FORMAT_SVG");
	CHECK_EQ_INT(parse(&c, err, "dump", "-p", "7", "-o", "f", NULL),
		     -EINVAL, "dump -o");
	CHECK_EQ_INT(parse(&c, err, "dump", NULL), -EINVAL, "dump: no --pid");
	CHECK_EQ_INT(parse(&c, err, "dump", "-p", "1", "-p", "2", NULL),
		     -EINVAL, "dump: two --pid");
	CHECK_EQ_INT(parse(&c, err, "top", "-p", "1", "--match", "x", NULL),
		     -EINVAL, "top --match");
	CHECK_EQ_INT(parse(&c, err, "dump", "-p", "1", "extra", NULL),
		     -EINVAL, "dump: an extra argument");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--wall", NULL), -EINVAL,
		     "the server refuses --wall");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", NULL), 0, "the server");
	CHECK(c.cmd == CMD_SERVE && c.verbosity == LOG_LVL_INFO,
	      "the server logs at info");
}

int
main(void)
{
	struct config c;
	char err[ERRLEN], *help = NULL;
	size_t helplen = 0;
	FILE *f = open_memstream(&help, &helplen);

	CHECK(f != NULL, "open_memstream");
	if (!f)
		return check_report();
	config_help(f);
	fclose(f);

	CHECK_EQ_INT(parse(&c, err, "--pid", "1234", NULL), 0, "--pid only");
	CHECK(c.npids == 1 && c.pids[0] == 1234, "pid parsed");
	CHECK_EQ_STR(c.listen, "127.0.0.1:8005", "default listen is loopback");
	CHECK_EQ_INT(c.hz, 99, "default hz 99");
	CHECK_EQ_INT(c.max_seconds, 600, "default max seconds 600");
	CHECK_EQ_INT(c.verbosity, LOG_LVL_INFO, "default verbosity");
	CHECK_EQ_INT(c.sampler, SAMPLER_PTRACE, "default sampler ptrace");
	CHECK_EQ_INT(parse(&c, err, "-p", "7", "--sampler", "perf", NULL), 0,
		     "--sampler perf");
	CHECK_EQ_INT(c.sampler, SAMPLER_PERF, "--sampler perf: SAMPLER_PERF");
	CHECK_EQ_INT(parse(&c, err, "-p", "7", "--sampler=auto", NULL), 0,
		     "--sampler=auto");
	CHECK_EQ_INT(c.sampler, SAMPLER_AUTO, "--sampler auto: SAMPLER_AUTO");
	CHECK_EQ_INT(parse(&c, err, "-p", "7", "--sampler", "ptrace", NULL), 0,
		     "--sampler ptrace");
	CHECK_EQ_INT(c.sampler, SAMPLER_PTRACE, "--sampler ptrace");
	CHECK_EQ_INT(parse(&c, err, "-p", "7", "--sampler", "bpf", NULL),
		     -EINVAL, "--sampler bpf");
	CHECK(strstr(err, "--sampler 'bpf'") != NULL &&
		      strstr(err, "ptrace, perf or auto") != NULL,
	      "--sampler bpf: the message names the choices");

	CHECK_EQ_INT(parse(&c, err, "-p", "7", "-l", ":8005", "--hz", "999",
			   "--max-seconds", "60", "-v", NULL),
		     0, "all options");
	CHECK_EQ_STR(c.listen, "8005", ":8005 means every interface");
	CHECK_EQ_INT(c.hz, 999, "--hz");
	CHECK_EQ_INT(c.max_seconds, 60, "--max-seconds");
	CHECK_EQ_INT(c.verbosity, LOG_LVL_VERBOSE, "-v");
	CHECK_EQ_INT(parse(&c, err, "-p", "7", "-d", NULL), 0, "-d");
	CHECK_EQ_INT(c.verbosity, LOG_LVL_DEBUG, "-d is debug");

	CHECK_EQ_INT(parse(&c, err, NULL), -EINVAL, "no target at all");
	CHECK(strstr(err, "--pid") != NULL && strstr(err, "--match") != NULL,
	      "message names --pid and --match");
	CHECK_EQ_INT(parse(&c, err, "-p", "5", "--pid", "6", "-m", "^app$",
			   "--match", "worker", "--allow-any-pid", NULL),
		     0, "several --pid and --match, --allow-any-pid");
	CHECK(c.npids == 2 && c.pids[1] == 6 && c.nmatch == 2 &&
		      strcmp(c.match[1], "worker") == 0 && c.allow_any_pid,
	      "all kept");
	CHECK_EQ_INT(parse(&c, err, "--match", "x", NULL), 0, "--match alone");
	CHECK_EQ_INT(parse(&c, err, "--allow-any-pid", NULL), 0,
		     "--allow-any-pid alone");
	CHECK_EQ_INT(parse(&c, err, "--match", "", NULL), -EINVAL,
		     "empty --match");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--tls-cert", "c.pem", NULL),
		     -EINVAL, "--tls-cert without --tls-key");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--tls-cert", "c.pem",
			   "--tls-key", "k.pem", "--auth-token-file", "t",
			   "--max-targets", "3", "--max-sessions", "4", NULL),
		     0, "TLS, token, limits");
	CHECK(strcmp(c.tls_key, "k.pem") == 0 &&
		      strcmp(c.auth_token_file, "t") == 0 &&
		      c.max_targets == 3 && c.max_sessions == 4,
	      "TLS, token, limits kept");
	CHECK_EQ_INT(parse(&c, err, "--pid", "abc", NULL), -EINVAL,
		     "--pid abc");
	CHECK(strstr(err, "abc") != NULL, "message quotes the bad value");
	CHECK_EQ_INT(parse(&c, err, "--pid", "0", NULL), -EINVAL, "--pid 0");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "--hz", "0", NULL), -EINVAL,
		     "--hz 0");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "--hz", "5x", NULL),
		     -EINVAL, "--hz 5x");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "--hz", "2000", NULL),
		     -EINVAL, "--hz above --max-hz");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "--max-hz", "50", NULL), 0,
		     "--max-hz below the default hz");
	CHECK_EQ_INT(c.hz, 50, "the default hz follows --max-hz");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "--max-seconds", "0", NULL),
		     -EINVAL, "--max-seconds 0");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "--bogus", NULL), -EINVAL,
		     "unknown long option");
	CHECK(strstr(err, "--bogus") != NULL, "message names it");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "-x", NULL), -EINVAL,
		     "unknown short option");
	CHECK_EQ_STR(err, "unknown option -x", "message names it");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "--no-guardian=1", NULL),
		     -EINVAL, "an argument to a flag");
	CHECK_EQ_STR(err, "option --no-guardian takes no argument",
		     "message names the flag");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "--max-batch", "7",
			   "--rt-priority", "0", "--debuginfod-max-size", "0",
			   NULL),
		     0, "numbers into unsigned, int and uint64_t fields");
	CHECK(c.max_batch == 7 && c.rt_priority == 0 &&
		      c.debuginfod_max_size == 0,
	      "each number in its field");
	CHECK_EQ_INT(parse(&c, err, "--pid", NULL), -EINVAL,
		     "missing argument");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "extra", NULL), -EINVAL,
		     "extra argument");
	CHECK_EQ_INT(parse(&c, err, "--pid", "1", "-l", "nohost", NULL),
		     -EINVAL, "bad --listen");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--continuous", NULL), 0,
		     "--continuous");
	CHECK(c.history_memory == 64ULL << 20, "--history-memory: 64 MiB");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--continuous",
			   "--history-memory", "1.5GiB", NULL),
		     0, "--history-memory 1.5GiB");
	CHECK(c.history_memory == 3ULL << 29, "1.5 GiB in bytes");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--continuous",
			   "--history-memory", "4194304", NULL),
		     0, "--history-memory in bytes: the least");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--continuous",
			   "--history-memory", "3MiB", NULL),
		     -EINVAL, "--history-memory 3MiB: too small");
	CHECK(strstr(err, "4MiB") != NULL, "the message gives the range");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--continuous",
			   "--history-memory", "2TiB", NULL),
		     -EINVAL, "--history-memory 2TiB: no such unit");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--continuous",
			   "--history-memory", "2048GiB", NULL),
		     -EINVAL, "--history-memory 2048GiB: too big");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--continuous",
			   "--history-memory", "64MiB/s", NULL),
		     -EINVAL, "--history-memory 64MiB/s");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--history-memory", "64MiB",
			   NULL),
		     -EINVAL, "--history-memory without --continuous");
	CHECK_EQ_INT(parse(&c, err, "--help", NULL), 0, "--help");
	CHECK(c.help, "help set");
	CHECK_EQ_INT(parse(&c, err, "-V", NULL), 0, "-V");
	CHECK(c.version, "version set");

	/* debuginfod: off by default, opt-in with bounds and a cache */
	CHECK_EQ_INT(parse(&c, err, "-p", "1", NULL), 0, "no --debuginfod");
	CHECK_EQ_STR(c.debuginfod, "", "debuginfod off by default");
	CHECK_EQ_INT(c.debuginfod_timeout, 10, "default debuginfod timeout");
	CHECK(c.debuginfod_max_size == 256UL << 20,
	      "default debuginfod max size 256 MiB");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--debuginfod",
			   "http://127.0.0.1:8002", "--debuginfod",
			   " https://a.example/  http://b.example ",
			   "--debuginfod-timeout", "3", "--debuginfod-max-size",
			   "1048576", "--debuginfod-cache", "/tmp/x", NULL),
		     0, "debuginfod options");
	CHECK_EQ_STR(c.debuginfod,
		     "http://127.0.0.1:8002 https://a.example/ "
		     "http://b.example",
		     "URLs from repeated and space-separated --debuginfod");
	CHECK_EQ_INT(c.debuginfod_timeout, 3, "--debuginfod-timeout");
	CHECK(c.debuginfod_max_size == 1048576, "--debuginfod-max-size");
	CHECK_EQ_STR(c.debuginfod_cache, "/tmp/x", "--debuginfod-cache");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--debuginfod", "http://x",
			   NULL),
		     0, "--debuginfod without a cache");
	CHECK(c.debuginfod_cache[0] == '/', "a default cache directory");
	CHECK(strstr(c.debuginfod_cache, "profd/debuginfod") != NULL,
	      "the default cache is profd's own");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--debuginfod-max-size", "0",
			   NULL),
		     0, "--debuginfod-max-size 0 is no limit");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--debuginfod", "ftp://x",
			   NULL),
		     -EINVAL, "--debuginfod ftp://");
	CHECK(strstr(err, "ftp://x") != NULL, "message quotes the bad URL");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--debuginfod", "http://",
			   NULL),
		     -EINVAL, "--debuginfod with no host");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--debuginfod", "  ", NULL),
		     -EINVAL, "--debuginfod with no URL");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--debuginfod-timeout", "0",
			   NULL),
		     -EINVAL, "--debuginfod-timeout 0");
	CHECK_EQ_INT(parse(&c, err, "-p", "1", "--debuginfod-cache", "rel",
			   NULL),
		     -EINVAL, "relative --debuginfod-cache");
	CHECK(strstr(help, "--debuginfod-max-size") != NULL,
	      "usage lists the debuginfod options");

	check_listen("127.0.0.1:8005", "127.0.0.1:8005");
	check_listen(":8005", "8005");
	check_listen("0.0.0.0:0", "0.0.0.0:0");
	check_listen("localhost:9000", "127.0.0.1:9000");
	check_listen("[::1]:8005", "[::1]:8005");
	check_listen("8005", NULL);
	check_listen("127.0.0.1:", NULL);
	check_listen("127.0.0.1:70000", NULL);
	check_listen("example.com:80", NULL);
	check_listen("[::1:80", NULL);
	CHECK(strstr(help, "--max-seconds") != NULL, "usage lists options");
	CHECK(strstr(help, "profd record") != NULL &&
		      strstr(config_synopsis, "profd top") != NULL,
	      "usage and synopsis name the commands");
	free(help);
	check_commands();
	return check_report();
}
