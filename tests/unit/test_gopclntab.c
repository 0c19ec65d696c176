/* test_gopclntab - unit tests for space/gopclntab.c.
 *
 * The parser is checked against Go's own tools on the Go test targets
 * (tests/targets/gohot, built by `make targets` into build/targets): every
 * function `go tool nm` lists resolves to its own name at its entry and
 * inside it, and file:line agrees with `go tool addr2line` (which reads
 * the same .gopclntab with Go's debug/gosym), for the binary with DWARF,
 * the one built with -ldflags='-s -w' and the cgo one, whose C functions
 * must not be taken for Go. SP deltas are checked against the instructions
 * `go tool objdump` shows for a function with a frame (main.chainA1) and
 * a frameless leaf (main.hotA), and the runtime's special functions
 * against the flags the unwinder relies on.
 *
 * Without the targets or without go, the checks that need them print
 * "# skip" lines instead.
 */
#include "space/space.h"
#include "symbolize/symbolize.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "gotargets.h"

#define MAX_FUNCS 20000
#define MAX_FRAMES 8

struct nmsym {
	uint64_t addr, size;
	char name[256];
};

static char tmpdir[] = "/tmp/test_gopclntab.XXXXXX";

/* Copy src into dst of n bytes, cut if need be. */
static void
copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);

	memcpy(dst, src, l);
	dst[l] = '\0';
}

/* Text symbols of bin (go tool nm), sorted by address; names without the
 * ".abi0" suffix the linker gives assembly functions' ELF symbols (Go
 * prints them without it). */
static size_t
go_nm(const char *bin, struct nmsym *v, size_t max)
{
	char cmd[3 * PATH_MAX], line[512], type[8], name[400];
	uint64_t addr, size;
	size_t n = 0, l;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "GOFLAGS= go tool nm -n -size '%s'", bin);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f) && n < max) {
		if (sscanf(line, "%" SCNx64 " %" SCNu64 " %7s %399s", &addr,
			   &size, type, name) != 4)
			continue;
		if (strcmp(type, "T") != 0 && strcmp(type, "t") != 0)
			continue;
		l = strlen(name);
		if (l > 5 && strcmp(name + l - 5, ".abi0") == 0)
			name[l - 5] = '\0';
		v[n].addr = addr;
		v[n].size = size;
		copy_str(v[n].name, sizeof(v[n].name), name);
		n++;
	}
	pclose(f);
	return n;
}

static const struct nmsym *
nm_find(const struct nmsym *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* go tool addr2line on addrs: for each, the (outermost) function name
 * and the innermost file:line, as "name\nfile:line\n". */
static int
go_addr2line(const char *bin, const uint64_t *addrs, size_t n,
	     char (*names)[256], char (*files)[512], int *lines)
{
	char in[sizeof(tmpdir) + 16], cmd[3 * PATH_MAX], buf[1024], *colon;
	size_t i;
	FILE *f;

	snprintf(in, sizeof(in), "%s/addrs", tmpdir);
	f = fopen(in, "w");
	if (!f)
		return -1;
	for (i = 0; i < n; i++)
		fprintf(f, "0x%" PRIx64 "\n", addrs[i]);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "GOFLAGS= go tool addr2line '%s' <'%s'",
		 bin, in);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	for (i = 0; i < n; i++) {
		if (!fgets(buf, sizeof(buf), f))
			break;
		buf[strcspn(buf, "\n")] = '\0';
		copy_str(names[i], 256, buf);
		if (!fgets(buf, sizeof(buf), f))
			break;
		buf[strcspn(buf, "\n")] = '\0';
		colon = strrchr(buf, ':');
		lines[i] = colon ? atoi(colon + 1) : 0;
		if (colon)
			*colon = '\0';
		copy_str(files[i], 512, buf);
	}
	pclose(f);
	unlink(in);
	return i == n ? 0 : -1;
}

/* Instruction addresses and texts of one function (go tool objdump). */
struct insn {
	uint64_t addr;
	char text[128];
};

static size_t
go_objdump(const char *bin, const char *func, struct insn *v, size_t max)
{
	char cmd[3 * PATH_MAX], line[512], hex[64];
	size_t n = 0;
	int off;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "GOFLAGS= go tool objdump -s '^%s$' '%s'", func, bin);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	/* "  main.go:72\t\t0x484294\t\tbba0860100\t\tMOVL $0x186a0, BX" */
	while (fgets(line, sizeof(line), f) && n < max) {
		char *p = strstr(line, "\t0x");
		char *t;

		if (!p || sscanf(p + 1, "%" SCNx64 "%n", &v[n].addr, &off) != 1)
			continue;
		p += 1 + off;
		if (sscanf(p, "%63s%n", hex, &off) != 1)
			continue;
		t = p + off;
		t += strspn(t, "\t ");
		t[strcspn(t, "\t\n")] = '\0';
		copy_str(v[n].text, sizeof(v[n].text), t);
		n++;
	}
	pclose(f);
	return n;
}

/* ---- the checks ------------------------------------------------------- */

/* Linker markers that share an address with the first or last function;
 * nm lists them as text symbols. */
static bool
is_marker(const char *name)
{
	return strcmp(name, "runtime.text") == 0 ||
	       strcmp(name, "runtime.etext") == 0 ||
	       strcmp(name, "go.buildid") == 0 ||
	       strcmp(name, "go:buildid") == 0;
}

/* Every Go function of the binary: go_func_at() at its entry and at its
 * last byte (nm's size; the padding up to the next function is in no
 * pc-value table) gives that entry; symbolize() names it as nm does. */
/* go_fn_by_name() finds each Go function nm lists by its name, at nm's
 * address, and refuses a name nm lists twice. */
static void
check_by_name(const char *what, struct elfimg *img, const struct nmsym *v,
	      size_t n)
{
	size_t i, j, checked = 0, bad = 0;
	struct go_func_info gi;
	struct go_fn fn;
	bool dup, found;
	char msg[256];

	for (i = 0; i < n; i++) {
		if (is_marker(v[i].name) ||
		    strncmp(v[i].name, "type..", 6) == 0 ||
		    go_func_at(img, v[i].addr, &gi) != 0 ||
		    gi.entry != v[i].addr)
			continue;
		dup = false;
		for (j = 0; j < n && !dup; j++)
			dup = j != i && strcmp(v[j].name, v[i].name) == 0;
		found = go_fn_by_name(img, v[i].name, &fn);
		checked++;
		if (dup ? found : !found || fn.entry != v[i].addr) {
			if (bad++ < 3)
				printf("# %s: %s at %#" PRIx64 ": by name "
				       "%s %#" PRIx64 "\n", what, v[i].name,
				       v[i].addr, found ? "at" : "none",
				       fn.entry);
		}
	}
	snprintf(msg, sizeof(msg), "%s: go_fn_by_name finds %zu functions "
		 "at nm's address (%zu wrong)", what, checked, bad);
	CHECK(checked > 1000 && bad == 0, msg);
	CHECK(!go_fn_by_name(img, "runtime.noSuchFunction", &fn) &&
	      !go_fn_by_name(img, "", &fn), "no function by a name not there");
}

static void
check_functions(const char *what, struct elfimg *img, const struct nmsym *v,
		size_t n, bool cgo)
{
	size_t i, go = 0, bad_entry = 0, bad_name = 0, not_go = 0;
	struct go_func_info gi;
	struct sym_info si;
	char msg[256];

	for (i = 0; i < n; i++) {
		uint64_t last = v[i].addr + (v[i].size ? v[i].size - 1 : 0);

		if (is_marker(v[i].name))
			continue;
		if (go_func_at(img, v[i].addr, &gi) != 0) {
			not_go++;
			continue;
		}
		go++;
		if (gi.entry != v[i].addr || last >= gi.end ||
		    go_func_at(img, last, &gi) != 0 || gi.entry != v[i].addr) {
			if (bad_entry++ < 3)
				printf("# %s: %s at %#" PRIx64 ": entry "
				       "%#" PRIx64 "\n", what, v[i].name,
				       v[i].addr, gi.entry);
			continue;
		}
		/* Generated equality functions: .gopclntab shortens array
		 * lengths to "[...]" (the names Go prints), nm has the full
		 * type, with spaces, which sscanf cuts. check_lines() checks
		 * them against go tool addr2line. */
		if (strncmp(v[i].name, "type..", 6) == 0)
			continue;
		if (symbolize(img, v[i].addr, &si) != 0 || si.n == 0 ||
		    strcmp(si.frames[si.n - 1].name, v[i].name) != 0 ||
		    si.entry != v[i].addr) {
			if (bad_name++ < 3)
				printf("# %s: %#" PRIx64 " is %s, symbolize "
				       "says %s\n", what, v[i].addr, v[i].name,
				       si.n ? si.frames[si.n - 1].name : "-");
		}
	}
	snprintf(msg, sizeof(msg), "%s: %zu of %zu text symbols are Go "
		 "functions", what, go, n);
	CHECK(go > 1000 && (cgo || not_go == 0), msg);
	snprintf(msg, sizeof(msg), "%s: every Go function found at its entry "
		 "and last byte (%zu wrong)", what, bad_entry);
	CHECK(bad_entry == 0, msg);
	snprintf(msg, sizeof(msg), "%s: every Go function named as go tool nm "
		 "names it (%zu wrong)", what, bad_name);
	CHECK(bad_name == 0, msg);
}

/* file:line and names at three places in every function, against go tool
 * addr2line on bin (which may be the stripped twin of the nm source). */
static void
check_lines(const char *what, const char *bin, struct elfimg *img,
	    const struct nmsym *v, size_t n)
{
	static uint64_t addrs[3 * MAX_FUNCS];
	static char names[3 * MAX_FUNCS][256], files[3 * MAX_FUNCS][512];
	static int lines[3 * MAX_FUNCS];
	size_t i, k = 0, bad = 0, known = 0;
	struct go_func_info gi;
	struct sym_info si;
	char msg[256];

	for (i = 0; i < n && k + 3 <= 3 * MAX_FUNCS; i++) {
		if (go_func_at(img, v[i].addr, &gi) != 0)
			continue;
		addrs[k++] = gi.entry;
		addrs[k++] = gi.entry + (gi.end - gi.entry) / 2;
		addrs[k++] = gi.end - 1;
	}
	if (go_addr2line(bin, addrs, k, names, files, lines) < 0) {
		CHECK(0, "go tool addr2line runs");
		return;
	}
	for (i = 0; i < k; i++) {
		const struct sym_frame *inner, *outer;

		if (symbolize(img, addrs[i], &si) != 0 || si.n == 0) {
			bad++;
			continue;
		}
		inner = &si.frames[0];
		outer = &si.frames[si.n - 1];
		if (lines[i] > 0)
			known++;
		if (strcmp(outer->name, names[i]) != 0 ||
		    (lines[i] > 0 && (strcmp(inner->file, files[i]) != 0 ||
				      inner->line != lines[i]))) {
			if (bad++ < 5)
				printf("# %s: %#" PRIx64 ": %s %s:%d, go tool "
				       "addr2line: %s %s:%d\n", what, addrs[i],
				       outer->name, inner->file, inner->line,
				       names[i], files[i], lines[i]);
		}
	}
	snprintf(msg, sizeof(msg), "%s: name and file:line agree with go tool "
		 "addr2line at %zu addresses (%zu with a line; %zu differ)",
		 what, k, known, bad);
	CHECK(k > 3000 && known > k / 2 && bad == 0, msg);
}

/* main.mixC is inlined into main.hotC: the multiply in hotC's loop is
 * mixC's line, called from hotC's. The instructions come from dis_bin,
 * which is bin or, for a binary without symbols that objdump cannot
 * disassemble by name, its twin with symbols (same source and flags but
 * -s -w); go tool addr2line on bin confirms the address is in hotC. */
static void
check_inline(const char *what, const char *dis_bin, const char *bin,
	     struct elfimg *img)
{
	static char name[1][256], file[1][512];
	struct insn ins[128];
	struct sym_info si;
	size_t n, i;
	bool found = false;
	char msg[256];
	int line[1];

	n = go_objdump(dis_bin, "main.hotC", ins, 128);
	for (i = 0; i < n && !found; i++) {
		if (strncmp(ins[i].text, "IMULQ", 5) != 0)
			continue;
		if (go_addr2line(bin, &ins[i].addr, 1, name, file, line) < 0 ||
		    strcmp(name[0], "main.hotC") != 0)
			continue;
		found = symbolize(img, ins[i].addr, &si) == 0 && si.n == 2 &&
			strcmp(si.frames[0].name, "main.mixC") == 0 &&
			strcmp(si.frames[1].name, "main.hotC") == 0 &&
			si.frames[1].line > 0 &&
			si.frames[1].line != si.frames[0].line &&
			strstr(si.frames[1].file, "gohot/main.go") != NULL;
		if (si.n == 2)
			printf("# %s: %#" PRIx64 ": %s %s:%d in %s %s:%d\n",
			       what, ins[i].addr, si.frames[0].name,
			       si.frames[0].file, si.frames[0].line,
			       si.frames[1].name, si.frames[1].file,
			       si.frames[1].line);
	}
	snprintf(msg, sizeof(msg), "%s: the multiply in main.hotC is the "
		 "inlined main.mixC called from main.hotC", what);
	CHECK(found, msg);
}

/* SP deltas where objdump shows what the prologue did. */
static void
check_spdelta(const char *what, const char *bin, struct elfimg *img)
{
	struct insn ins[128];
	struct go_func_info gi;
	unsigned long frame = 0;
	size_t n, i;
	bool ok, seen_store = false, seen_call = false;
	char msg[256];

	/* hotA: frameless, delta 0 everywhere */
	n = go_objdump(bin, "main.hotA", ins, 128);
	ok = n > 3;
	for (i = 0; i < n; i++) {
		if (strstr(ins[i].text, "SP") &&
		    strncmp(ins[i].text, "RET", 3) != 0)
			ok = false;	/* it was supposed to be frameless */
		if (go_func_at(img, ins[i].addr, &gi) != 0 ||
		    gi.spdelta != 0 || gi.bp_saved)
			ok = false;
	}
	snprintf(msg, sizeof(msg), "%s: main.hotA is frameless: SP delta 0 at "
		 "its %zu instructions", what, n);
	CHECK(ok, msg);

	/* chainA1: SUBQ $frame, SP; MOVQ BP, frame-8(SP); LEAQ ...; CALL;
	 * MOVQ frame-8(SP), BP; ADDQ $frame, SP; RET */
	n = go_objdump(bin, "main.chainA1", ins, 128);
	ok = n > 5 && go_func_at(img, ins[0].addr, &gi) == 0 &&
	     gi.spdelta == 0 && !gi.bp_saved;
	for (i = 0; i + 1 < n && ok; i++) {
		if (sscanf(ins[i].text, "SUBQ $0x%lx, SP", &frame) == 1) {
			/* next: the BP store, not done yet */
			ok = go_func_at(img, ins[i + 1].addr, &gi) == 0 &&
			     gi.spdelta == (int32_t)frame && !gi.bp_saved &&
			     strncmp(ins[i + 1].text, "MOVQ BP, ", 9) == 0 &&
			     go_func_at(img, ins[i + 2].addr, &gi) == 0 &&
			     gi.spdelta == (int32_t)frame && gi.bp_saved;
			seen_store = true;
		}
		if (frame && strncmp(ins[i].text, "CALL main.hotA", 14) == 0) {
			/* a caller frame: return address - 1 */
			ok = go_func_at(img, ins[i + 1].addr - 1, &gi) == 0 &&
			     gi.spdelta == (int32_t)frame && gi.bp_saved;
			seen_call = true;
		}
		if (strncmp(ins[i].text, "RET", 3) == 0)
			ok = go_func_at(img, ins[i].addr, &gi) == 0 &&
			     gi.spdelta == 0 && !gi.bp_saved;
	}
	snprintf(msg, sizeof(msg), "%s: main.chainA1's SP delta is 0, then "
		 "its frame size %#lx, BP saved from the instruction after the "
		 "store, 0 again at RET", what, frame);
	CHECK(ok && seen_store && seen_call, msg);
}

static void
check_specials(const char *what, struct elfimg *img, const struct nmsym *v,
	       size_t n)
{
	static const struct {
		const char *name;
		bool top, spwrite, injected;
	} want[] = {
		{ "runtime.goexit", true, false, false },
		{ "runtime.mstart", true, false, false },
		{ "runtime.rt0_go", true, true, false },
		{ "runtime.mcall", false, true, false },
		{ "runtime.systemstack", false, true, false },
		{ "runtime.morestack", false, true, false },
		{ "runtime.sigreturn", false, true, false },
		{ "runtime.asyncPreempt", false, false, true },
		{ "runtime.sigpanic", false, false, true },
		{ "runtime.cgocallback", false, false, false },
		{ "main.doRound", false, false, false },
	};
	struct go_func_info gi;
	const struct nmsym *s;
	char msg[256];
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		s = nm_find(v, n, want[i].name);
		/* linked in only with cgo */
		if (!s && strcmp(want[i].name, "runtime.cgocallback") == 0)
			continue;
		snprintf(msg, sizeof(msg), "%s: %s: top %d, spwrite %d, "
			 "injected %d", what, want[i].name, want[i].top,
			 want[i].spwrite, want[i].injected);
		CHECK(s && go_func_at(img, s->addr, &gi) == 0 &&
		      gi.top == want[i].top &&
		      gi.spwrite == want[i].spwrite &&
		      gi.injected == want[i].injected, msg);
	}
}

/* C functions of a cgo binary are not Go; symbolize() still names them
 * from the ELF symbol table. */
static void
check_cgo_c(struct elfimg *img, const struct nmsym *v, size_t n)
{
	static const char *const cfuncs[] = { "crosscall_amd64", "x_cgo_init",
					      "_start" };
	struct go_func_info gi;
	struct sym_info si;
	const struct nmsym *s;
	char msg[256];
	size_t i;

	for (i = 0; i < sizeof(cfuncs) / sizeof(cfuncs[0]); i++) {
		s = nm_find(v, n, cfuncs[i]);
		snprintf(msg, sizeof(msg), "cgo: %s is C: not a Go function, "
			 "named by the ELF symbol table", cfuncs[i]);
		CHECK(s && go_func_at(img, s->addr, &gi) == -ENOENT &&
		      symbolize(img, s->addr, &si) == 0 && si.n > 0 &&
		      strcmp(si.frames[si.n - 1].name, cfuncs[i]) == 0, msg);
	}
}

static void
check_not_go(void)
{
	char self[PATH_MAX];
	struct go_func_info gi;
	struct elfimg *img;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	img = open_image(self);
	CHECK(img && !elfimg_is_go(img) &&
	      go_func_at(img, (uintptr_t)check_not_go, &gi) == -ENOENT,
	      "a C binary (this test) is not Go");
	elfimg_put(img);
	CHECK(!elfimg_is_go(NULL), "elfimg_is_go(NULL) is false");
}

int
main(void)
{
	static struct nmsym syms[MAX_FUNCS];
	char dwarf[2 * PATH_MAX], stripped[2 * PATH_MAX], cgo[2 * PATH_MAX];
	struct elfimg *img;
	size_t n;

	check_not_go();
	if (!go_targets(dwarf, stripped, cgo, sizeof(dwarf)))
		return check_report();
	if (!mkdtemp(tmpdir)) {
		CHECK(0, "mkdtemp");
		return check_report();
	}

	/* DWARF build: nm has symbols */
	n = go_nm(dwarf, syms, MAX_FUNCS);
	CHECK(n > 1000, "go tool nm lists the DWARF build's functions");
	img = open_image(dwarf);
	CHECK(img && elfimg_is_go(img), "gohot has a Go symbol table");
	if (img) {
		check_functions("gohot", img, syms, n, false);
		check_by_name("gohot", img, syms, n);
		check_lines("gohot", dwarf, img, syms, n);
		check_inline("gohot", dwarf, dwarf, img);
		check_spdelta("gohot", dwarf, img);
		check_specials("gohot", img, syms, n);
	}
	elfimg_put(img);

	/* -s -w: no symbols; the DWARF build's addresses are text addresses
	 * of this one too, and go tool addr2line reads its .gopclntab */
	img = open_image(stripped);
	CHECK(img && elfimg_is_go(img), "gohot-stripped has a Go symbol table");
	if (img) {
		check_lines("gohot-stripped", stripped, img, syms, n);
		check_inline("gohot-stripped", dwarf, stripped, img);
	}
	elfimg_put(img);

	n = go_nm(cgo, syms, MAX_FUNCS);
	CHECK(n > 1000, "go tool nm lists the cgo build's functions");
	img = open_image(cgo);
	CHECK(img && elfimg_is_go(img), "gohot-cgo has a Go symbol table");
	if (img) {
		check_functions("gohot-cgo", img, syms, n, true);
		check_lines("gohot-cgo", cgo, img, syms, n);
		check_inline("gohot-cgo", cgo, cgo, img);
		check_specials("gohot-cgo", img, syms, n);
		check_cgo_c(img, syms, n);
	}
	elfimg_put(img);

	rmdir(tmpdir);
	symbolize_shutdown();
	return check_report();
}
