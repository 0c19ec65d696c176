/* demo - the `make demo` workload: named threads doing recognisable work.
 *
 * Usage: demo [ALARM_SECONDS]
 *
 * Threads and their share of the process's CPU time (each works for a fixed
 * slice of thread CPU time in every 20 ms period, then sleeps, so the shares
 * hold on any machine with at least one free core):
 *   parser   50 %  next_token, parse_document, parser_main
 *   hasher   30 %  fnv1a, hash_block, hasher_main
 *   sorter   20 %  cmp_u32, (libc qsort), sort_batch, sorter_main
 *   sleeper   0 %  sleeps in clock_nanosleep
 *   demo      0 %  main, in pthread_join
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "target.h"

#define PERIOD_NS 20000000L
#define DOC_SIZE (64 * 1024)
#define SORT_N 4096

static char doc[DOC_SIZE];
static volatile unsigned long sink;

/* ---- parser: tokenise a JSON-like document ---- */

enum tok { T_END, T_PUNCT, T_STRING, T_NUMBER, T_WORD };

static NOINLINE enum tok
next_token(const char **pp)
{
	const char *p = *pp;

	while (*p == ' ' || *p == '\n')
		p++;
	if (*p == '\0') {
		*pp = p;
		return T_END;
	}
	if (*p == '"') {
		for (p++; *p != '"' && *p != '\0'; p++)
			if (*p == '\\' && p[1] != '\0')
				p++;
		*pp = *p ? p + 1 : p;
		return T_STRING;
	}
	if ((*p >= '0' && *p <= '9') || *p == '-') {
		for (p++; (*p >= '0' && *p <= '9') || *p == '.'; p++)
			;
		*pp = p;
		return T_NUMBER;
	}
	if (*p >= 'a' && *p <= 'z') {
		while (*p >= 'a' && *p <= 'z')
			p++;
		*pp = p;
		return T_WORD;
	}
	*pp = p + 1;
	return T_PUNCT;
}

static NOINLINE unsigned long
parse_document(const char *s)
{
	unsigned long counts[5] = { 0 };
	enum tok t;

	while ((t = next_token(&s)) != T_END)
		counts[t]++;
	return counts[T_STRING] * 3 + counts[T_NUMBER] * 5 + counts[T_PUNCT];
}

static void
make_document(void)
{
	size_t n = 0;
	int i = 0;

	n += snprintf(doc, sizeof(doc), "[");
	while (n < sizeof(doc) - 200) {
		n += snprintf(doc + n, sizeof(doc) - n,
			      "{\"id\": %d, \"name\": \"item \\\"%d\\\"\", "
			      "\"price\": %d.%02d, \"tags\": [\"a\", \"b\"], "
			      "\"ok\": true},\n",
			      i, i * 7, i % 1000, i % 100);
		i++;
	}
	snprintf(doc + n, sizeof(doc) - n, "{}]");
}

/* ---- hasher: FNV-1a over the document ---- */

static NOINLINE uint64_t
fnv1a(const unsigned char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static NOINLINE uint64_t
hash_block(uint64_t h)
{
	return fnv1a((const unsigned char *)doc, sizeof(doc), h);
}

/* ---- sorter: qsort of random arrays ---- */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static NOINLINE void
sort_batch(uint32_t *v, uint32_t *rng)
{
	for (int i = 0; i < SORT_N; i++) {
		*rng ^= *rng << 13;	/* xorshift32 */
		*rng ^= *rng >> 17;
		*rng ^= *rng << 5;
		v[i] = *rng;
	}
	qsort(v, SORT_N, sizeof(*v), cmp_u32);
}

/* ---- duty cycle ---- */

static long
thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Call step() until this thread has used busy_ns of CPU in the current
 * period, then sleep until the next period starts. */
static void
duty_cycle(long busy_ns, void (*step)(void))
{
	struct timespec next;
	long start;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		start = thread_cpu_ns();
		while (thread_cpu_ns() - start < busy_ns)
			step();
		next.tv_nsec += PERIOD_NS;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}

static void
parser_step(void)
{
	sink += parse_document(doc);
}

static void
hasher_step(void)
{
	sink += hash_block(sink);
}

static uint32_t sort_v[SORT_N];
static uint32_t sort_rng = 2463534242U;

static void
sorter_step(void)
{
	sort_batch(sort_v, &sort_rng);
	sink += sort_v[SORT_N / 2];
}

static NOINLINE void *
parser_main(void *arg)
{
	(void)arg;
	duty_cycle(PERIOD_NS * 50 / 100, parser_step);
	return NULL;
}

static NOINLINE void *
hasher_main(void *arg)
{
	(void)arg;
	duty_cycle(PERIOD_NS * 30 / 100, hasher_step);
	return NULL;
}

static NOINLINE void *
sorter_main(void *arg)
{
	(void)arg;
	duty_cycle(PERIOD_NS * 20 / 100, sorter_step);
	return NULL;
}

static NOINLINE void *
sleeper_main(void *arg)
{
	struct timespec ts = { 3600, 0 };

	(void)arg;
	for (;;)
		nanosleep(&ts, NULL);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void *(*fn)(void *);
	} threads[] = {
		{ "parser", parser_main },
		{ "hasher", hasher_main },
		{ "sorter", sorter_main },
		{ "sleeper", sleeper_main },
	};
	pthread_t th[4];

	target_init(argc > 1 ? argv[1] : NULL);
	make_document();
	for (int i = 0; i < 4; i++) {
		if (pthread_create(&th[i], NULL, threads[i].fn, NULL) != 0)
			return 1;
		pthread_setname_np(th[i], threads[i].name);
	}
	target_ready();
	pthread_join(th[0], NULL);	/* never returns */
	return 0;
}
