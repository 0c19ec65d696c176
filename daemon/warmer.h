/* warmer.h - symbolize while sampling (warmer.c): a thread that resolves
 * the PCs a window has seen into symbolize/'s cache while the window is
 * still open, so that the export finds them cached.
 *
 * Ownership: the creator owns the warmer (warmer_new/warmer_free).
 * Threads: warmer_push() from the sampler thread; warmer_new() and
 * warmer_free() from the thread that owns it. Never logs.
 */
#ifndef PROFD_WARMER_H
#define PROFD_WARMER_H

#include <stdint.h>

struct elfimg;
struct warmer;

/* Start the thread. NULL with errno set (ENOMEM, or pthread_create's). */
struct warmer *warmer_new(void);

/* Queue (img, vaddr); takes over the caller's reference to img. Never
 * blocks: a full queue drops the item (the export resolves it later). */
void warmer_push(struct warmer *w, struct elfimg *img, uint64_t vaddr);

/* Stop the thread, drop what is queued (their references too), free w.
 * Accepts NULL. */
void warmer_free(struct warmer *w);

#endif /* PROFD_WARMER_H */
