/* watch.c - triggers at work: check the conditions on the sampler
 * thread, write the snapshots on a worker. See watch.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "daemon/clock.h"
#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/proc.h"
#include "daemon/sampler.h"
#include "daemon/snapshot.h"
#include "daemon/target.h"
#include "daemon/textbuf.h"
#include "daemon/watch.h"

#define SEC		 1000000000ULL
#define EVAL_NS		 SEC		/* conditions checked this often */
#define CGROUP_NS	 (10 * SEC)	/* the cgroup looked up again */
#define REFIRE_NS	 (60 * SEC)	/* a trigger fires at most this often */
#define NEAR_DUMP_NS	 (3 * SEC)	/* thread dumps while close */
#define IDLE_DUMP_NS	 (60 * SEC)	/* and otherwise */
#define RING_N		 (TRIGGER_MAX_DUR + 2)	/* one reading a second */
#define QUEUE_N		 8

enum job_kind { JOB_DUMP, JOB_SNAP };

struct job {
	enum job_kind kind;
	size_t trig;
	int64_t wall;
	char fired[768];	/* JSON members: what fired it */
	char state[512];	/* JSON members: rss, cgroup, exit */
};

struct reading {
	uint64_t mono, rss, cpu_ns;
};

struct watch {
	struct target *t;
	const struct trigger *trig;
	size_t ntrig;

	/* the sampler thread's */
	struct reading *ring;
	size_t ringn, ringnext;
	uint64_t next_eval, next_cg, last_dump_req;
	uint64_t last_fire[TRIGGER_MAX];
	struct cgroup_dirs cg;
	bool have_cg, have_oom, said_nolimit, exited;
	uint64_t oom_base;

	/* the worker's queue, under mu (the sampler holds it only to post) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr;
	bool thr_ok, stop;
	struct job q[QUEUE_N];
	size_t qhead, qn;

	/* what the worker keeps: its own, no lock */
	char *dump;
	size_t dump_len;
	int64_t dump_wall;
	unsigned char *mem;
	size_t mem_len;
	int64_t mem_wall;
};

struct watch *
watch_new(struct target *t, const struct trigger *triggers, size_t n)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->ring = calloc(RING_N, sizeof(*w->ring));
	if (!w->ring) {
		free(w);
		return NULL;
	}
	w->t = t;
	w->trig = triggers;
	w->ntrig = n;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	return w;
}

void
watch_stop(struct watch *w)
{
	if (!w || !w->thr_ok)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thr, NULL);
	w->thr_ok = false;
}

void
watch_free(struct watch *w)
{
	if (!w)
		return;
	watch_stop(w);
	free(w->dump);
	free(w->mem);
	free(w->ring);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

/* ---- readings (sampler thread) ----------------------------------------- */

/* Look the cgroup up again (it may have moved); a new memory cgroup
 * gets a new OOM baseline. */
static void
refresh_cgroup(struct watch *w)
{
	struct cgroup_dirs d;
	uint64_t n;

	if (cgroup_dirs(w->t->pid, &d) < 0)
		return;
	if (!w->have_cg || strcmp(d.mem, w->cg.mem) != 0) {
		w->have_oom = cgroup_oom_kills(&d, &n) == 0;
		w->oom_base = w->have_oom ? n : 0;
	}
	w->cg = d;
	w->have_cg = true;
}

/* The JSON members describing the process now (rss, cgroup figures). */
static void
describe_state(struct watch *w, uint64_t rss, char *out, size_t len)
{
	uint64_t usage = 0, limit = 0, oom = 0;
	bool has_limit = false, have_mem, have_oom;
	char lim[32];

	have_mem = w->have_cg &&
		   cgroup_memory(&w->cg, &usage, &limit, &has_limit) == 0;
	have_oom = w->have_cg && cgroup_oom_kills(&w->cg, &oom) == 0;
	if (has_limit)
		snprintf(lim, sizeof(lim), "%" PRIu64, limit);
	else
		snprintf(lim, sizeof(lim), "null");
	if (!have_mem && !have_oom) {
		snprintf(out, len, "\"rss_bytes\":%" PRIu64 ",\"cgroup\":null",
			 rss);
		return;
	}
	snprintf(out, len,
		 "\"rss_bytes\":%" PRIu64 ",\"cgroup\":{\"version\":%d,"
		 "\"usage_bytes\":%" PRIu64 ",\"limit_bytes\":%s,"
		 "\"oom_kill\":%" PRIu64 ",\"oom_kill_at_start\":%" PRIu64 "}",
		 rss, w->cg.mem_v2 ? 2 : 1, usage, lim, oom, w->oom_base);
}

/* Post a job to the worker (dropped, and counted, when the queue is
 * full). */
static void
post(struct watch *w, const struct job *j)
{
	pthread_mutex_lock(&w->mu);
	if (w->qn < QUEUE_N) {
		w->q[(w->qhead + w->qn++) % QUEUE_N] = *j;
		pthread_cond_signal(&w->cv);
	} else {
		log_warn("pid %d: snapshot queue full: a %s job is dropped",
			 (int)w->t->pid, j->kind == JOB_SNAP ? "snapshot" : "dump");
	}
	pthread_mutex_unlock(&w->mu);
}

static void
fire(struct watch *w, size_t i, uint64_t rss, const char *fired)
{
	struct job j;

	memset(&j, 0, sizeof(j));
	j.kind = JOB_SNAP;
	j.trig = i;
	j.wall = wall_now_ns();
	snprintf(j.fired, sizeof(j.fired), "%s", fired);
	describe_state(w, rss, j.state, sizeof(j.state));
	snapshot_fired(w->t->pid, w->trig[i].text);
	/* the history's bucket says it fired (the timeline's marks) */
	if (w->t->hist && history_note_trigger(w->t->hist, w->trig[i].text) < 0)
		log_warn("pid %d: no memory to note trigger %s in the history",
			 (int)w->t->pid, w->trig[i].text);
	log_info("pid %d: trigger %s fired", (int)w->t->pid, w->trig[i].text);
	post(w, &j);
}

static void *worker_main(void *arg);

void
watch_start(struct target *t)
{
	struct watch *w = t->watch;
	int e;

	refresh_cgroup(w);
	e = pthread_create(&w->thr, NULL, worker_main, w);
	w->thr_ok = e == 0;
	if (e != 0)
		log_warn("pid %d: no snapshot thread: %s; triggers will not "
			 "write snapshots",
			 (int)t->pid, strerror(e));
	w->next_cg = mono_ns() + CGROUP_NS;
	w->last_dump_req = 0;
}

/* The reading of about `ago` ns before now: the newest at least that
 * old, or NULL. */
static const struct reading *
reading_before(const struct watch *w, uint64_t now, uint64_t ago)
{
	size_t k;

	for (k = 1; k <= w->ringn; k++) {
		const struct reading *r =
			&w->ring[(w->ringnext + RING_N - k) % RING_N];

		if (now - r->mono >= ago)
			return r;
	}
	return NULL;
}

/* Smallest RSS among the readings of the last `ago` ns. */
static uint64_t
rss_min_since(const struct watch *w, uint64_t now, uint64_t ago)
{
	uint64_t m = UINT64_MAX;
	size_t k;

	for (k = 1; k <= w->ringn; k++) {
		const struct reading *r =
			&w->ring[(w->ringnext + RING_N - k) % RING_N];

		if (now - r->mono > ago)
			break;
		if (r->rss < m)
			m = r->rss;
	}
	return m;
}

/*
 * Check trigger i against the readings: whether it holds (with what
 * fired it in fired[]) and whether it is close (within 10 %), when a
 * thread dump is worth taking in case the process dies.
 */
static bool
check(struct watch *w, size_t i, uint64_t now, uint64_t rss,
      uint64_t cpu_ns, char *fired, size_t flen, bool *near)
{
	const struct trigger *tr = &w->trig[i];
	uint64_t usage, limit, m;
	bool has_limit = false;
	const struct reading *old;
	double cores = 1, v;
	int e;

	switch (tr->kind) {
	case TRIG_RSS:
		*near = rss >= tr->bytes / 10 * 9;
		snprintf(fired, flen,
			 "\"value\":%" PRIu64 ",\"threshold\":%" PRIu64
			 ",\"unit\":\"bytes\"",
			 rss, tr->bytes);
		return rss >= tr->bytes;
	case TRIG_RSS_PCT:
		e = w->have_cg && w->cg.mem[0]
			    ? cgroup_memory(&w->cg, &usage, &limit, &has_limit)
			    : -ENOENT;
		if (e < 0 || !has_limit || limit == 0) {
			if (!w->said_nolimit)
				log_info("pid %d: --trigger %s never fires: %s",
					 (int)w->t->pid, tr->text,
					 !w->have_cg || !w->cg.mem[0]
						 ? "it is in no memory cgroup "
						   "profd can read"
					 : e < 0 ? "its memory cgroup's limit "
						   "cannot be read"
						 : "its memory cgroup has no "
						   "limit");
			w->said_nolimit = true;
			return false;
		}
		v = 100.0 * (double)rss / (double)limit;
		*near = v >= tr->pct * 0.9;
		snprintf(fired, flen,
			 "\"value\":%.2f,\"threshold\":%.2f,\"unit\":\"percent "
			 "of the memory limit\",\"limit_bytes\":%" PRIu64,
			 v, tr->pct, limit);
		return v >= tr->pct;
	case TRIG_RSS_GROWTH:
		m = rss_min_since(w, now, tr->seconds * SEC);
		m = m != UINT64_MAX && rss > m ? rss - m : 0;
		*near = m >= tr->bytes / 10 * 9;
		snprintf(fired, flen,
			 "\"value\":%" PRIu64 ",\"threshold\":%" PRIu64
			 ",\"unit\":\"bytes within %u s\"",
			 m, tr->bytes, tr->seconds);
		return m >= tr->bytes;
	case TRIG_CPU:
		old = reading_before(w, now, tr->seconds * SEC);
		if (!old || now == old->mono)
			return false;
		if (w->have_cg && cgroup_cpu_quota(&w->cg, &cores) != 0)
			cores = 1;
		v = 100.0 * (double)(cpu_ns - old->cpu_ns) /
		    (double)(now - old->mono) / (cores > 0 ? cores : 1);
		snprintf(fired, flen,
			 "\"value\":%.2f,\"threshold\":%.2f,\"unit\":\"percent "
			 "of %.2f core(s) over %u s\"",
			 v, tr->pct, cores, tr->seconds);
		return v >= tr->pct;
	case TRIG_EXIT:
	case TRIG_OOM:
		break;
	}
	return false;
}

void
watch_tick(struct target *t, uint64_t now)
{
	struct watch *w = t->watch;
	struct reading *r;
	char fired[256], state;
	uint64_t rss, cpu_ns;
	bool any_near = false;
	size_t i;
	int code;

	if (w->exited || now < w->next_eval)
		return;
	w->next_eval = now + EVAL_NS;
	if (now >= w->next_cg) {
		refresh_cgroup(w);
		w->next_cg = now + CGROUP_NS;
	}
	if (proc_statm_rss(t->pid, &rss) < 0 ||
	    proc_process_stat(t->pid, &state, &cpu_ns, &code) < 0 || state == 'Z' ||
	    state == 'X')
		return;		/* exiting: the sampler will tell */
	STAT_ADD(t, triggers_checked, 1);
	r = &w->ring[w->ringnext];
	r->mono = now;
	r->rss = rss;
	r->cpu_ns = cpu_ns;
	w->ringnext = (w->ringnext + 1) % RING_N;
	if (w->ringn < RING_N)
		w->ringn++;
	for (i = 0; i < w->ntrig; i++) {
		bool near = false;

		if (!check(w, i, now, rss, cpu_ns, fired, sizeof(fired),
			   &near)) {
			any_near |= near;
			continue;
		}
		any_near = true;
		if (w->last_fire[i] && now - w->last_fire[i] < REFIRE_NS)
			continue;
		w->last_fire[i] = now;
		fire(w, i, rss, fired);
	}
	/* keep a recent thread dump and memory view for exit and oom */
	if (!w->last_dump_req ||
	    now - w->last_dump_req >= (any_near ? NEAR_DUMP_NS : IDLE_DUMP_NS)) {
		struct job j;

		memset(&j, 0, sizeof(j));
		j.kind = JOB_DUMP;
		w->last_dump_req = now;
		post(w, &j);
	}
}

/* What profd can say about how the process ended. */
static void
exit_cause(struct watch *w, bool oom, uint64_t oom_now, char *out,
	   size_t len)
{
	char state = 0;
	uint64_t cpu_ns;
	int code = -1;

	if (proc_process_stat(w->t->pid, &state, &cpu_ns, &code) < 0 || state != 'Z')
		code = -1;
	if (code >= 0 && (code & 0x7f) != 0)
		snprintf(out, len,
			 "\"exit\":{\"known\":true,\"signal\":%d,\"description\":"
			 "\"killed by signal %d (%s)%s\"}",
			 code & 0x7f, code & 0x7f, strsignal(code & 0x7f),
			 oom ? ", by the kernel's OOM killer" : "");
	else if (code >= 0)
		snprintf(out, len,
			 "\"exit\":{\"known\":true,\"status\":%d,\"description\":"
			 "\"exited with status %d\"}",
			 (code >> 8) & 0xff, (code >> 8) & 0xff);
	else if (oom)
		snprintf(out, len,
			 "\"exit\":{\"known\":true,\"signal\":9,\"description\":"
			 "\"killed by the kernel's OOM killer (SIGKILL): the "
			 "cgroup's oom_kill count went from %" PRIu64
			 " to %" PRIu64 "\"}",
			 w->oom_base, oom_now);
	else
		snprintf(out, len,
			 "\"exit\":{\"known\":false,\"description\":\"unknown: "
			 "profd is not its parent, and the process was reaped "
			 "before profd could read its exit status\"}");
}

void
watch_exited(struct target *t)
{
	struct watch *w = t->watch;
	uint64_t oom_now = 0, rss = 0;
	char cause[384], fired[768];
	bool oom;
	size_t i;

	if (w->exited)
		return;
	w->exited = true;
	oom = w->have_oom && w->have_cg &&
	      cgroup_oom_kills(&w->cg, &oom_now) == 0 && oom_now > w->oom_base;
	exit_cause(w, oom, oom_now, cause, sizeof(cause));
	if (w->ringn > 0)
		rss = w->ring[(w->ringnext + RING_N - 1) % RING_N].rss;
	for (i = 0; i < w->ntrig; i++) {
		if (w->trig[i].kind == TRIG_EXIT)
			snprintf(fired, sizeof(fired), "%s", cause);
		else if (w->trig[i].kind == TRIG_OOM && oom)
			snprintf(fired, sizeof(fired),
				 "\"value\":%" PRIu64 ",\"threshold\":%" PRIu64
				 ",\"unit\":\"the cgroup's oom_kill count "
				 "(at start: the threshold)\",%s",
				 oom_now, w->oom_base, cause);
		else
			continue;
		fire(w, i, rss, fired);
	}
	if (oom)
		log_info("pid %d: killed by the kernel's OOM killer (its "
			 "cgroup's oom_kill count went from %" PRIu64
			 " to %" PRIu64 ")",
			 (int)t->pid, w->oom_base, oom_now);
}

/* ---- the worker --------------------------------------------------------- */

/* A profile reply, encoded (gzip pprof) into *out. */
static int
encode_reply(struct http_reply *r, unsigned char **out, size_t *len)
{
	int e = -ENOENT;

	if (r->status == 200 && r->profile)
		e = pprof_encode(r->profile, true, out, len);
	pprof_free(r->profile);
	free(r->text);
	memset(r, 0, sizeof(*r));
	return e;
}

/* Take a thread dump and a memory view now and keep them. */
static void
take_dump(struct watch *w)
{
	struct http_reply r;
	unsigned char *mem;
	size_t mlen;
	char comm[64];

	memset(&r, 0, sizeof(r));
	target_threads(w->t, 2, false, &r);
	if (r.status == 200 && r.text) {
		free(w->dump);
		w->dump = r.text;
		w->dump_len = r.text_len;
		w->dump_wall = wall_now_ns();
		r.text = NULL;
	}
	pprof_free(r.profile);
	free(r.text);
	memset(&r, 0, sizeof(r));
	target_comm(w->t, comm, sizeof(comm));
	memory_view(w->t->pid, comm, &r);
	if (encode_reply(&r, &mem, &mlen) == 0) {
		free(w->mem);
		w->mem = mem;
		w->mem_len = mlen;
		w->mem_wall = wall_now_ns();
	}
}

/* One kind of the whole history, encoded. */
static int
history_file(struct watch *w, enum http_profile_kind kind,
	     unsigned char **out, size_t *len)
{
	struct http_history_req req;
	struct http_reply r;

	memset(&req, 0, sizeof(req));
	req.kind = kind;
	req.pid = w->t->pid;
	req.since = req.until = INT64_MIN;
	memset(&r, 0, sizeof(r));
	target_history(w->t, &req, &r);
	return encode_reply(&r, out, len);
}

/*
 * Write the snapshot of job j: the three kinds of history, a thread dump
 * and the memory view (taken now for a live process; for exit and oom,
 * the last ones kept), and the manifest that says which is which.
 */
static void
write_snapshot(struct watch *w, const struct job *j)
{
	static const struct {
		const char *file;
		enum http_profile_kind kind;
	} hist[] = {
		{ "cpu.pb.gz", HTTP_PROFILE_CPU },
		{ "wall.pb.gz", HTTP_PROFILE_WALL },
		{ "growth.pb.gz", HTTP_PROFILE_GROWTH },
	};
	const struct trigger *tr = &w->trig[j->trig];
	bool dead = tr->kind == TRIG_EXIT || tr->kind == TRIG_OOM;
	unsigned char *prof[3] = { NULL, NULL, NULL };
	struct snap_file f[6];
	struct textbuf m = { 0 };
	char name[64], when[32], dumpt[32], memt[32], dir[400];
	size_t nf = 0, i, plen[3];

	if (!dead)
		take_dump(w);
	target_snap_name(w->t, name, sizeof(name));
	wall_rfc3339(j->wall, when, sizeof(when));
	for (i = 0; i < 3; i++)
		if (history_file(w, hist[i].kind, &prof[i], &plen[i]) == 0)
			f[nf++] = (struct snap_file){ hist[i].file, prof[i],
						      plen[i] };
	wall_rfc3339(w->dump_wall, dumpt, sizeof(dumpt));
	wall_rfc3339(w->mem_wall, memt, sizeof(memt));
	if (w->dump)
		f[nf++] = (struct snap_file){ "threads.txt", w->dump,
					      w->dump_len };
	if (w->mem)
		f[nf++] = (struct snap_file){ "memory.pb.gz", w->mem,
					      w->mem_len };
	textbuf_printf(&m,
		       "{\n\"profd_version\":\"%s\",\n\"trigger\":\"%s\",\n"
		       "\"fired\":{%s},\n\"pid\":%d,\n\"name\":\"",
		       PROFD_VERSION, tr->text, j->fired, (int)w->t->pid);
	snapshot_safe_name(name, dir, sizeof(dir));
	textbuf_printf(&m, "%s\",\n", dir);
	/* the service's name is plain ([A-Za-z0-9._-], registry.c) */
	if (w->t->service[0])
		textbuf_printf(&m, "\"service\":\"%s\",\n", w->t->service);
	textbuf_printf(&m,
		       "\"time\":\"%s\",\n\"time_unix_ns\":%" PRId64 ",\n%s,\n",
		       when, j->wall, j->state);
	textbuf_printf(&m,
		       "\"history\":\"the whole recorded history of each "
		       "kind: cpu.pb.gz, wall.pb.gz, growth.pb.gz\",\n"
		       "\"threads_txt\":\"%s%s\",\n\"memory_pb_gz\":\"%s%s\"\n}\n",
		       !w->dump ? "none: no thread dump could be taken"
		       : dead	? "the last thread dump taken before the exit, at "
				: "taken when the trigger fired, at ",
		       w->dump ? dumpt : "",
		       !w->mem ? "none: the memory view could not be read"
		       : dead  ? "the last memory view read before the exit, at "
			       : "read when the trigger fired, at ",
		       w->mem ? memt : "");
	if (!m.oom) {
		f[nf++] = (struct snap_file){ "manifest.json", m.s, m.len };
		(void)snapshot_write(name, w->t->pid, j->wall, tr->safe, f, nf,
				     dir, sizeof(dir));
	}
	free(m.s);
	for (i = 0; i < 3; i++)
		free(prof[i]);
}

static void *
worker_main(void *arg)
{
	struct watch *w = arg;
	struct job j;

	prctl(PR_SET_NAME, "profd-watch", 0, 0, 0);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->qn == 0 && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->qn == 0)
			break;
		j = w->q[w->qhead];
		w->qhead = (w->qhead + 1) % QUEUE_N;
		w->qn--;
		pthread_mutex_unlock(&w->mu);
		if (j.kind == JOB_DUMP) {
			if (!w->stop)
				take_dump(w);
		} else {
			write_snapshot(w, &j);
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}
