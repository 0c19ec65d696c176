/* snapshot.c - snapshot directories: write atomically, prune, list and
 * serve, count. See snapshot.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/snapshot.h"

/* Snapshots listed at most, files per snapshot served at most, and the
 * largest file served. */
#define LIST_MAX	4096
#define FILE_MAX	(512u << 20)
#define FIRED_MAX	256		/* {pid, trigger} series kept */

/* write_mu: one snapshot written (and pruned) at a time; mu: the
 * counters, held briefly (the sampler threads count what fires). */
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char outdir[512];
static unsigned keep_n;
static uint64_t written, errors;
static struct {
	pid_t pid;
	char expr[64];
	uint64_t n;
} fired[FIRED_MAX];
static size_t nfired, fired_next;

static bool
safe_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* A name listed and served: safe characters only, not hidden. */
static bool
safe_entry(const char *s)
{
	if (!s[0] || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!safe_char(*s))
			return false;
	return true;
}

void
snapshot_safe_name(const char *name, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < outlen; i++)
		out[i] = safe_char(name[i]) ? name[i] : '_';
	out[i] = '\0';
	if (i == 0 || out[0] == '.' || out[0] == '-')
		snprintf(out, outlen, "process%s", i ? out : "");
}

/* Remove directory dir/name and the files in it. */
static int
remove_tree(const char *dir, const char *name)
{
	char path[1100];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	return rmdir(path) < 0 ? -errno : 0;
}

int
snapshot_init(const char *dir, unsigned keep, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "--output-dir %s: %s", dir,
			 strerror(errno));
		return -errno;
	}
	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "--output-dir %s: %s", dir,
			 strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".tmp-", 5) == 0)
			(void)remove_tree(dir, de->d_name);
	closedir(d);
	if (access(dir, W_OK) < 0) {
		snprintf(err, errlen, "--output-dir %s: not writable: %s", dir,
			 strerror(errno));
		return -EACCES;
	}
	snprintf(outdir, sizeof(outdir), "%s", dir);
	keep_n = keep;
	return 0;
}

/* Where the UTC time sits in a snapshot's name: "-YYYYMMDDTHHMMSSZ-",
 * the last such; NULL when there is none. */
static const char *
name_time(const char *s)
{
	const char *p, *found = NULL;
	int i;

	for (p = s; *p; p++) {
		if (*p != '-' || strlen(p) < 18)
			continue;
		for (i = 1; i <= 15; i++)
			if (i == 9 ? p[i] != 'T'
				   : (p[i] < '0' || p[i] > '9'))
				break;
		if (i == 16 && p[16] == 'Z' && p[17] == '-')
			found = p;
	}
	return found;
}

struct ent {
	char name[256];
	size_t time;		/* where name_time() found it */
	struct timespec mtime;	/* orders two snapshots of the same second */
};

static int
ent_cmp_newest(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = strncmp(y->name + y->time, x->name + x->time, 17);

	if (c)
		return c;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
	return strcmp(y->name, x->name);
}

/* The snapshots in outdir (with prefix, when not NULL), newest first,
 * into a malloc'd array. -errno. */
static int
list_entries(const char *prefix, struct ent **out, size_t *n)
{
	struct ent *v;
	struct dirent *de;
	size_t cnt = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	v = calloc(LIST_MAX, sizeof(*v));
	if (!v)
		return -ENOMEM;
	d = opendir(outdir);
	if (!d) {
		free(v);
		return -errno;
	}
	while ((de = readdir(d)) != NULL && cnt < LIST_MAX) {
		struct stat st;

		if (!safe_entry(de->d_name) || strlen(de->d_name) >= 256 ||
		    !name_time(de->d_name) ||
		    (prefix && strncmp(de->d_name, prefix, strlen(prefix))) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", de->d_name);
		v[cnt].time = (size_t)(name_time(v[cnt].name) - v[cnt].name);
		v[cnt].mtime = st.st_mtim;
		cnt++;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), ent_cmp_newest);
	*out = v;
	*n = cnt;
	return 0;
}

/* Keep the newest keep_n snapshots of name (safe), remove the rest. */
static void
prune(const char *safe)
{
	char prefix[300];
	struct ent *v;
	size_t n, i;

	snprintf(prefix, sizeof(prefix), "%s-", safe);
	if (list_entries(prefix, &v, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		const char *rest = v[i].name + strlen(prefix);

		/* "name-PID-TIME-": not another name that begins alike */
		if (i < keep_n ||
		    rest + strspn(rest, "0123456789") != v[i].name + v[i].time)
			continue;
		if (remove_tree(outdir, v[i].name) == 0)
			log_info("snapshot %s removed (--keep %u)", v[i].name,
				 keep_n);
	}
	free(v);
}

static int
write_file(int dfd, const struct snap_file *f)
{
	const char *p = f->data;
	size_t left = f->len;
	int fd = openat(dfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0640);

	if (fd < 0)
		return -errno;
	while (left > 0) {
		ssize_t w = write(fd, p, left);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			w = -errno;
			close(fd);
			return (int)w;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return -errno;
	return 0;
}

int
snapshot_write(const char *name, pid_t pid, int64_t wall, const char *safe,
	       const struct snap_file *files, size_t n, char *out,
	       size_t outlen)
{
	char sname[64], tmp[600], final[1100], ts[32];
	time_t sec = (time_t)(wall / 1000000000LL);
	struct tm tm;
	size_t i;
	int dfd, e = 0;

	snapshot_safe_name(name, sname, sizeof(sname));
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, outlen, "%s-%d-%s-%s", sname, (int)pid, ts, safe);
	pthread_mutex_lock(&write_mu);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", outdir);
	if (!mkdtemp(tmp)) {
		e = -errno;
		goto out;
	}
	dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		e = -errno;
		goto fail;
	}
	for (i = 0; i < n && e == 0; i++)
		e = write_file(dfd, &files[i]);
	if (e == 0 && fsync(dfd) < 0)
		e = -errno;
	close(dfd);
	if (e < 0)
		goto fail;
	(void)chmod(tmp, 0750);
	snprintf(final, sizeof(final), "%s/%s", outdir, out);
	if (rename(tmp, final) < 0) {
		e = -errno;
		goto fail;
	}
	pthread_mutex_lock(&mu);
	written++;
	pthread_mutex_unlock(&mu);
	log_info("snapshot %s written", out);
	prune(sname);
	goto out;
fail:
	(void)remove_tree(outdir, strrchr(tmp, '/') + 1);
out:
	if (e < 0) {
		pthread_mutex_lock(&mu);
		errors++;
		pthread_mutex_unlock(&mu);
		log_warn("snapshot %s not written: %s", out, strerror(-e));
	}
	pthread_mutex_unlock(&write_mu);
	return e;
}

void
snapshot_fired(pid_t pid, const char *expr)
{
	size_t i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < nfired; i++)
		if (fired[i].pid == pid && strcmp(fired[i].expr, expr) == 0)
			break;
	if (i == nfired) {
		/* full: the oldest series goes */
		i = nfired < FIRED_MAX ? nfired++ : fired_next++ % FIRED_MAX;
		fired[i].pid = pid;
		fired[i].n = 0;
		snprintf(fired[i].expr, sizeof(fired[i].expr), "%s", expr);
	}
	fired[i].n++;
	pthread_mutex_unlock(&mu);
}

void
snapshot_metrics(struct textbuf *b)
{
	size_t i;

	pthread_mutex_lock(&mu);
	if (!outdir[0]) {
		pthread_mutex_unlock(&mu);
		return;
	}
	textbuf_printf(b, "# HELP profd_triggers_fired_total Times a "
			  "--trigger fired, per process.\n"
			  "# TYPE profd_triggers_fired_total counter\n");
	for (i = 0; i < nfired; i++)
		textbuf_printf(b,
			       "profd_triggers_fired_total{pid=\"%d\","
			       "trigger=\"%s\"} %" PRIu64 "\n",
			       (int)fired[i].pid, fired[i].expr, fired[i].n);
	textbuf_printf(b,
		       "# HELP profd_snapshots_written_total Snapshots "
		       "written into --output-dir.\n"
		       "# TYPE profd_snapshots_written_total counter\n"
		       "profd_snapshots_written_total %" PRIu64 "\n"
		       "# HELP profd_snapshot_errors_total Snapshots that "
		       "could not be written.\n"
		       "# TYPE profd_snapshot_errors_total counter\n"
		       "profd_snapshot_errors_total %" PRIu64 "\n",
		       written, errors);
	pthread_mutex_unlock(&mu);
}

/* The snapshot's files as a JSON array. */
static void
list_files(struct textbuf *b, const char *name)
{
	char path[1100];
	struct dirent *de;
	bool first = true;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	textbuf_printf(b, "[");
	d = opendir(path);
	while (d && (de = readdir(d)) != NULL) {
		struct stat st;

		if (!safe_entry(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(st.st_mode))
			continue;
		textbuf_printf(b, "%s{\"name\":\"%s\",\"size\":%lld}",
			       first ? "" : ",", de->d_name,
			       (long long)st.st_size);
		first = false;
	}
	if (d)
		closedir(d);
	textbuf_printf(b, "]");
}

static void
serve_list(struct http_reply *r)
{
	struct textbuf b = { 0 };
	struct ent *v;
	size_t n, i;

	if (list_entries(NULL, &v, &n) < 0) {
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "cannot read the snapshots");
		return;
	}
	textbuf_printf(&b, "[");
	for (i = 0; i < n; i++) {
		const char *t = v[i].name + v[i].time;

		textbuf_printf(&b,
			       "%s\n{\"name\":\"%s\",\"time\":\"%.4s-%.2s-%.2s"
			       "T%.2s:%.2s:%.2sZ\",\"trigger\":\"%s\","
			       "\"files\":",
			       i ? "," : "", v[i].name, t + 1, t + 5, t + 7,
			       t + 10, t + 12, t + 14, t + 18);
		list_files(&b, v[i].name);
		textbuf_printf(&b, "}");
	}
	textbuf_printf(&b, "\n]\n");
	free(v);
	if (b.oom) {
		free(b.s);
		r->status = 503;
		snprintf(r->msg, sizeof(r->msg), "profd is out of memory");
		return;
	}
	r->status = 200;
	r->text = b.s;
	r->text_len = b.len;
}

/* The file name/file, when both are listed. */
static void
serve_file(const char *name, const char *file, struct http_reply *r)
{
	char path[1100];
	struct stat st;
	struct ent *v;
	size_t n, i, got = 0;
	bool listed = false;
	char *buf;
	int fd;

	r->status = 404;
	snprintf(r->msg, sizeof(r->msg), "no snapshot file %.100s/%.60s",
		 name, file);
	if (!safe_entry(name) || !safe_entry(file) ||
	    list_entries(NULL, &v, &n) < 0)
		return;
	for (i = 0; i < n && !listed; i++)
		listed = strcmp(v[i].name, name) == 0;
	free(v);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, name, file);
	if (!listed)
		return;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > FILE_MAX ||
	    !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);

		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	r->status = 200;
	r->text = buf;
	r->text_len = got;
}

void
snapshot_serve(const char *name, const char *file, struct http_reply *r)
{
	if (!outdir[0]) {
		r->status = 404;
		snprintf(r->msg, sizeof(r->msg),
			 "no snapshots: start profd with --trigger and "
			 "--output-dir");
		return;
	}
	if (!name)
		serve_list(r);
	else
		serve_file(name, file, r);
}
