/* grow - one thread that keeps growing its resident memory in a named
 * function, one that only computes, and a block held all along.
 *
 * Usage: grow COUNTERS [CAP_MIB [ALARM_SECONDS [nospin]]]
 *
 * Threads:
 *   grower  grow_leaf, grow_mid, grower: maps 1 MiB chunks and touches
 *           every page of each (a page fault per page); waits while it
 *           holds CAP_MIB (default 32), so it faults for as long as the
 *           main thread frees
 *   spinner spin_leaf, spinner: a register loop, no page fault (none
 *           with "nospin": a test that runs several growers, or only
 *           reads their memory, spares a CPU per grower)
 *   grow    (main) holds HELD_MIB of touched anonymous memory from the
 *           start, and unmaps the grower's chunks, oldest first, while
 *           they are more than half of CAP_MIB
 *
 * COUNTERS (target.h target_counters, u64 each): [0] bytes the main thread
 * holds, [1] CAP_MIB of chunks unmapped, [2] 1 while the grower is
 * paused.
 * SIGUSR1 pauses the grower (it sleeps between chunks, its memory kept),
 * SIGUSR2 lets it go on: the tests read a steady RSS meanwhile.
 * CAP_MIB pN: cap N, the grower starts paused (SIGUSR2 starts it).
 * CAP_MIB 0: no cap, nothing is unmapped: the grower starts paused and,
 * after SIGUSR2, grows without bound (until a memory cgroup's limit gets
 * it OOM-killed).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "target.h"

#define HELD_MIB 48
#define CHUNK (1u << 20)
#define MAX_CHUNKS 1024

static volatile uint64_t *counters;
static volatile sig_atomic_t paused;
static volatile unsigned long sink;
static unsigned long cap_chunks = 32;
static long page;

static void
on_signal(int sig)
{
	paused = sig == SIGUSR1;
}

/* Map one chunk and touch each of its pages: one fault per page. */
static NOINLINE char *
grow_leaf(void)
{
	char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	for (size_t off = 0; off < CHUNK; off += (size_t)page)
		p[off] = (char)off;
	return p;
}

/* Chunks the grower has touched, for the main thread to unmap: the
 * grower spends its time in grow_leaf, not in munmap (whose samples would
 * carry the faults taken since the grower's previous sample). */
static char *ring[MAX_CHUNKS];
static uint64_t head, tail;	/* written by grower, main: __atomic */

static NOINLINE void
grow_mid(void)
{
	struct timespec ts = { 0, 1000 * 1000 };
	uint64_t h = __atomic_load_n(&head, __ATOMIC_RELAXED);

	while (paused || (cap_chunks > 0 &&
			  h - __atomic_load_n(&tail, __ATOMIC_ACQUIRE) >=
				  cap_chunks)) {
		counters[2] = paused ? 1 : 0;
		nanosleep(&ts, NULL);
	}
	counters[2] = 0;
	ring[h % MAX_CHUNKS] = grow_leaf();
	__atomic_store_n(&head, h + 1, __ATOMIC_RELEASE);
	sink++;
}

static void *
grower(void *arg)
{
	(void)arg;
	for (;;)
		grow_mid();
	return NULL;
}

/* The main thread: unmap what the grower left, oldest first, once it
 * holds CAP_MIB. */
static void
reaper(void)
{
	struct timespec ts = { 0, 1000 * 1000 };

	for (;;) {
		uint64_t t = __atomic_load_n(&tail, __ATOMIC_RELAXED);

		if (cap_chunks == 0) {	/* unbounded: keep everything */
			nanosleep(&ts, NULL);
			continue;
		}
		if (__atomic_load_n(&head, __ATOMIC_ACQUIRE) - t <
		    cap_chunks / 2 + 1) {
			nanosleep(&ts, NULL);
			continue;
		}
		if (ring[t % MAX_CHUNKS])
			munmap(ring[t % MAX_CHUNKS], CHUNK);
		__atomic_store_n(&tail, t + 1, __ATOMIC_RELEASE);
		if ((t + 1) % cap_chunks == 0)
			counters[1]++;
	}
}

static NOINLINE void
spin_leaf(void)
{
	for (;;)
		sink++;
}

static void *
spinner(void *arg)
{
	(void)arg;
	spin_leaf();
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t g, s;
	char *held;
	bool spin = !(argc > 4 && strcmp(argv[4], "nospin") == 0);

	if (argc < 2 || (argc > 4 && spin)) {
		fprintf(stderr,
			"usage: grow COUNTERS [CAP_MIB [ALARM [nospin]]]\n");
		return 64;
	}
	if (argc > 2 && argv[2][0] == 'p') {
		paused = 1;
		cap_chunks = target_arg(argv[2] + 1, "cap MiB");
	} else if (argc > 2) {
		cap_chunks = strcmp(argv[2], "0") == 0
				     ? 0
				     : target_arg(argv[2], "cap MiB");
	}
	if (cap_chunks > MAX_CHUNKS) {
		fprintf(stderr, "at most %d MiB\n", MAX_CHUNKS);
		return 64;
	}
	target_init(argc > 3 ? argv[3] : NULL);
	counters = target_counters(argv[1], 1);
	page = sysconf(_SC_PAGESIZE);
	if (cap_chunks == 0)
		paused = 1;
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	held = mmap(NULL, (size_t)HELD_MIB << 20, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (held == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(held, 1, (size_t)HELD_MIB << 20);
	counters[0] = (uint64_t)HELD_MIB << 20;
	if (pthread_create(&g, NULL, grower, NULL) != 0 ||
	    (spin && pthread_create(&s, NULL, spinner, NULL) != 0))
		return 1;
	pthread_setname_np(g, "grower");
	if (spin)
		pthread_setname_np(s, "spinner");
	target_ready();
	reaper();		/* never returns */
	return 0;
}
