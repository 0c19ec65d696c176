/* unwind - stopping threads, copying what a stop must copy, and turning
 * that copy into a call stack offline.
 *
 * ptrace: PTRACE_SEIZE + PTRACE_INTERRUPT only (never ATTACH, never
 * EXITKILL), so a SIGKILLed profd lets the kernel resume every thread.
 * Every call here must come from the thread that seized the tracee.
 *
 * snapshot: inside a ptrace-stop, PTRACE_GETREGSET and one
 * process_vm_readv of the stack from SP. Nothing else happens while a
 * thread is stopped.
 *
 * unwinder: libunwind's remote API over the snapshot, with our own
 * accessors: stack bytes from the copy, code and unwind tables from the ELF
 * images of space/'s space (never the live process, never
 * _UPT_access_mem). libunwind's frame-pointer heuristics take over where no
 * CFI covers a PC.
 *
 * Errors: -errno, never logs, never exits.
 */
#ifndef PROFD_UNWIND_H
#define PROFD_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "space/space.h"

/* ---- ptrace primitives ------------------------------------------------ */

int pt_seize(pid_t tid);
int pt_interrupt(pid_t tid);
int pt_cont(pid_t tid, int sig);
int pt_listen(pid_t tid);
int pt_detach(pid_t tid, int sig);

enum pt_event_kind {
	PT_EV_INTERRUPT,	/* our PTRACE_INTERRUPT arrived: sample now */
	PT_EV_GROUP_STOP,	/* job control (SIGSTOP/TSTP/TTIN/TTOU) */
	PT_EV_SIGNAL,		/* signal-delivery-stop: re-inject ev.sig */
	PT_EV_EXITED,		/* the thread is gone */
	PT_EV_OTHER,		/* another ptrace event: resume with 0 */
};

struct pt_event {
	pid_t tid;
	enum pt_event_kind kind;
	int sig;		/* PT_EV_SIGNAL / PT_EV_GROUP_STOP */
	int status;		/* raw wait status */
};

/* Decode a wait status into an event (pure; unit tested). */
void pt_decode(pid_t tid, int status, struct pt_event *ev);

/* Wait for the next stop or exit of any tracee of the calling thread
 * (waitpid(-1, __WALL | __WNOTHREAD)). With block false, returns 0 when
 * nothing is pending. Blocking waits return -EINTR when a signal handler
 * ran (the sampler's deadline timer) and -ECHILD when the calling thread
 * traces nothing. 1 when *ev was filled. */
int pt_wait(struct pt_event *ev, bool block);

/* ---- snapshot --------------------------------------------------------- */

/* Which registers of a snapshot are known. */
#define SNAP_REGS_ALL	0	/* taken in a ptrace-stop */
#define SNAP_REGS_SP_PC	1	/* only rsp and rip: a sleeping thread read
				   through /proc/PID/task/TID/syscall */

struct snapshot {
	pid_t tid;
	struct user_regs_struct regs;
	int regs_known;		/* SNAP_REGS_* */
	uint64_t sp;		/* regs.rsp */
	size_t len;		/* bytes copied from sp */
	size_t cap;		/* size of stack[] */
	unsigned char *stack;	/* caller-owned buffer of cap bytes */
	size_t want;		/* copy at most this many bytes (0: cap) */
	/* Go: a thread on its system stack (g0: systemstack, mcall,
	 * morestack, a cgo call) serves the goroutine it switched away
	 * from; that goroutine's saved registers (g.sched) and a copy of
	 * its stack from go_sp, taken in the same stop. The walk crosses to
	 * them at the frame that switched stacks. go_len 0: none. */
	uint64_t go_pc, go_sp, go_bp;
	size_t go_len;
	/* Go: in a vDSO call the runtime keeps its caller's PC and SP in
	 * m.vdsoPC and m.vdsoSP (0: not in one, or not read) */
	uint64_t go_vdso_pc, go_vdso_sp;
	size_t go_cap;		/* size of go_stack[] */
	unsigned char *go_stack; /* caller-owned; NULL: never taken */
	/* regs.rip is a return address (a parked goroutine's saved PC),
	 * not where the thread was stopped */
	bool leaf_return;
};

/* Copy the registers and up to s->cap bytes of stack from SP of a thread
 * in ptrace-stop. The copy stops early where the stack mapping ends (reads
 * go page by page so a partial copy is kept). Returns 0, or -errno
 * (-ESRCH: the thread is gone). */
int snapshot_take(struct snapshot *s, pid_t tid);

/* Copy up to cap bytes of thread tid's memory from sp into buf, as a
 * stack copy is taken: page by page, so a copy that reaches the end of
 * the mapping keeps what precedes it. *len: bytes copied (0 when sp is
 * not readable). 0 or -errno (-ESRCH: gone). */
int stack_copy(pid_t tid, uint64_t sp, unsigned char *buf, size_t cap,
	       size_t *len);

/* Copy up to s->cap bytes of stack from s->sp (already set), as
 * snapshot_take() does, without touching the registers. Needs no stop:
 * used for a thread blocked in the kernel, whose user stack cannot change
 * while it sleeps (the caller checks it did not run meanwhile). */
int snapshot_read_stack(struct snapshot *s, pid_t tid);

/* ---- offline unwinding ------------------------------------------------ */

/* Flags returned in frame_flags[] by unwind_snapshot(). */
#define UNW_FRAME_EXACT		0x1	/* address is exact (leaf, or frame
					   interrupted by a signal) */
#define UNW_FRAME_TRUNCATED	0x2	/* pseudo-frame: the walk stopped
					   early; address is 0 */

struct unwinder;

/* An unwinder for one process whose modules `sp` describes. The space
 * stays owned by the caller and must outlive the unwinder. NULL + errno. */
struct unwinder *unwinder_new(struct space *sp);

/* Accepts NULL. */
void unwinder_free(struct unwinder *u);

/* Forget cached unwind state (call after space_refresh() reported a
 * change). */
void unwinder_flush(struct unwinder *u);

struct unwind_stats {
	uint64_t stacks, frames, truncated, no_module;
};

/* How much of a snapshot's stack copy its last unwind used: the offset
 * from SP of the outermost frame's SP (extent), and whether the walk
 * stopped at the end of the copy (short: more bytes could have taken it
 * further). */
struct unwind_extent {
	size_t extent;
	bool short_copy;
};

/* Unwind snapshot s into at most max frames. pcs[0] is the sampled PC;
 * every caller frame's address is its return address - 1 (the call
 * instruction), unless the frame was interrupted by a signal. When the walk
 * stops early, the last entry is a UNW_FRAME_TRUNCATED pseudo-frame.
 * With SNAP_REGS_SP_PC only rsp and rip are given to libunwind; a frame
 * whose rules need another register ends the walk (truncated).
 * frame_flags may be NULL. Returns the number of entries (>= 1), or -errno.
 * Not thread-safe: one thread per unwinder. */
int unwind_snapshot(struct unwinder *u, const struct snapshot *s,
		    uint64_t *pcs, uint8_t *frame_flags, size_t max);

const struct unwind_stats *unwinder_stats(const struct unwinder *u);

/* The extent of the last unwind_snapshot() of u. */
void unwinder_extent(const struct unwinder *u, struct unwind_extent *out);

/* Unwind Go code only, from s->regs.rip/rsp (s->leaf_return says whether
 * rip is a return address), with the Go table of img (runtime address =
 * ELF vaddr + bias): a goroutine that is not running, whose stack is all
 * Go. Same output as unwind_snapshot(); no unwinder needed, so any
 * thread may call it. */
int unwind_go_stack(struct elfimg *img, uint64_t bias,
		    const struct snapshot *s, uint64_t *pcs,
		    uint8_t *frame_flags, size_t max);

#endif /* PROFD_UNWIND_H */
