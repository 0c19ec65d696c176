/* ptrace.c - the only ptrace requests profd makes, and the stop it takes.
 *
 * PTRACE_SEIZE + PTRACE_INTERRUPT, never PTRACE_ATTACH (it sends a real
 * SIGSTOP that can race with the target's own job control and leave it
 * stopped if profd dies: ptrace(2), "Attaching and detaching"), never
 * PTRACE_O_EXITKILL (it would kill the target with profd). With SEIZE the
 * kernel resumes every tracee when the tracer exits, whatever the reason
 * (kernel/ptrace.c exit_ptrace, __ptrace_unlink).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <elf.h>
#include <unistd.h>

#include "unwind/unwind.h"

static int
pt_req(enum __ptrace_request req, pid_t tid, void *addr, void *data)
{
	if (ptrace(req, tid, addr, data) == -1)
		return -errno;
	return 0;
}

int
pt_seize(pid_t tid)
{
	return pt_req(PTRACE_SEIZE, tid, NULL, NULL);
}

int
pt_interrupt(pid_t tid)
{
	return pt_req(PTRACE_INTERRUPT, tid, NULL, NULL);
}

int
pt_cont(pid_t tid, int sig)
{
	return pt_req(PTRACE_CONT, tid, NULL, (void *)(long)sig);
}

int
pt_listen(pid_t tid)
{
	return pt_req(PTRACE_LISTEN, tid, NULL, NULL);
}

int
pt_detach(pid_t tid, int sig)
{
	return pt_req(PTRACE_DETACH, tid, NULL, (void *)(long)sig);
}

static int
is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	       sig == SIGTTOU;
}

/*
 * Under PTRACE_SEIZE (ptrace(2), "Stopped states"):
 *  - status>>16 == PTRACE_EVENT_STOP: either our interrupt (WSTOPSIG is
 *    SIGTRAP) or a group-stop (WSTOPSIG is the stopping signal);
 *  - status>>16 == 0: a signal-delivery-stop for WSTOPSIG, which must be
 *    injected again when the thread is resumed;
 *  - other events we never asked for, except that a thread stopped in an
 *    event may report it anyway after exec: treat as "resume with 0".
 */
void
pt_decode(pid_t tid, int status, struct pt_event *ev)
{
	int event;

	memset(ev, 0, sizeof(*ev));
	ev->tid = tid;
	ev->status = status;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		ev->kind = PT_EV_EXITED;
		return;
	}
	if (!WIFSTOPPED(status)) {
		ev->kind = PT_EV_OTHER;
		return;
	}
	event = (unsigned)status >> 16;
	ev->sig = WSTOPSIG(status);
	if (event == PTRACE_EVENT_STOP) {
		if (is_stop_signal(ev->sig))
			ev->kind = PT_EV_GROUP_STOP;
		else
			ev->kind = PT_EV_INTERRUPT;
		return;
	}
	if (event == 0) {
		ev->kind = PT_EV_SIGNAL;
		return;
	}
	ev->kind = PT_EV_OTHER;
	ev->sig = 0;
}

int
pt_wait(struct pt_event *ev, bool block)
{
	int status;
	pid_t tid;

	/* __WNOTHREAD: only this thread's tracees. Another sampler thread of
	 * profd may trace another process, and its stops are its own. */
	tid = waitpid(-1, &status, __WALL | __WNOTHREAD | (block ? 0 : WNOHANG));
	if (tid < 0)
		return -errno;
	if (tid == 0)
		return 0;
	pt_decode(tid, status, ev);
	return 1;
}

/* ---- snapshot ---------------------------------------------------------- */

#define PAGE 4096UL
#define SNAP_MAX_IOV 64

int
snapshot_take(struct snapshot *s, pid_t tid)
{
	struct iovec rv = { &s->regs, sizeof(s->regs) };

	s->tid = tid;
	s->len = 0;
	s->go_len = 0;
	s->go_vdso_sp = 0;
	s->leaf_return = false;
	s->regs_known = SNAP_REGS_ALL;
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &rv) == -1)
		return -errno;
	s->sp = s->regs.rsp;
	return snapshot_read_stack(s, tid);
}

int
stack_copy(pid_t tid, uint64_t sp, unsigned char *buf, size_t cap,
	   size_t *len)
{
	struct iovec local, remote[SNAP_MAX_IOV];
	uint64_t addr, end;
	size_t n = 0;
	ssize_t got;

	*len = 0;
	/*
	 * One process_vm_readv, remote side split at page boundaries: the
	 * kernel never splits an iovec element in a partial transfer
	 * (process_vm_readv(2)), so a single element reaching past the top
	 * of the stack mapping would copy nothing. Page-sized elements keep
	 * everything up to the end of the mapping.
	 */
	addr = sp;
	end = sp + cap;
	if (end < addr)		/* SP near the top of the address space */
		end = UINT64_MAX;
	while (addr < end && n < SNAP_MAX_IOV) {
		uint64_t next = (addr | (PAGE - 1)) + 1;

		if (next > end || next == 0)
			next = end;
		remote[n].iov_base = (void *)(uintptr_t)addr;
		remote[n].iov_len = next - addr;
		n++;
		addr = next;
	}
	local.iov_base = buf;
	local.iov_len = cap;
	got = process_vm_readv(tid, &local, 1, remote, n, 0);
	if (got < 0) {
		/* EFAULT: SP does not point at readable memory (a thread
		 * in the middle of switching stacks). */
		if (errno == EFAULT)
			return 0;
		return -errno;
	}
	*len = (size_t)got;
	return 0;
}

int
snapshot_read_stack(struct snapshot *s, pid_t tid)
{
	s->tid = tid;
	s->go_len = 0;
	s->go_vdso_sp = 0;
	s->leaf_return = false;
	/* Keep the registers when SP is not readable: the leaf PC is still
	 * a valid sample. */
	return stack_copy(tid, s->sp, s->stack,
			  s->want && s->want < s->cap ? s->want : s->cap,
			  &s->len);
}
