/* pprof-dump - print a pprof profile in forms the end-to-end tests can grep.
 *
 *   pprof-dump summary FILE
 *   pprof-dump folded [-i INDEX] [-L] [-t] FILE
 *   pprof-dump labels FILE
 *   pprof-dump leaves [-L] FILE
 *   pprof-dump locations [-L] FILE
 *   pprof-dump strip FILE > OUT
 *
 * FILE may be gzip'd or raw protobuf; "-" reads standard input. The profile
 * is read with pprof_decode(), so anything pprof or Parca would refuse
 * makes this tool exit 1 with the reason. Usage errors exit 64.
 */
#include "http/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE	64

struct folded {
	char *stack;
	int64_t value;
};

static void
usage(void)
{
	fprintf(stderr,
		"usage: pprof-dump summary FILE\n"
		"       pprof-dump folded [-i INDEX] [-L] [-t] FILE\n"
		"       pprof-dump labels FILE\n"
		"       pprof-dump leaves [-L] FILE\n"
		"       pprof-dump locations [-L] FILE\n"
		"       pprof-dump strip FILE > OUT\n");
	exit(EXIT_USAGE);
}

static const char *
str(const struct pprof *p, int64_t i)
{
	/* pprof_decode() has checked every index */
	return p->strings[i];
}

/* Read all of path ("-" for stdin) into a malloc'd buffer. */
static int
read_all(const char *path, unsigned char **out, size_t *out_len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				rc = -EIO;
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static struct pprof *
load(const char *path)
{
	unsigned char *buf = NULL;
	char err[HTTP_ERRLEN];
	struct pprof *p = NULL;
	size_t len = 0;
	int rc;

	rc = read_all(path, &buf, &len);
	if (rc < 0) {
		fprintf(stderr, "pprof-dump: %s: %s\n", path, strerror(-rc));
		exit(1);
	}
	rc = pprof_decode(buf, len, &p, err, sizeof(err));
	free(buf);
	if (rc < 0) {
		fprintf(stderr, "pprof-dump: %s: %s\n", path,
			err[0] ? err : strerror(-rc));
		exit(1);
	}
	return p;
}

/* ---- summary ---------------------------------------------------------- */

static void
summary(const struct pprof *p)
{
	size_t i, j;
	int64_t sum;

	for (i = 0; i < p->n_sample_types; i++)
		printf("sample_type %s/%s\n", str(p, p->sample_types[i].type),
		       str(p, p->sample_types[i].unit));
	printf("period_type %s/%s\n", str(p, p->period_type.type),
	       str(p, p->period_type.unit));
	printf("period %" PRId64 "\n", p->period);
	printf("time_nanos %" PRId64 "\n", p->time_nanos);
	printf("duration_nanos %" PRId64 "\n", p->duration_nanos);
	printf("samples %zu\n", p->n_samples);
	printf("locations %zu\n", p->n_locations);
	printf("functions %zu\n", p->n_functions);
	for (i = 0; i < p->n_comments; i++)
		printf("comment %s\n", str(p, p->comments[i]));
	for (i = 0; i < p->n_mappings; i++) {
		const struct pprof_mapping *m = &p->mappings[i];
		const char *file = str(p, m->filename);

		/* "-" keeps the field count fixed when there is no name */
		printf("mapping %" PRIu64 " 0x%" PRIx64 "-0x%" PRIx64
		       " 0x%" PRIx64 " %s build_id=%s has_functions=%d"
		       " has_filenames=%d has_line_numbers=%d"
		       " has_inline_frames=%d\n",
		       m->id, m->start, m->limit, m->offset,
		       *file ? file : "-", str(p, m->build_id),
		       m->has_functions, m->has_filenames,
		       m->has_line_numbers, m->has_inline_frames);
	}
	for (j = 0; j < p->n_sample_types; j++) {
		sum = 0;
		for (i = 0; i < p->n_samples; i++)
			sum += p->samples[i].values[j];
		printf("total[%zu] %" PRId64 "\n", j, sum);
	}
}

/* ---- folded ----------------------------------------------------------- */

/* The value of string label "thread", or "?". */
static const char *
thread_name(const struct pprof *p, const struct pprof_sample *s)
{
	size_t i;

	for (i = 0; i < s->n_labels; i++)
		if (s->labels[i].str &&
		    strcmp(str(p, s->labels[i].key), "thread") == 0)
			return str(p, s->labels[i].str);
	return "?";
}

static void
print_frame(FILE *f, const struct pprof *p, const struct pprof_location *l,
	    const struct pprof_line *line, bool with_lines)
{
	const struct pprof_function *fn = &p->functions[line->function_id - 1];
	const char *name = str(p, fn->name);

	if (!*name)
		name = str(p, fn->system_name);
	if (*name)
		fputs(name, f);
	else
		fprintf(f, "0x%" PRIx64, l->address);
	if (with_lines)
		fprintf(f, "@%s:%" PRId64, str(p, fn->filename), line->line);
}

/* One sample's stack, root first. location_ids are leaf first and each
 * location's lines innermost first, so both are walked backwards: an
 * inlined callee then comes after the function it was inlined into. */
static char *
stack_text(const struct pprof *p, const struct pprof_sample *s,
	   bool with_lines, bool with_thread)
{
	const struct pprof_location *l;
	char *text = NULL;
	size_t size = 0, i, j;
	bool first = true;
	FILE *f;

	f = open_memstream(&text, &size);
	if (!f)
		return NULL;
	if (with_thread) {
		fprintf(f, "thread=%s", thread_name(p, s));
		first = false;
	}
	for (i = s->n_locations; i-- > 0;) {
		l = &p->locations[s->location_ids[i] - 1];
		if (!l->n_lines) {
			fprintf(f, "%s0x%" PRIx64, first ? "" : ";",
				l->address);
			first = false;
		}
		for (j = l->n_lines; j-- > 0;) {
			if (!first)
				fputc(';', f);
			print_frame(f, p, l, &l->lines[j], with_lines);
			first = false;
		}
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int
by_stack(const void *a, const void *b)
{
	const struct folded *x = a, *y = b;

	return strcmp(x->stack, y->stack);
}

static int
by_value_then_stack(const void *a, const void *b)
{
	const struct folded *x = a, *y = b;

	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return strcmp(x->stack, y->stack);
}

static int
folded(const struct pprof *p, long index, bool with_lines, bool with_thread)
{
	struct folded *st;
	size_t i, n = 0;

	if (!p->n_samples)
		return 0;
	st = calloc(p->n_samples, sizeof(*st));
	if (!st)
		return -ENOMEM;
	for (i = 0; i < p->n_samples; i++) {
		st[i].stack = stack_text(p, &p->samples[i], with_lines,
					 with_thread);
		st[i].value = p->samples[i].values[index];
		if (!st[i].stack) {
			while (i-- > 0)
				free(st[i].stack);
			free(st);
			return -ENOMEM;
		}
	}
	/* merge equal stacks, then order by value */
	qsort(st, p->n_samples, sizeof(*st), by_stack);
	for (i = 0; i < p->n_samples; i++) {
		if (n && strcmp(st[n - 1].stack, st[i].stack) == 0) {
			st[n - 1].value += st[i].value;
			free(st[i].stack);
		} else {
			st[n++] = st[i];
		}
	}
	qsort(st, n, sizeof(*st), by_value_then_stack);
	for (i = 0; i < n; i++) {
		printf("%s %" PRId64 "\n", st[i].stack, st[i].value);
		free(st[i].stack);
	}
	free(st);
	return 0;
}

/* ---- labels ----------------------------------------------------------- */

static void
labels(const struct pprof *p)
{
	const struct pprof_sample *s;
	const struct pprof_label *l;
	size_t i, j;

	for (i = 0; i < p->n_samples; i++) {
		s = &p->samples[i];
		for (j = 0; j < s->n_labels; j++) {
			l = &s->labels[j];
			if (l->str)
				printf("%s=%s ", str(p, l->key),
				       str(p, l->str));
			else
				printf("%s=%" PRId64 " ", str(p, l->key),
				       l->num);
		}
		/* pprof_decode() guarantees one value per sample type */
		printf("value=%" PRId64 "\n", s->values[s->n_values - 1]);
	}
}

/* ---- leaves ----------------------------------------------------------- */

/* One line per sample: the leaf location's address, the file offset it
 * maps to (address - mapping start + mapping offset) and the mapping's
 * file ("-" and "-" without a mapping), the sample's last value, and the
 * leaf location's frames, innermost first, joined by ';' (with -L, each
 * as NAME@FILE:LINE). Lets a test compare what profd says of an exact PC
 * with what another reader of the same binary says of it. */
static void
print_location(const struct pprof *p, const struct pprof_location *l,
	       int64_t value, bool with_lines)
{
	const struct pprof_mapping *m;
	const char *file;
	size_t j;

	printf("0x%" PRIx64, l->address);
	if (l->mapping_id) {
		m = &p->mappings[l->mapping_id - 1];
		file = str(p, m->filename);
		printf(" 0x%" PRIx64 " %s", l->address - m->start + m->offset,
		       *file ? file : "-");
	} else {
		printf(" - -");
	}
	printf(" %" PRId64 " ", value);
	if (!l->n_lines)
		putchar('-');
	for (j = 0; j < l->n_lines; j++) {
		if (j)
			putchar(';');
		print_frame(stdout, p, l, &l->lines[j], with_lines);
	}
	putchar('\n');
}

static void
leaves(const struct pprof *p, bool with_lines)
{
	const struct pprof_sample *s;
	size_t i;

	for (i = 0; i < p->n_samples; i++) {
		s = &p->samples[i];
		if (s->n_locations)
			print_location(p, &p->locations[s->location_ids[0] - 1],
				       s->values[s->n_values - 1], with_lines);
	}
}

/* ---- locations -------------------------------------------------------- */

/* One line per location, as leaves prints a leaf, with the number of
 * samples whose stack holds it for value: every frame the profile names,
 * callers too (their address is the return address - 1 profd
 * symbolized). */
static int
locations(const struct pprof *p, bool with_lines)
{
	const struct pprof_sample *s;
	int64_t *count;
	size_t i, j;

	count = calloc(p->n_locations + 1, sizeof(*count));
	if (!count)
		return -ENOMEM;
	for (i = 0; i < p->n_samples; i++) {
		s = &p->samples[i];
		for (j = 0; j < s->n_locations; j++)
			count[s->location_ids[j] - 1]++;
	}
	for (i = 0; i < p->n_locations; i++)
		print_location(p, &p->locations[i], count[i], with_lines);
	free(count);
	return 0;
}

/* ---- strip ------------------------------------------------------------ */

/* The profile without names where pprof could name it remotely: the
 * lines of every location in a file mapping dropped and those mappings'
 * has_* flags cleared (mappings pprof calls unsymbolizable, "[vdso]" and
 * the like, and locations without a mapping keep theirs), written gzip'd
 * to stdout. What a profiler that does not symbolize would send, for a
 * test of pprof's remote symbolization, which names only locations
 * without lines. */
static bool
strippable(const struct pprof *p, uint64_t mapping_id)
{
	const char *file, *base;

	if (!mapping_id)
		return false;
	file = str(p, p->mappings[mapping_id - 1].filename);
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	return *file && base[0] != '[';
}

static int
strip(struct pprof *p)
{
	unsigned char *buf;
	size_t i, len;
	int e;

	for (i = 0; i < p->n_locations; i++)
		if (strippable(p, p->locations[i].mapping_id))
			p->locations[i].n_lines = 0;
	for (i = 0; i < p->n_mappings; i++) {
		struct pprof_mapping *m = &p->mappings[i];

		if (!strippable(p, m->id))
			continue;
		m->has_functions = m->has_filenames = false;
		m->has_line_numbers = m->has_inline_frames = false;
	}
	e = pprof_encode(p, true, &buf, &len);
	if (e < 0)
		return e;
	if (fwrite(buf, 1, len, stdout) != len)
		e = -EIO;
	free(buf);
	return e;
}

/* ---- main ------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	bool with_lines = false, with_thread = false;
	const char *cmd, *path, *optstring;
	struct pprof *p;
	long index = -1;
	char *end;
	int c, rc = 0;

	if (argc < 2)
		usage();
	cmd = argv[1];
	if (strcmp(cmd, "folded") == 0)
		optstring = "+i:Lt";
	else if (strcmp(cmd, "leaves") == 0 || strcmp(cmd, "locations") == 0)
		optstring = "+L";
	else if (strcmp(cmd, "summary") == 0 || strcmp(cmd, "labels") == 0 ||
		 strcmp(cmd, "strip") == 0)
		optstring = "+";
	else
		usage();

	opterr = 0;
	argc--;
	argv++;
	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 'i':
			errno = 0;
			index = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || index < 0)
				usage();
			break;
		case 'L':
			with_lines = true;
			break;
		case 't':
			with_thread = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	path = argv[optind];

	p = load(path);
	if (strcmp(cmd, "summary") == 0) {
		summary(p);
	} else if (strcmp(cmd, "labels") == 0) {
		labels(p);
	} else if (strcmp(cmd, "leaves") == 0) {
		leaves(p, with_lines);
	} else if (strcmp(cmd, "locations") == 0) {
		if (locations(p, with_lines) < 0) {
			fprintf(stderr, "pprof-dump: %s\n", strerror(ENOMEM));
			rc = 1;
		}
	} else if (strcmp(cmd, "strip") == 0) {
		if ((rc = strip(p)) < 0)
			fprintf(stderr, "pprof-dump: strip: %s\n", strerror(-rc));
		rc = rc < 0;
	} else {
		if (index < 0)
			index = (long)pprof_default_index(p);
		if (p->n_samples && (size_t)index >= p->n_sample_types) {
			fprintf(stderr, "pprof-dump: %s: -i %ld: the profile "
				"has %zu sample types\n", path, index,
				p->n_sample_types);
			rc = 1;
		} else if (folded(p, index, with_lines, with_thread) < 0) {
			fprintf(stderr, "pprof-dump: %s\n", strerror(ENOMEM));
			rc = 1;
		}
	}
	pprof_free(p);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "pprof-dump: write error\n");
		rc = 1;
	}
	return rc;
}
