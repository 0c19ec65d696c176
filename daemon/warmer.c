/* warmer.c - symbolize while sampling.
 *
 * The first lookup in a binary with a lot of DWARF loads its CU ranges and
 * line tables, which can take seconds; done only when the window ends, it
 * delays the answer by as much (a scraper's 10 s window must be answered
 * within ~3 s: reference/pprof-compat.md 5.1). The sampler hands every PC
 * it has not seen before to this thread, which resolves it into
 * symbolize/'s cache while the window is still open; the export then finds
 * everything cached. The queue is bounded and never blocks the sampler:
 * when it is full, the PC is left for the export to resolve.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "daemon/warmer.h"
#include "symbolize/symbolize.h"

#define WARM_QUEUE 65536

struct warm_item {
	struct elfimg *img;	/* referenced */
	uint64_t vaddr;
};

struct warmer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct warm_item *q;
	size_t head, tail, n;	/* ring of WARM_QUEUE items */
	bool stop;
	uint64_t done, dropped;
};

static void *
warmer_main(void *arg)
{
	struct warmer *w = arg;

	prctl(PR_SET_NAME, "profd-warmer", 0, 0, 0);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct warm_item it;
		struct sym_info si;

		while (w->n == 0 && !w->stop)
			pthread_cond_wait(&w->cond, &w->mu);
		if (w->stop)
			break;
		it = w->q[w->head];
		w->head = (w->head + 1) % WARM_QUEUE;
		w->n--;
		pthread_mutex_unlock(&w->mu);
		symbolize(it.img, it.vaddr, &si);
		elfimg_put(it.img);
		pthread_mutex_lock(&w->mu);
		w->done++;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct warmer *
warmer_new(void)
{
	pthread_attr_t attr;
	struct warmer *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->q = calloc(WARM_QUEUE, sizeof(*w->q));
	if (!w->q) {
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	/* libdw needs a full-size stack (see run_big_stack() in target.c) */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 16u << 20);
	r = pthread_create(&w->thread, &attr, warmer_main, w);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cond);
		free(w->q);
		free(w);
		errno = r;
		return NULL;
	}
	return w;
}

void
warmer_push(struct warmer *w, struct elfimg *img, uint64_t vaddr)
{
	pthread_mutex_lock(&w->mu);
	if (w->n == WARM_QUEUE || w->stop) {
		w->dropped++;
		pthread_mutex_unlock(&w->mu);
		elfimg_put(img);
		return;
	}
	w->q[w->tail].img = img;
	w->q[w->tail].vaddr = vaddr;
	w->tail = (w->tail + 1) % WARM_QUEUE;
	w->n++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

void
warmer_free(struct warmer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	while (w->n > 0) {
		elfimg_put(w->q[w->head].img);
		w->head = (w->head + 1) % WARM_QUEUE;
		w->n--;
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	free(w->q);
	free(w);
}
