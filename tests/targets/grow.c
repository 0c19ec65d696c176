/* grow - one thread that keeps growing its resident memory in a named
 * function, one that only computes, and a block held all along.
 *
 * Usage: grow COUNTERS [CAP_MIB [ALARM_SECONDS]]
 *
 * Threads:
 *   grower  grow_leaf, grow_mid, grower: maps 1 MiB chunks and touches
 *           every page of each (a page fault per page), unmaps them all
 *           at CAP_MIB (default 32) and starts over, so it faults for as
 *           long as it runs
 *   spinner spin_leaf, spinner: a register loop, no page fault
 *   grow    (main) holds HELD_MIB of touched anonymous memory from the
 *           start, then sleeps in pthread_join
 *
 * COUNTERS (target.h target_counters, u64 each): [0] bytes the main thread
 * holds, [1] cycles the grower finished, [2] 1 while the grower is paused.
 * SIGUSR1 pauses the grower (it sleeps between chunks, its memory kept),
 * SIGUSR2 lets it go on: the tests read a steady RSS meanwhile.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
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

static NOINLINE void
grow_mid(char **chunks)
{
	for (unsigned long i = 0; i < cap_chunks; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		while (paused) {
			counters[2] = 1;
			nanosleep(&ts, NULL);
		}
		counters[2] = 0;
		chunks[i] = grow_leaf();
	}
	for (unsigned long i = 0; i < cap_chunks; i++)
		if (chunks[i])
			munmap(chunks[i], CHUNK);
	sink++;
}

static void *
grower(void *arg)
{
	static char *chunks[MAX_CHUNKS];

	(void)arg;
	for (;;) {
		grow_mid(chunks);
		counters[1]++;
	}
	return NULL;
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

	if (argc < 2) {
		fprintf(stderr, "usage: grow COUNTERS [CAP_MIB [ALARM]]\n");
		return 64;
	}
	if (argc > 2)
		cap_chunks = target_arg(argv[2], "cap MiB");
	if (cap_chunks > MAX_CHUNKS) {
		fprintf(stderr, "at most %d MiB\n", MAX_CHUNKS);
		return 64;
	}
	target_init(argc > 3 ? argv[3] : NULL);
	counters = target_counters(argv[1], 1);
	page = sysconf(_SC_PAGESIZE);
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
	    pthread_create(&s, NULL, spinner, NULL) != 0)
		return 1;
	pthread_setname_np(g, "grower");
	pthread_setname_np(s, "spinner");
	target_ready();
	pthread_join(g, NULL);	/* never returns */
	return 0;
}
