/* cli.c - profd dump, record and top: see cli.h.
 *
 * Each command makes a registry of one target (the checks and messages
 * of the server's --pid), runs its windows on a worker thread through the
 * target's API as an HTTP worker would, and waits on the main thread for
 * the worker, the signals (a signalfd) and, for record -- COMMAND, the
 * reaper's reports. Nothing listens on a socket.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "daemon/cli.h"
#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/registry.h"
#include "http/http.h"

/* ---- record -- COMMAND: the reaper ---------------------------------------- */

/* What the reaper reports, one write each (atomic on a pipe). */
struct report {
	char kind;		/* 'p': pid, 'e': exec failed (errno), 's':
				   wait status */
	int value;
};

static void
report(int fd, char kind, int value)
{
	struct report r = { kind, value };

	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r)) {
		/* profd is gone: nobody to tell */
	}
}

/* The reaper: fork COMMAND, report its PID once exec succeeded (its
 * close-on-exec pipe reads end-of-file) or the errno of a failed exec,
 * then its wait status. Ctrl-C is for COMMAND and profd, not for it. */
static _Noreturn void
reaper(char **command, int fd)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, oint, oquit;
	int ep[2], st, e = 0;
	pid_t pid;

	sigaction(SIGINT, &ign, &oint);
	sigaction(SIGQUIT, &ign, &oquit);
	if (pipe2(ep, O_CLOEXEC) < 0) {
		report(fd, 'e', errno);
		_exit(127);
	}
	pid = fork();
	if (pid < 0) {
		report(fd, 'e', errno);
		_exit(127);
	}
	if (pid == 0) {
		close(fd);
		close(ep[0]);
		/* as profd found them (a shell's background job ignores
		 * both) */
		sigaction(SIGINT, &oint, NULL);
		sigaction(SIGQUIT, &oquit, NULL);
		execvp(command[0], command);
		e = errno;
		if (write(ep[1], &e, sizeof(e)) < 0) {
			/* the reaper reads end-of-file and waits */
		}
		_exit(127);
	}
	close(ep[1]);
	if (read(ep[0], &e, sizeof(e)) == (ssize_t)sizeof(e))
		report(fd, 'e', e);
	else
		report(fd, 'p', (int)pid);
	close(ep[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			st = 127 << 8;
			break;
		}
	report(fd, 's', st);
	_exit(0);
}

int
cli_spawn(const struct config *c, struct cli_child *ch)
{
	int p[2];

	ch->reaper = 0;
	ch->fd = -1;
	ch->out = -1;
	if (c->cmd != CMD_RECORD)
		return 0;
	ch->out = strcmp(c->output, "-") == 0
			  ? STDOUT_FILENO
			  : open(c->output,
				 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ch->out < 0) {
		log_warn("cannot write %s", c->output);
		return 1;
	}
	if (!c->command)
		return 0;
	if (pipe(p) < 0) {
		log_warn("cannot start %s: pipe", c->command[0]);
		return 1;
	}
	ch->reaper = fork();
	if (ch->reaper < 0) {
		log_warn("cannot start %s: fork", c->command[0]);
		return 1;
	}
	if (ch->reaper == 0) {
		close(p[0]);
		reaper(c->command, p[1]);
	}
	close(p[1]);
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	ch->fd = p[0];
	return 0;
}

/* The next report of the reaper (blocks). false at end-of-file. */
static bool
read_report(int fd, struct report *r)
{
	ssize_t n;

	do
		n = read(fd, r, sizeof(*r));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*r);
}

/* The exit status profd passes on for wait status st. */
static int
exit_status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

/* ---- the target -------------------------------------------------------- */

struct cli {
	const struct config *c;
	struct registry *reg;
	struct target *t;
	pid_t pid;
	int sigfd;		/* signalfd of the blocked signals */
	int donefd;		/* eventfd: the worker has finished */
	bool quit;		/* the worker stops starting windows;
				   atomic */
};

/* A registry of one target for pid: the server's checks and messages. */
static int
cli_open(struct cli *x, const struct target_opts *o, pid_t pid,
	 const sigset_t *set)
{
	struct http_reply r;
	char err[PROFD_ERRLEN];

	x->pid = pid;
	x->sigfd = signalfd(-1, set, SFD_CLOEXEC);
	x->donefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->reg = registry_new(o, false, 1);
	if (x->sigfd < 0 || x->donefd < 0 || !x->reg) {
		log_warn("cannot start");
		return -1;
	}
	if (registry_add_pid(x->reg, pid, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return -1;
	}
	if (registry_start(x->reg) < 0) {
		log_warnx("cannot start the sampler");
		return -1;
	}
	memset(&r, 0, sizeof(r));
	x->t = registry_get(x->reg, pid, &r);
	if (!x->t) {
		log_warnx("%s", r.msg);
		return -1;
	}
	return 0;
}

static void
cli_close(struct cli *x)
{
	if (x->t)
		registry_put(x->reg, x->t);
	x->t = NULL;
	registry_free(x->reg);	/* lets go of every thread */
	x->reg = NULL;
	if (x->sigfd >= 0)
		close(x->sigfd);
	if (x->donefd >= 0)
		close(x->donefd);
}

static void
signal_done(struct cli *x)
{
	uint64_t one = 1;

	if (write(x->donefd, &one, sizeof(one)) < 0)
		log_warn("eventfd");
}

/* Whether fd has something to read now, after poll() filled pfd. */
static bool
readable(const struct pollfd *pfd)
{
	return pfd->fd >= 0 && (pfd->revents & (POLLIN | POLLHUP | POLLERR));
}

/* A signal from the signalfd: SIGINT and SIGTERM end the command; 0 for
 * the others. */
static int
take_signal(struct cli *x)
{
	struct signalfd_siginfo si;

	if (read(x->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
		return (int)si.ssi_signo;
	return 0;
}

/* ---- profd dump -------------------------------------------------------- */

static int
cmd_dump(struct cli *x)
{
	struct http_reply r;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	target_threads(x->t, 2, false, &r);
	if (r.status != 200) {
		log_warnx("pid %d: %s", (int)x->pid, r.msg);
		rc = 1;
	} else if (fwrite(r.text, 1, r.text_len, stdout) != r.text_len ||
		   fflush(stdout) != 0) {
		log_warn("stdout");
		rc = 1;
	}
	free(r.text);
	pprof_free(r.profile);
	return rc;
}

/* ---- profd record -------------------------------------------------------- */

struct rec {
	struct cli *x;
	struct http_profile_req req;
	struct http_reply r;
};

/*
 * The record window, on its own thread. A window ends early, with the
 * samples it has, when the process execs another program (session.c);
 * `record -- sh -c 'exec prog'`, env, nice and other wrappers do that at
 * once. While the process lives and nobody asked to stop, a window that
 * ended before its time is such an exec: the profile starts again with
 * the new program, for what remains of --seconds, and the wrapper's few
 * samples are dropped.
 */
static void *
record_worker(void *arg)
{
	struct rec *w = arg;
	struct cli *x = w->x;
	uint64_t start = mono_ns(), want = (uint64_t)w->req.seconds * 1000000000ULL;

	for (;;) {
		uint64_t ran;

		target_profile(x->t, &w->req, &w->r);
		ran = mono_ns() - start;
		if (__atomic_load_n(&x->quit, __ATOMIC_ACQUIRE) ||
		    !target_alive(x->t) || ran + 100000000ULL >= want ||
		    (w->r.status != 200 && w->r.status != 503))
			break;
		log_verbose("pid %d: the window ended after %.1f s with the "
			    "process alive: it exec'd; starting again",
			    (int)x->pid, (double)ran / 1e9);
		pprof_free(w->r.profile);
		free(w->r.text);
		memset(&w->r, 0, sizeof(w->r));
		w->req.seconds = (unsigned)((want - ran) / 1000000000ULL);
		if (w->req.seconds == 0)
			w->req.seconds = 1;
	}
	signal_done(x);
	return NULL;
}

/* Drop record's output: no profile. A file we made empty goes. */
static void
discard_output(const struct config *c, struct cli_child *ch)
{
	if (ch->out > STDOUT_FILENO) {
		close(ch->out);
		unlink(c->output);
	}
	ch->out = -1;
}

/* Write profile p in c->format to ch->out, which it closes. */
static int
write_profile(const struct config *c, struct cli_child *ch,
	      const struct pprof *p)
{
	unsigned char *buf = NULL;
	char *text = NULL;
	size_t len = 0, off;
	int e, fd = ch->out;

	if (c->format == FORMAT_FOLDED)
		e = pprof_folded(p, &text, &len);
	else if (c->format == FORMAT_SVG)
		e = http_flame_svg(p, "profd record", &text, &len);
	else
		e = pprof_encode(p, true, &buf, &len);
	if (e < 0) {
		errno = -e;
		log_warn("cannot encode the profile");
		discard_output(c, ch);
		return -1;
	}
	if (text)
		buf = (unsigned char *)text;
	ch->out = -1;
	e = 0;
	for (off = 0; e == 0 && off < len;) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			e = -1;
		else
			off += (size_t)n;
	}
	if (fd > STDOUT_FILENO && close(fd) < 0)
		e = -1;
	if (e < 0)
		log_warn("cannot write %s", c->output);
	free(buf);
	return e;
}

/* The progress line on a terminal: \r, so that it rewrites itself. */
static void
progress(struct cli *x, uint64_t start, uint64_t samples0)
{
	struct target_stats st;

	target_stats(x->t, &st);
	fprintf(stderr,
		"\rprofd: recording pid %d: %.0f s, %" PRIu64
		" samples (Ctrl-C to stop) ",
		(int)x->pid, (double)(mono_ns() - start) / 1e9,
		st.sampler.samples - samples0);
}

/* Wait for the record worker, on the main thread: a signal or the
 * command's end ends the window early (the worker then writes what it
 * has); a progress line every second on a terminal. *status: the
 * command's wait status once the reaper has reported it, else -1. */
static void
record_wait(struct cli *x, struct cli_child *ch, int *status)
{
	bool tty = isatty(STDERR_FILENO), ending = false;
	uint64_t start = mono_ns(), one;
	struct target_stats st;
	struct pollfd pfd[3];

	target_stats(x->t, &st);
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = x->donefd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = x->sigfd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = *status < 0 ? ch->fd : -1,
					  .events = POLLIN };
		if (tty)
			progress(x, start, st.sampler.samples);
		if (poll(pfd, 3, ending ? 100 : 1000) < 0 && errno != EINTR)
			break;
		if (readable(&pfd[0]) &&
		    read(x->donefd, &one, sizeof(one)) == sizeof(one))
			break;
		if (readable(&pfd[1]) && take_signal(x))
			ending = true;
		if (readable(&pfd[2])) {
			struct report r;

			if (!read_report(ch->fd, &r) || r.kind != 's')
				r.value = 127 << 8;
			*status = r.value;
			ending = true;
		}
		/* again at each pass: a window just starting is in no list */
		if (ending) {
			__atomic_store_n(&x->quit, true, __ATOMIC_RELEASE);
			target_end_windows(x->t);
		}
	}
	if (tty)
		fputc('\n', stderr);
}

/* What record says when it is done, on stderr. */
static void
record_summary(const struct config *c, const struct pprof *p)
{
	int64_t n = 0;
	size_t i;

	for (i = 0; i < p->n_samples; i++)
		if (p->samples[i].n_values > 0)
			n += p->samples[i].values[0];
	fprintf(stderr, "profd: wrote %s: %s, %" PRId64 " samples in %.1f s\n",
		c->output, c->format == FORMAT_FOLDED ? "folded stacks"
		: c->format == FORMAT_SVG ? "a flame graph (SVG)" : "pprof",
		n, (double)p->duration_nanos / 1e9);
	if (n == 0 && !c->wall)
		fprintf(stderr, "profd: no thread of the process used the CPU "
				"(processes it started are not profiled)\n");
}

static int
cmd_record(struct cli *x, struct cli_child *ch)
{
	const struct config *c = x->c;
	struct rec w;
	pthread_t th;
	int status = -1, rc = 0, e;

	memset(&w, 0, sizeof(w));
	w.x = x;
	w.req.kind = c->wall ? HTTP_PROFILE_WALL : HTTP_PROFILE_CPU;
	w.req.pid = x->pid;
	/* no --seconds: until the process exits or Ctrl-C */
	w.req.seconds = c->seconds ? c->seconds : 100000000;
	w.req.hz = c->hz;
	e = pthread_create(&th, NULL, record_worker, &w);
	if (e != 0) {
		errno = e;
		log_warn("cannot start a thread");
		return 1;
	}
	record_wait(x, ch, &status);
	pthread_join(th, NULL);
	if (w.r.status != 200) {
		log_warnx("pid %d: no profile: %s", (int)x->pid, w.r.msg);
		discard_output(c, ch);
		rc = 1;
	} else if (write_profile(c, ch, w.r.profile) < 0) {
		rc = 1;
	} else {
		record_summary(c, w.r.profile);
	}
	pprof_free(w.r.profile);
	free(w.r.text);
	if (ch->fd >= 0) {
		struct report r;

		/* the window ended first (--seconds): the command goes on,
		 * with our terminal, and its status is ours */
		if (status < 0)
			status = read_report(ch->fd, &r) && r.kind == 's'
					 ? r.value
					 : 127 << 8;
		rc = exit_status_of(status);
	}
	return rc;
}

/* ---- profd top ------------------------------------------------------------ */

/* One function's line: CPU where it is the leaf (self) and anywhere in
 * the stack (total), in the profile's first value (samples). */
struct top_fn {
	const char *name;	/* the frame's profile's strings */
	int64_t self, total;
};

/* One refresh: the last window's functions, busiest first. */
struct top_frame {
	struct pprof *p;	/* owns the names */
	struct top_fn *fn;
	size_t nfn;
	int64_t samples;
	double seconds;
	unsigned threads;
};

static void
frame_free(struct top_frame *f)
{
	pprof_free(f->p);
	free(f->fn);
	memset(f, 0, sizeof(*f));
}

static int
fn_cmp(const void *a, const void *b)
{
	const struct top_fn *x = a, *y = b;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* The functions of profile p by name, self and total samples: an array
 * indexed by the name's string, counting each sample once per name. */
static int
top_functions(struct top_frame *f)
{
	const struct pprof *p = f->p;
	struct top_fn *by = calloc(p->n_strings + 1, sizeof(*by));
	size_t *seen = calloc(p->n_strings + 1, sizeof(*seen));
	size_t i, j, k, n = 0;

	if (!by || !seen) {
		free(by);
		free(seen);
		return -ENOMEM;
	}
	for (i = 0; i < p->n_samples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		int64_t v = s->n_values ? s->values[0] : 0;
		bool leaf = true;

		f->samples += v;
		for (j = 0; j < s->n_locations; j++) {
			uint64_t lid = s->location_ids[j];
			const struct pprof_location *l;

			if (lid == 0 || lid > p->n_locations)
				continue;
			l = &p->locations[lid - 1];
			for (k = 0; k < l->n_lines; k++) {
				uint64_t fid = l->lines[k].function_id;
				int64_t si;

				if (fid == 0 || fid > p->n_functions)
					continue;
				si = p->functions[fid - 1].name;
				if (si <= 0 || (size_t)si >= p->n_strings)
					continue;
				by[si].name = p->strings[si];
				if (leaf)
					by[si].self += v;
				leaf = false;
				if (seen[si] != i + 1)
					by[si].total += v;
				seen[si] = i + 1;
			}
		}
	}
	for (i = 0; i < p->n_strings; i++)
		if (by[i].name)
			by[n++] = by[i];
	free(seen);
	qsort(by, n, sizeof(*by), fn_cmp);
	f->fn = by;
	f->nfn = n;
	return 0;
}

static unsigned
count_threads(pid_t pid)
{
	char path[64];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct top {
	struct cli *x;
	pthread_mutex_t mu;
	struct top_frame next;	/* the newest, not shown yet; under mu */
	char err[HTTP_ERRLEN];	/* why the worker stopped; under mu */
};

/* One-second CPU windows back to back until x->quit, each handed over
 * as the next frame. */
static void *
top_worker(void *arg)
{
	struct top *tp = arg;
	struct cli *x = tp->x;
	struct http_profile_req req;
	struct http_reply r;
	struct top_frame f;

	memset(&req, 0, sizeof(req));
	req.kind = HTTP_PROFILE_CPU;
	req.pid = x->pid;
	req.seconds = 1;
	req.hz = x->c->hz;
	while (!__atomic_load_n(&x->quit, __ATOMIC_ACQUIRE)) {
		memset(&r, 0, sizeof(r));
		target_profile(x->t, &req, &r);
		free(r.text);
		if (__atomic_load_n(&x->quit, __ATOMIC_ACQUIRE)) {
			pprof_free(r.profile);
			break;
		}
		memset(&f, 0, sizeof(f));
		f.p = r.profile;
		/* a window without a sample (every thread asleep) is an
		 * empty frame, not an error */
		if (r.status != 200 && r.status != 404) {
			pthread_mutex_lock(&tp->mu);
			snprintf(tp->err, sizeof(tp->err), "%s", r.msg);
			pthread_mutex_unlock(&tp->mu);
			pprof_free(r.profile);
			break;
		}
		f.seconds = f.p ? (double)f.p->duration_nanos / 1e9 : 1.0;
		f.threads = count_threads(x->pid);
		if (f.p && top_functions(&f) < 0) {
			frame_free(&f);
			continue;
		}
		if (!f.p && !target_alive(x->t)) {
			pthread_mutex_lock(&tp->mu);
			snprintf(tp->err, sizeof(tp->err), "%s", r.msg);
			pthread_mutex_unlock(&tp->mu);
			break;
		}
		pthread_mutex_lock(&tp->mu);
		frame_free(&tp->next);
		tp->next = f;
		pthread_mutex_unlock(&tp->mu);
		signal_done(x);
	}
	signal_done(x);
	return NULL;
}

/* The terminal as top found it, restored at exit, whatever the path. */
static struct termios saved_tio;
static bool tio_saved;

static void
term_restore(void)
{
	if (!tio_saved)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	/* cursor back, normal screen */
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tio_saved = false;
}

/* Keys one at a time, no echo; Ctrl-C still signals (taken by the
 * signalfd). The alternate screen keeps the shell's screen intact. */
static int
term_raw(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return -1;
	t = saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0)
		return -1;
	tio_saved = true;
	atexit(term_restore);
	fputs("\033[?1049h\033[?25l", stdout);
	fflush(stdout);
	return 0;
}

/* Draw frame f: a header, then as many functions as the terminal has
 * rows for, each line cut to its width. */
static void
top_draw(struct cli *x, const struct top_frame *f)
{
	struct winsize ws = { 0 };
	unsigned rows = 24, cols = 80, i, n;
	int64_t all = f->samples > 0 ? f->samples : 1;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	if (cols > 512)
		cols = 512;
	printf("\033[H\033[2J");
	printf("%.*s\r\n", (int)cols, "profd top: press q to quit");
	printf("pid %d   threads %u   %.0f samples/s   CPU %.2f cores\r\n\r\n",
	       (int)x->pid, f->threads,
	       f->seconds > 0 ? (double)f->samples / f->seconds : 0.0,
	       f->seconds > 0 && x->c->hz
		       ? (double)f->samples / f->seconds / x->c->hz
		       : 0.0);
	printf("%.*s\r\n", (int)cols, "  %Self %Total   Self  Total  Function");
	n = rows > 6 ? rows - 5 : 1;
	for (i = 0; i < f->nfn && i < n; i++) {
		char line[600];
		const struct top_fn *fn = &f->fn[i];

		snprintf(line, sizeof(line), "%6.1f %6.1f %6" PRId64
			 " %6" PRId64 "  %s",
			 100.0 * (double)fn->self / (double)all,
			 100.0 * (double)fn->total / (double)all, fn->self,
			 fn->total, fn->name);
		printf("%.*s\r\n", (int)cols, line);
	}
	if (f->nfn == 0)
		printf("(no thread used the CPU in the last second)\r\n");
	fflush(stdout);
}

/* The main thread's side of top: keys, signals, frames. Returns when
 * 'q', Ctrl-C or SIGTERM asks, or the worker stops (*why then). */
static void
top_loop(struct top *tp, struct cli *x)
{
	struct top_frame f = { 0 };
	struct pollfd pfd[3];
	uint64_t one;
	char key;

	printf("\033[H\033[2Jprofd top: pid %d, first sample in a "
	       "second...\r\n",
	       (int)x->pid);
	fflush(stdout);
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = x->sigfd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = x->donefd, .events = POLLIN };
		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			break;
		if (readable(&pfd[0])) {
			if (read(STDIN_FILENO, &key, 1) != 1 || key == 'q' ||
			    key == 'Q')
				break;
		}
		if (readable(&pfd[1]) && take_signal(x))
			break;
		if (readable(&pfd[2]) &&
		    read(x->donefd, &one, sizeof(one)) == sizeof(one)) {
			bool stopped;

			pthread_mutex_lock(&tp->mu);
			if (tp->next.fn || tp->next.threads) {
				frame_free(&f);
				f = tp->next;
				memset(&tp->next, 0, sizeof(tp->next));
			}
			stopped = tp->err[0] != '\0';
			pthread_mutex_unlock(&tp->mu);
			if (stopped)
				break;
			if (f.threads)
				top_draw(x, &f);
		}
	}
	frame_free(&f);
}

static int
cmd_top(struct cli *x)
{
	struct top tp;
	pthread_t th;
	int e;

	memset(&tp, 0, sizeof(tp));
	tp.x = x;
	pthread_mutex_init(&tp.mu, NULL);
	if (term_raw() < 0) {
		log_warn("cannot set the terminal");
		return 1;
	}
	e = pthread_create(&th, NULL, top_worker, &tp);
	if (e != 0) {
		term_restore();
		errno = e;
		log_warn("cannot start a thread");
		return 1;
	}
	top_loop(&tp, x);
	__atomic_store_n(&x->quit, true, __ATOMIC_RELEASE);
	target_end_windows(x->t);
	/* the worker may be between windows: end the next one too */
	while (pthread_tryjoin_np(th, NULL) == EBUSY) {
		struct timespec ms = { 0, 10000000 };

		target_end_windows(x->t);
		nanosleep(&ms, NULL);
	}
	term_restore();
	frame_free(&tp.next);
	pthread_mutex_destroy(&tp.mu);
	if (tp.err[0]) {
		log_warnx("pid %d: %s", (int)x->pid, tp.err);
		return 1;
	}
	return 0;
}

/* ---- entry ------------------------------------------------------------- */

/* The PID of record -- COMMAND, once its exec succeeded; -1 with the
 * exit status in *rc when it did not. */
static pid_t
command_pid(const struct config *c, struct cli_child *ch, int *rc)
{
	struct report r;

	if (!read_report(ch->fd, &r)) {
		log_warnx("cannot start %s", c->command[0]);
		*rc = 127;
		return -1;
	}
	if (r.kind == 'e') {
		errno = r.value;
		log_warn("cannot run %s", c->command[0]);
		*rc = r.value == ENOENT ? 127 : 126;
		return -1;
	}
	return (pid_t)r.value;
}

int
cli_main(const struct config *c, const struct target_opts *o,
	 const sigset_t *set, struct cli_child *ch)
{
	struct cli x;
	pid_t pid = c->npids ? c->pids[0] : 0;
	int rc = 1;

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.sigfd = x.donefd = -1;
	if (c->cmd == CMD_TOP &&
	    (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		log_warnx("profd top needs a terminal; for a file, use profd "
			  "record -o FILE");
		return 1;
	}
	if (ch->fd >= 0) {
		pid = command_pid(c, ch, &rc);
		if (pid < 0) {
			discard_output(c, ch);
			return rc;
		}
	}
	if (cli_open(&x, o, pid, set) < 0) {
		cli_close(&x);
		discard_output(c, ch);
		if (ch->fd >= 0) {
			struct report r;

			/* the command runs on without us: its status */
			if (read_report(ch->fd, &r) && r.kind == 's')
				return exit_status_of(r.value);
		}
		return 1;
	}
	switch (c->cmd) {
	case CMD_DUMP:
		rc = cmd_dump(&x);
		break;
	case CMD_RECORD:
		rc = cmd_record(&x, ch);
		break;
	case CMD_TOP:
		rc = cmd_top(&x);
		break;
	case CMD_SERVE:
		break;
	}
	cli_close(&x);
	discard_output(c, ch);	/* unused: a failure before the window */
	if (ch->fd >= 0)
		close(ch->fd);
	if (ch->reaper > 0)
		waitpid(ch->reaper, NULL, 0);
	return rc;
}
