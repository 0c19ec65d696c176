/* test_unwind - ptrace primitives, snapshot and offline unwinding
 * (unwind/), against a real child process with a known stack:
 * leaf <- mid <- root <- main, built with the test (-O2 -g).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/proc.h"
#include "symbolize/symbolize.h"
#include "unwind/unwind.h"
#include "tests/unit/check.h"

#define NOINLINE __attribute__((noinline, noclone))

static volatile unsigned long sink;

static NOINLINE void
leaf(void)
{
	for (;;)
		sink++;
}

static NOINLINE void
mid(void)
{
	leaf();
	sink--;		/* no tail call */
}

static NOINLINE void
root(void)
{
	mid();
	sink--;
}

static char
state_of(pid_t pid)
{
	char path[64], *buf;
	struct proc_stat st;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (proc_read(path, 4096, &buf, &len) < 0)
		return '?';
	if (proc_parse_stat(buf, len, &st) < 0)
		st.state = '?';
	free(buf);
	return st.state;
}

/* Stop the child once; returns 0 with s filled. */
static int
sample_once(pid_t child, struct snapshot *s)
{
	struct pt_event ev;
	int r;

	r = pt_seize(child);
	if (r < 0)
		return r;
	r = pt_interrupt(child);
	if (r < 0)
		return r;
	do {
		r = pt_wait(&ev, true);
	} while (r == -EINTR);
	if (r != 1 || ev.kind != PT_EV_INTERRUPT)
		return -EPROTO;
	r = snapshot_take(s, child);
	pt_detach(child, 0);
	return r;
}

static void
test_decode(void)
{
	struct pt_event ev;

	pt_decode(5, (PTRACE_EVENT_STOP << 16) | (SIGTRAP << 8) | 0x7f, &ev);
	CHECK(ev.kind == PT_EV_INTERRUPT && ev.tid == 5, "decode interrupt");
	pt_decode(5, (PTRACE_EVENT_STOP << 16) | (SIGTSTP << 8) | 0x7f, &ev);
	CHECK(ev.kind == PT_EV_GROUP_STOP && ev.sig == SIGTSTP,
	      "decode group-stop");
	pt_decode(5, (SIGUSR1 << 8) | 0x7f, &ev);
	CHECK(ev.kind == PT_EV_SIGNAL && ev.sig == SIGUSR1,
	      "decode signal-delivery-stop");
	pt_decode(5, 3 << 8, &ev);
	CHECK(ev.kind == PT_EV_EXITED, "decode exit");
	pt_decode(5, SIGKILL, &ev);
	CHECK(ev.kind == PT_EV_EXITED, "decode killed");
	pt_decode(5, (PTRACE_EVENT_CLONE << 16) | (SIGTRAP << 8) | 0x7f, &ev);
	CHECK(ev.kind == PT_EV_OTHER, "decode other event");
}

int
main(void)
{
	/* static: a 32 KiB array in main's frame would push main's return
	 * address beyond the copy */
	static unsigned char stack[32768];
	struct snapshot s = { .cap = sizeof(stack), .stack = stack };
	char err[SYM_ERRLEN];
	struct space *sp = NULL;
	struct unwinder *u = NULL;
	struct pt_event ev;
	uint64_t pcs[64];
	uint8_t flags[64];
	int pfd[2], status, tries, n = 0, r, i;
	const char *names[64] = { 0 };
	pid_t child;
	char c;

	test_decode();

	if (pipe(pfd) < 0)
		return 1;
	child = fork();
	if (child == 0) {
		close(pfd[0]);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		alarm(60);
		root();
		_exit(0);
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &c, 1) == 1, "child started");
	close(pfd[0]);

	sp = space_new(child);
	CHECK(sp != NULL, "space_new");
	r = space_refresh(sp, err, sizeof(err));
	CHECK(r >= 0, "space_refresh");
	u = unwinder_new(sp);
	CHECK(u != NULL, "unwinder_new");

	/* The child reaches leaf() within microseconds; sample until the
	 * leaf is on top (bounded). */
	for (tries = 0; tries < 200; tries++) {
		r = sample_once(child, &s);
		if (r < 0)
			break;
		n = unwind_snapshot(u, &s, pcs, flags, 64);
		if (n < 3)
			continue;
		for (i = 0; i < n && i < 64; i++) {
			const struct module *m = space_module(sp, pcs[i]);
			struct sym_info si;

			names[i] = "";
			if (m && m->img &&
			    symbolize(m->img, pcs[i] - m->bias, &si) == 0 &&
			    si.n > 0)
				names[i] = si.frames[si.n - 1].name;
		}
		if (strcmp(names[0], "leaf") == 0)
			break;
	}
	CHECK_EQ_INT(r, 0, "seize, interrupt, snapshot, detach");
	CHECK(s.len > 0 && s.len <= s.cap, "stack copied");
	CHECK(s.sp == s.regs.rsp, "sp is rsp");
	CHECK(n >= 4, "at least 4 frames");
	for (i = 0; i < n; i++)
		printf("# frame %d: %#lx %s flags %d\n", i, (unsigned long)pcs[i], names[i] ? names[i] : "?", flags[i]);
	if (n >= 4) {
		CHECK_EQ_STR(names[0], "leaf", "frame 0 is leaf");
		CHECK_EQ_STR(names[1], "mid", "frame 1 is mid");
		CHECK_EQ_STR(names[2], "root", "frame 2 is root");
		CHECK_EQ_STR(names[3], "main", "frame 3 is main");
		CHECK(flags[0] & UNW_FRAME_EXACT, "leaf address is exact");
		CHECK(!(flags[1] & UNW_FRAME_EXACT),
		      "caller address is return address - 1");
		CHECK(!(flags[n - 1] & UNW_FRAME_TRUNCATED),
		      "stack complete (no truncation)");
	}
	CHECK_EQ_INT(proc_tracer(child), 0, "detached: TracerPid 0");
	CHECK(state_of(child) == 'R', "child running after the samples");

	/* Job control while seized: a SIGSTOP becomes a
	 * signal-delivery-stop; detaching with it stops the child for real,
	 * as if no tracer had been there. */
	CHECK_EQ_INT(pt_seize(child), 0, "seize again");
	kill(child, SIGSTOP);
	do {
		r = pt_wait(&ev, true);
	} while (r == -EINTR);
	CHECK(r == 1 && ev.kind == PT_EV_SIGNAL && ev.sig == SIGSTOP,
	      "SIGSTOP reported as signal-delivery-stop");
	CHECK_EQ_INT(pt_detach(child, ev.sig), 0, "detach re-injecting it");
	r = waitpid(child, &status, WUNTRACED);
	CHECK(r == child && WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP,
	      "the parent sees the stop (job control kept)");
	kill(child, SIGCONT);
	r = waitpid(child, &status, WCONTINUED);
	CHECK(r == child && WIFCONTINUED(status), "and the continue");
	CHECK_EQ_INT(pt_wait(&ev, false), 0, "no stop left pending");

	/* A thread that is not in ptrace-stop cannot be snapshotted. */
	CHECK(snapshot_take(&s, child) < 0, "snapshot needs a stop");

	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	unwinder_free(u);
	space_free(sp);
	symbolize_shutdown();
	return check_report();
}
