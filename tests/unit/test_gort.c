/* test_gort - unit tests for gort/layout.c, decode.c and table.c: where a
 * Go binary keeps its runtime structures.
 *
 * Against the Go test targets `make targets` builds (build/targets/gohot
 * with DWARF and .symtab, gohot-stripped built with -ldflags='-s -w',
 * gohot-cgo linked externally):
 *   - the version is what `go version BINARY` prints;
 *   - gohot: every field from DWARF, every global from .symtab and equal
 *     to what nm(1) prints; for go1.19, a few offsets known from
 *     runtime2.go and the table of that release equal to the DWARF;
 *   - decoding the globals from instructions, forced on gohot and
 *     gohot-cgo, gives what their .symtab says;
 *   - gohot-stripped: every field (from the table), every global decoded
 *     and inside the section its kind of data lives in;
 *   - gohot without its DWARF (strip --strip-debug, as -ldflags=-w
 *     builds): fields from the table, globals from .symtab;
 *   - a copy of gohot-stripped whose version bytes say go1.09: no
 *     offsets, no globals, and why says so;
 *   - gohot and gohot-stripped running: what their globals and fields
 *     point at in the live process is the runtime's (allgs holds
 *     allglen goroutines, goroutine 1 among them, with sane stacks; every
 *     M on allm is a thread of the process).
 * And the build-info and version parsers on hand-made inputs. Without the
 * targets or without go, the checks that need them print "# skip".
 */
#include "gort/gort_int.h"
#include "space/space.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "gotargets.h"

static char tmpdir[] = "/tmp/test_gort.XXXXXX";

/* ---- parsers ------------------------------------------------------------ */

static void
check_version_parse(void)
{
	int a, b;

	CHECK(gort_version_parse("go1.19.8", &a, &b) && a == 1 && b == 19,
	      "go1.19.8 is 1.19");
	CHECK(gort_version_parse("go1.19", &a, &b) && a == 1 && b == 19,
	      "go1.19 is 1.19");
	CHECK(gort_version_parse("go1.21rc2", &a, &b) && a == 1 && b == 21,
	      "go1.21rc2 is 1.21");
	CHECK(gort_version_parse("go1.21 X:loopvar", &a, &b) && a == 1 &&
	      b == 21, "go1.21 X:loopvar is 1.21");
	CHECK(!gort_version_parse("devel go1.22-abc", &a, &b) && a == 0,
	      "a devel version is none");
	CHECK(!gort_version_parse("go1", &a, &b), "go1 is none");
	CHECK(!gort_version_parse("go1.x", &a, &b), "go1.x is none");
	CHECK(!gort_version_parse("", &a, &b), "\"\" is none");
}

/* A build info blob: the header, then the inline strings. */
static size_t
make_blob(unsigned char *b, size_t cap, unsigned char flags, const char *v)
{
	size_t n = 32, l = strlen(v);

	memset(b, 0, cap);
	memcpy(b, "\xff Go buildinf:", 14);
	b[14] = 8;
	b[15] = flags;
	b[n++] = (unsigned char)l;	/* < 128: one varint byte */
	memcpy(b + n, v, l);
	n += l;
	b[n++] = 0;			/* empty module info */
	return n;
}

static void
check_buildinfo_parse(void)
{
	unsigned char b[128];
	char v[32];
	uint64_t addr;
	size_t n;

	n = make_blob(b, sizeof(b), 2, "go1.19.8");
	CHECK(gort_buildinfo_parse(b, n, v, sizeof(v), &addr) == 0 &&
	      strcmp(v, "go1.19.8") == 0, "inline build info: version");
	CHECK(gort_buildinfo_parse(b, 34, v, sizeof(v), &addr) == -EINVAL,
	      "inline build info cut short");
	CHECK(gort_buildinfo_parse(b, n, v, 8, &addr) == -EINVAL,
	      "a version longer than the buffer");
	b[1] = 'g';
	CHECK(gort_buildinfo_parse(b, n, v, sizeof(v), &addr) == -EINVAL,
	      "no magic, no build info");
	n = make_blob(b, sizeof(b), 0, "");
	b[17] = 0x10;
	b[18] = 0x50;
	CHECK(gort_buildinfo_parse(b, n, v, sizeof(v), &addr) == 1 &&
	      addr == 0x501000, "pointer build info: the string's address");
	b[14] = 4;
	CHECK(gort_buildinfo_parse(b, n, v, sizeof(v), &addr) == -EINVAL,
	      "32-bit build info refused");
	n = make_blob(b, sizeof(b), 2, "");
	CHECK(gort_buildinfo_parse(b, n, v, sizeof(v), &addr) == -EINVAL,
	      "an empty version is none");
}

/* ---- the targets -------------------------------------------------------- */

/* What `go version BINARY` says the binary was built with, into v. */
static bool
go_version_of(const char *bin, char *v, size_t len)
{
	char cmd[3 * PATH_MAX], line[512], *p;
	FILE *f;
	bool ok = false;

	snprintf(cmd, sizeof(cmd), "GOFLAGS= go version '%s'", bin);
	f = popen(cmd, "r");
	if (!f)
		return false;
	if (fgets(line, sizeof(line), f)) {
		p = strstr(line, ": ");
		if (p) {
			p += 2;
			p[strcspn(p, " \n")] = '\0';
			snprintf(v, len, "%s", p);
			ok = true;
		}
	}
	pclose(f);
	return ok;
}

/* The address nm(1) gives the data symbol name in bin, or 0. */
static uint64_t
nm_addr(const char *bin, const char *name)
{
	char cmd[3 * PATH_MAX], line[512], type[8], sym[400];
	uint64_t addr, found = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nm '%s' 2>/dev/null", bin);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 " %7s %399s", &addr, type, sym) ==
			    3 &&
		    strcmp(sym, name) == 0)
			found = addr;
	pclose(f);
	return found;
}

static void
check_version(const char *what, const char *bin, const struct gort_info *gi)
{
	char want[64], msg[128];
	int a, b;

	if (!go_version_of(bin, want, sizeof(want))) {
		printf("# skip: go version %s\n", bin);
		return;
	}
	snprintf(msg, sizeof(msg), "%s: version is go version's", what);
	CHECK_EQ_STR(gi->version, want, msg);
	snprintf(msg, sizeof(msg), "%s: major.minor", what);
	CHECK(gort_version_parse(want, &a, &b) && gi->major == a &&
	      gi->minor == b, msg);
}

static bool
all_fields(const struct gort_info *gi, const char *what)
{
	size_t f;

	for (f = 0; f < GORT_NFIELDS; f++)
		if (gi->off[f] == GORT_NONE) {
			printf("# %s: %s.%s unknown (%s)\n", what,
			       gort_field_names[f].type,
			       gort_field_names[f].path, gi->why);
			return false;
		}
	return true;
}

/* Every global of gi equal to what nm says of bin. */
static void
check_globals_nm(const char *what, const char *bin, const uint64_t *global)
{
	char msg[160];
	uint64_t want;
	size_t g;

	for (g = 0; g < GORT_NGLOBALS; g++) {
		want = nm_addr(bin, gort_global_names[g]);
		snprintf(msg, sizeof(msg), "%s: %s at nm's address", what,
			 gort_global_names[g]);
		CHECK(want != 0 && global[g] == want, msg);
		if (global[g] != want)
			printf("#   got %#" PRIx64 ", want %#" PRIx64 "\n",
			       global[g], want);
	}
}

/* The table of gi's release (generated from the DWARF of a binary of it)
 * equals gi's offsets from DWARF: what keeps table.c honest. */
static void
check_table(const struct gort_info *gi)
{
	const struct gort_table *t = gort_table_find(gi->major, gi->minor);
	bool seen[GORT_NFIELDS] = { false }, all = true;
	char msg[160];
	size_t i, f;

	if (!t) {
		printf("# skip: no table for %s\n", gi->version);
		return;
	}
	for (i = 0; i < t->nfields; i++) {
		f = t->fields[i].id;
		if (f >= GORT_NFIELDS)
			continue;
		seen[f] = true;
		snprintf(msg, sizeof(msg), "table %s: %s %s is DWARF's",
			 t->version, gort_field_names[f].type,
			 gort_field_names[f].path[0] ? gort_field_names[f].path
						     : "size");
		CHECK_EQ_INT(t->fields[i].off, gi->off[f], msg);
	}
	for (f = 0; f < GORT_NFIELDS; f++)
		if (!seen[f]) {
			printf("# table %s lacks %s.%s: make gort-table\n",
			       t->version, gort_field_names[f].type,
			       gort_field_names[f].path);
			all = false;
		}
	CHECK(all, "the table lists every field");
}

/* The binary with DWARF and .symtab. */
static void
check_gohot(const char *bin)
{
	const struct gort_info *gi;
	struct elfimg *img = open_image(bin);

	gi = gort_info(img);
	CHECK(gi != NULL, "gohot: gort_info");
	if (!gi) {
		elfimg_put(img);
		return;
	}
	CHECK(gort_info(img) == gi, "gohot: computed once, kept");
	check_version("gohot", bin, gi);
	CHECK(gi->from_dwarf && !gi->stripped, "gohot: DWARF, not stripped");
	CHECK(all_fields(gi, "gohot"), "gohot: every field known");
	CHECK_EQ_STR(gi->why, "", "gohot: nothing missing");
	check_globals_nm("gohot", bin, gi->global);
	if (gi->major == 1 && gi->minor == 19) {
		/* runtime2.go of go1.19: g starts with stack{lo, hi}, then
		 * stackguard0, stackguard1, _panic, _defer, m, sched; m starts
		 * with g0; gobuf with sp, pc */
		CHECK_EQ_INT(gi->off[GORT_F_G_STACK_LO], 0, "go1.19 g.stack.lo");
		CHECK_EQ_INT(gi->off[GORT_F_G_STACK_HI], 8, "go1.19 g.stack.hi");
		CHECK_EQ_INT(gi->off[GORT_F_G_M], 48, "go1.19 g.m");
		CHECK_EQ_INT(gi->off[GORT_F_G_SCHED_SP], 56, "go1.19 g.sched.sp");
		CHECK_EQ_INT(gi->off[GORT_F_G_SCHED_PC], 64, "go1.19 g.sched.pc");
		CHECK_EQ_INT(gi->off[GORT_F_M_G0], 0, "go1.19 m.g0");
	}
	check_table(gi);
	elfimg_put(img);
}

#define MAX_HINTS 64

/* Every hint of gi's release, GORT_GLOBALS or not, decodes what nm says
 * of bin. */
static void
check_hints(const char *what, const char *bin, struct elfimg *img,
	    const struct gort_info *gi)
{
	const char *syms[MAX_HINTS];
	char why[256], msg[160];
	uint64_t addr, want;
	size_t n, i;
	int rc;

	n = gort_hint_symbols(gi->major, gi->minor, syms, MAX_HINTS);
	if (n == 0)
		printf("# skip: no hints for %s\n", gi->version);
	for (i = 0; i < n; i++) {
		rc = gort_decode_symbol(img, gi->major, gi->minor, syms[i],
					&addr, why, sizeof(why));
		want = nm_addr(bin, syms[i]);
		snprintf(msg, sizeof(msg), "%s: hint for %s decodes nm's "
			 "address", what, syms[i]);
		CHECK(rc == 0 && want && addr == want, msg);
		if (rc || addr != want)
			printf("#   got %#" PRIx64 ", want %#" PRIx64 " %s\n",
			       addr, want, why);
	}
}

/* Decoding forced on a binary with .symtab: what .symtab says. */
static void
check_decode(const char *what, const char *bin)
{
	struct elfimg *img = open_image(bin);
	const struct gort_info *gi = gort_info(img);
	uint64_t global[GORT_NGLOBALS];
	char why[256], msg[128];
	int rc;

	CHECK(gi && !gi->stripped, what);
	if (!gi) {
		elfimg_put(img);
		return;
	}
	rc = gort_decode_globals(img, gi->major, gi->minor, global, why,
				 sizeof(why));
	snprintf(msg, sizeof(msg), "%s: every global decoded", what);
	CHECK(rc == 0, msg);
	if (rc)
		printf("#   %s\n", why);
	snprintf(msg, sizeof(msg), "%s decoded", what);
	check_globals_nm(msg, bin, global);
	check_hints(what, bin, img, gi);
	elfimg_put(img);
}

/* The section of gohot that holds addr, or -1. */
static int
section_of(const struct gort_secs *secs, uint64_t addr)
{
	int s;

	for (s = 0; s < GORT_NSECS; s++)
		if (gort_in_sec(secs, (enum gort_sec)s, addr, 1))
			return s;
	return -1;
}

/* Every hint decodes in the stripped build too, into the section that
 * holds the symbol in the build with .symtab (dsecs: its sections). */
static void
check_stripped_hints(struct elfimg *img, const struct gort_info *gi,
		     const char *dwarf_bin, const struct gort_secs *dsecs)
{
	const char *syms[MAX_HINTS];
	struct gort_secs secs;
	char why[256], msg[160];
	uint64_t addr;
	size_t n, i;
	int want;

	n = gort_hint_symbols(gi->major, gi->minor, syms, MAX_HINTS);
	if (gort_sections(img, &secs) < 0)
		n = 0;
	for (i = 0; i < n; i++) {
		want = section_of(dsecs, nm_addr(dwarf_bin, syms[i]));
		snprintf(msg, sizeof(msg), "gohot-stripped: hint for %s "
			 "decodes, in gohot's section", syms[i]);
		CHECK(gort_decode_symbol(img, gi->major, gi->minor, syms[i],
					 &addr, why, sizeof(why)) == 0 &&
		      want >= 0 &&
		      gort_in_sec(&secs, (enum gort_sec)want, addr, 8), msg);
	}
}

/* -s -w: fields from the table, globals decoded, each in the section
 * that holds it in the build with .symtab. */
static void
check_stripped(const char *bin, const char *dwarf_bin)
{
	struct elfimg *img = open_image(bin), *dimg = open_image(dwarf_bin);
	const struct gort_info *gi = gort_info(img), *dgi = gort_info(dimg);
	struct gort_secs secs, dsecs;
	char msg[160];
	size_t g;
	int want;

	CHECK(gi != NULL && dgi != NULL, "gohot-stripped: gort_info");
	if (!gi || !dgi)
		goto out;
	check_version("gohot-stripped", bin, gi);
	CHECK(!gi->from_dwarf && gi->stripped,
	      "gohot-stripped: no DWARF, stripped");
	if (!gort_table_find(gi->major, gi->minor)) {
		printf("# skip: no table for %s\n", gi->version);
		goto out;
	}
	CHECK(all_fields(gi, "gohot-stripped"),
	      "gohot-stripped: every field known from the table");
	for (g = 0; g < GORT_NFIELDS; g++)
		if (gi->off[g] != dgi->off[g])
			break;
	CHECK(g == GORT_NFIELDS, "gohot-stripped: gohot's offsets");
	CHECK_EQ_STR(gi->why, "", "gohot-stripped: nothing missing");
	CHECK(gort_sections(img, &secs) == 0 &&
	      gort_sections(dimg, &dsecs) == 0,
	      "gohot-stripped: data sections");
	for (g = 0; g < GORT_NGLOBALS; g++) {
		want = section_of(&dsecs, dgi->global[g]);
		snprintf(msg, sizeof(msg),
			 "gohot-stripped: %s decoded, in gohot's section",
			 gort_global_names[g]);
		CHECK(want >= 0 && gi->global[g] &&
		      gort_in_sec(&secs, (enum gort_sec)want, gi->global[g],
				  8), msg);
	}
	check_stripped_hints(img, gi, dwarf_bin, &dsecs);
out:
	elfimg_put(img);
	elfimg_put(dimg);
}

/* gohot without DWARF but with .symtab, as -ldflags=-w builds it:
 * offsets from the table, equal to gohot's from DWARF; globals from
 * .symtab. */
static void
check_nodwarf(const char *bin)
{
	char path[PATH_MAX], cmd[4 * PATH_MAX];
	struct elfimg *img = open_image(bin), *nimg;
	const struct gort_info *gi = gort_info(img), *ngi;
	size_t f;

	snprintf(path, sizeof(path), "%s/nodwarf", tmpdir);
	snprintf(cmd, sizeof(cmd), "strip --strip-debug -o '%s' '%s'", path,
		 bin);
	if (!gi || system(cmd) != 0) {
		printf("# skip: strip --strip-debug %s\n", bin);
		elfimg_put(img);
		return;
	}
	nimg = open_image(path);
	ngi = gort_info(nimg);
	CHECK(ngi && !ngi->from_dwarf && !ngi->stripped,
	      "no DWARF: offsets from the table, globals from .symtab");
	if (ngi && gort_table_find(ngi->major, ngi->minor)) {
		for (f = 0; f < GORT_NFIELDS; f++)
			if (ngi->off[f] != gi->off[f])
				break;
		CHECK(f == GORT_NFIELDS, "no DWARF: the offsets of DWARF");
		CHECK_EQ_STR(ngi->why, "", "no DWARF: nothing missing");
	}
	if (ngi)
		check_globals_nm("no DWARF", path, ngi->global);
	elfimg_put(nimg);
	elfimg_put(img);
	unlink(path);
}

static unsigned char filebuf[64 << 20];

/* bin into filebuf; its size, or 0. */
static size_t
read_bin(const char *bin)
{
	FILE *f = fopen(bin, "rb");
	size_t n;

	if (!f)
		return 0;
	n = fread(filebuf, 1, sizeof(filebuf), f);
	fclose(f);
	return n < sizeof(filebuf) ? n : 0;
}

/* The first n bytes of filebuf into the executable out. */
static bool
write_bin(const char *out, size_t n)
{
	FILE *f = fopen(out, "wb");
	bool ok;

	if (!f)
		return false;
	ok = fwrite(filebuf, 1, n, f) == n;
	ok = fclose(f) == 0 && ok;
	return ok && chmod(out, 0755) == 0;
}

/* A copy of bin whose build info says go1.09 instead of go1.19 (or
 * whatever minor it has): a release profd does not know. */
static bool
patch_version(const char *bin, const char *out, char *version, size_t vlen)
{
	size_t n = read_bin(bin), i;
	unsigned char *magic;

	magic = n ? memmem(filebuf, n, "\xff Go buildinf:", 14) : NULL;
	if (!magic || (size_t)(magic - filebuf) + 64 > n)
		return false;
	/* the inline version: after the 32-byte header and its length */
	for (i = 33; i + 4 < 64; i++)
		if (memcmp(magic + i, "go1.", 4) == 0 &&
		    magic[i + 4] >= '1' && magic[i + 4] <= '9') {
			magic[i + 4] = '0';
			snprintf(version, vlen, "%.*s", (int)magic[32],
				 (const char *)magic + 33);
			return write_bin(out, n);
		}
	return false;
}

/* A copy of bin in which runtime.forEachG no longer loads allgs with
 * the instruction go1.19's hint names (48 8b 0d becomes 48 8b 15, a load
 * into DX): that global must stay unknown, the others not. */
static void
check_hint_mismatch(const char *bin)
{
	char path[PATH_MAX], msg[160];
	const struct gort_info *gi;
	struct elfimg *img = open_image(bin);
	struct go_fn fn;
	uint64_t off;
	size_t n = read_bin(bin), i;
	bool patched = false;

	if (img && go_fn_by_name(img, "runtime.forEachG", &fn) &&
	    elfimg_vaddr_to_offset(img, fn.entry, &off) == 0)
		for (i = off; i + 3 < n && i < off + (fn.end - fn.entry); i++)
			if (memcmp(filebuf + i, "\x48\x8b\x0d", 3) == 0) {
				filebuf[i + 2] = 0x15;
				patched = true;
				break;
			}
	elfimg_put(img);
	snprintf(path, sizeof(path), "%s/nohint", tmpdir);
	CHECK(patched && write_bin(path, n), "patch runtime.forEachG");
	if (!patched)
		return;
	img = open_image(path);
	gi = gort_info(img);
	CHECK(gi && gi->stripped && gi->global[GORT_G_ALLGS] == 0,
	      "hint mismatch: runtime.allgs unknown");
	for (i = 0; gi && i < GORT_NGLOBALS; i++)
		if (i != GORT_G_ALLGS && !gi->global[i])
			break;
	CHECK(gi && i == GORT_NGLOBALS, "hint mismatch: the others known");
	snprintf(msg, sizeof(msg), "hint mismatch: why names runtime.allgs "
		 "and runtime.forEachG");
	CHECK(gi && strstr(gi->why, "runtime.allgs") &&
	      strstr(gi->why, "runtime.forEachG"), msg);
	if (gi)
		printf("#   why: %s\n", gi->why);
	elfimg_put(img);
	unlink(path);
}

static void
check_unknown(const char *stripped)
{
	char path[PATH_MAX], version[64], want[160], why[256];
	uint64_t global[GORT_NGLOBALS];
	const struct gort_info *gi;
	struct elfimg *img;
	size_t i;
	bool none = true;

	snprintf(path, sizeof(path), "%s/go109", tmpdir);
	if (!patch_version(stripped, path, version, sizeof(version))) {
		CHECK(0, "patch the version of a copy of gohot-stripped");
		return;
	}
	img = open_image(path);
	gi = gort_info(img);
	CHECK(gi && gi->major == 1 && gi->minor < 10,
	      "go1.0x: an unknown release");
	if (gi) {
		CHECK_EQ_STR(gi->version, version, "go1.0x: its version");
		for (i = 0; i < GORT_NFIELDS; i++)
			none = none && gi->off[i] == GORT_NONE;
		for (i = 0; i < GORT_NGLOBALS; i++)
			none = none && gi->global[i] == 0;
		CHECK(none, "go1.0x: no offsets, no globals");
		snprintf(want, sizeof(want),
			 "%s without DWARF: profd knows the runtime layout of ",
			 version);
		CHECK(strncmp(gi->why, want, strlen(want)) == 0,
		      "go1.0x: why says which release profd knows");
		printf("#   why: %s\n", gi->why);
		CHECK(gort_decode_globals(img, gi->major, gi->minor, global,
					  why, sizeof(why)) == -ENOTSUP &&
		      strstr(why, "stripped go1.19 binaries only") &&
		      global[0] == 0,
		      "go1.0x: no hints, why names the releases with hints");
	}
	elfimg_put(img);
	unlink(path);
}

/* ---- a live process ----------------------------------------------------- */

#define MAX_LIVE_G 4096
#define MAX_LIVE_M 256
#define G_DEAD 6		/* runtime2.go: _Gdead */

/* Start bin ("ready PID" on its stdout); its PID, or -1. */
static pid_t
start_target(const char *bin, FILE **pipe)
{
	char cmd[3 * PATH_MAX], line[128];
	int pid = -1;

	snprintf(cmd, sizeof(cmd), "exec '%s' 1 60", bin);
	*pipe = popen(cmd, "r");
	if (!*pipe)
		return -1;
	if (!fgets(line, sizeof(line), *pipe) ||
	    sscanf(line, "ready %d", &pid) != 1) {
		pclose(*pipe);
		*pipe = NULL;
		return -1;
	}
	return pid;
}

static bool
is_thread(pid_t pid, uint64_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%llu", (int)pid,
		 (unsigned long long)tid);
	return tid != 0 && access(path, F_OK) == 0;
}

/* What gi's globals and fields point at in process pid is the runtime's
 * own: goroutines on allgs, threads on allm. The ELF addresses are the
 * process's: gohot is linked as Go links by default on linux/amd64, not
 * as a PIE. */
static void
check_live_runtime(const char *what, pid_t pid, const struct gort_info *gi)
{
	static unsigned char g[4096], m[8192];
	uint64_t allglen = 0, allgs[3] = { 0 }, gp, mp, lo, hi, tid;
	size_t i, nm = 0, badm = 0, badg = 0, nthreads = 0;
	bool main_g = false;
	char msg[160];

	CHECK(gi->off[GORT_F_G_SIZE] <= sizeof(g) &&
	      gi->off[GORT_F_M_SIZE] <= sizeof(m), "g and m fit the buffers");
	if (gi->off[GORT_F_G_SIZE] > sizeof(g) ||
	    gi->off[GORT_F_M_SIZE] > sizeof(m))
		return;
	/* allgadd appends to allgs before it stores allglen */
	CHECK(gort_read(pid, gi->global[GORT_G_ALLGLEN], &allglen, 8) == 0 &&
	      gort_read(pid, gi->global[GORT_G_ALLGS], allgs, 24) == 0,
	      "read allglen and allgs");
	snprintf(msg, sizeof(msg), "%s: allgs holds allglen (%llu) "
		 "goroutines", what, (unsigned long long)allglen);
	CHECK(allglen > 0 && allgs[1] >= allglen && allgs[1] < allglen + 64 &&
	      allgs[1] <= allgs[2] && allgs[1] < MAX_LIVE_G, msg);
	for (i = 0; i < allglen && i < MAX_LIVE_G; i++) {
		if (gort_read(pid, allgs[0] + 8 * i, &gp, 8) != 0 ||
		    gort_read(pid, gp, g, gi->off[GORT_F_G_SIZE]) != 0) {
			badg++;
			continue;
		}
		main_g = main_g || gort_u64(g, gi->off[GORT_F_G_GOID]) == 1;
		if (gort_u32(g, gi->off[GORT_F_G_STATUS]) == G_DEAD)
			continue;
		lo = gort_u64(g, gi->off[GORT_F_G_STACK_LO]);
		hi = gort_u64(g, gi->off[GORT_F_G_STACK_HI]);
		if (lo == 0 || hi <= lo || hi - lo > (1ULL << 30))
			badg++;
	}
	snprintf(msg, sizeof(msg), "%s: every goroutine readable, live ones "
		 "with a stack (%zu bad)", what, badg);
	CHECK(badg == 0, msg);
	snprintf(msg, sizeof(msg), "%s: goroutine 1 on allgs", what);
	CHECK(main_g, msg);
	CHECK(gort_read(pid, gi->global[GORT_G_ALLM], &mp, 8) == 0 && mp,
	      "read allm");
	for (; mp && nm < MAX_LIVE_M; nm++) {
		if (gort_read(pid, mp, m, gi->off[GORT_F_M_SIZE]) != 0) {
			badm++;
			break;
		}
		/* an M joins allm (mcommoninit) before its thread starts
		 * and sets procid (minit) */
		tid = gort_u64(m, gi->off[GORT_F_M_PROCID]);
		if ((tid && !is_thread(pid, tid)) ||
		    !gort_u64(m, gi->off[GORT_F_M_G0]))
			badm++;
		nthreads += is_thread(pid, tid);
		mp = gort_u64(m, gi->off[GORT_F_M_ALLLINK]);
	}
	snprintf(msg, sizeof(msg), "%s: every M on allm (%zu, %zu running) "
		 "is a thread of the process with a g0 (%zu bad)", what, nm,
		 nthreads, badm);
	CHECK(nthreads > 0 && badm == 0, msg);
}

static void
check_live(const char *what, const char *bin)
{
	struct elfimg *img = open_image(bin);
	const struct gort_info *gi = gort_info(img);
	FILE *p = NULL;
	pid_t pid;

	if (!gi || gi->why[0]) {
		printf("# skip: %s: %s\n", what, gi ? gi->why : "not Go");
		elfimg_put(img);
		return;
	}
	pid = start_target(bin, &p);
	CHECK(pid > 0, "start the target");
	if (pid > 0) {
		check_live_runtime(what, pid, gi);
		kill(pid, SIGKILL);
	}
	if (p)
		pclose(p);
	elfimg_put(img);
}

int
main(void)
{
	char dwarf[2 * PATH_MAX], stripped[2 * PATH_MAX], cgo[2 * PATH_MAX];

	check_version_parse();
	check_buildinfo_parse();
	CHECK(gort_info(NULL) == NULL, "gort_info(NULL) is NULL");
	if (!go_targets(dwarf, stripped, cgo, sizeof(dwarf)))
		return check_report();
	if (!mkdtemp(tmpdir)) {
		CHECK(0, "mkdtemp");
		return check_report();
	}
	check_gohot(dwarf);
	check_decode("gohot", dwarf);
	check_decode("gohot-cgo", cgo);
	check_stripped(stripped, dwarf);
	check_nodwarf(dwarf);
	check_unknown(stripped);
	check_hint_mismatch(stripped);
	check_live("gohot live", dwarf);
	check_live("gohot-stripped live", stripped);
	rmdir(tmpdir);
	return check_report();
}
