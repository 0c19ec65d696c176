/* goroutines.h - a Go target's goroutines as a dump (goroutines.c):
 * what /debug/pprof/goroutine serves for a Go program, in place of its
 * threads.
 *
 * Ownership: go_dump() fills a malloc'd array of entries, each with its
 * own malloc'd pcs; go_dump_free() frees them. Threads: any (reads the
 * target with process_vm_readv, symbolizes nothing). Errors: -errno with
 * err filled; -ENOENT when the program is not Go (serve its threads).
 */
#ifndef PROFD_DAEMON_GOROUTINES_H
#define PROFD_DAEMON_GOROUTINES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dump_thread;
struct modsnap;

struct go_dump_stats {
	uint64_t read_ns;	/* reading the list and every stack */
	size_t goroutines;	/* listed (system goroutines left out) */
	size_t system;		/* the runtime's own, left out as Go does */
	size_t retries;		/* stacks read again: the goroutine ran */
	size_t unavailable;	/* stacks that kept changing */
};

/* The goroutines of process pid, whose executable mappings ms holds:
 * their state, wait reason and stack, in runtime.allgs order. A running
 * goroutine gets the stack of its thread from threads[] (a thread dump
 * taken just before). */
int go_dump(pid_t pid, const struct modsnap *ms,
	    const struct dump_thread *threads, size_t nthreads,
	    struct dump_thread **out, size_t *n, struct go_dump_stats *st,
	    char *err, size_t errlen);

void go_dump_free(struct dump_thread *d, size_t n);

#endif /* PROFD_DAEMON_GOROUTINES_H */
