/* mkseeds - write the generated seed inputs of the fuzz harnesses:
 *
 *   DIR/pprof/       profiles from pprof_encode(), raw and gzip'd
 *   DIR/gopclntab/   small Go 1.18, 1.20 and 1.26-style tables in
 *                    fuzz_gopclntab's input format (goelf.h): four
 *                    functions, SP deltas with a frame-pointer prologue
 *                    and a PUSHQ BP one, file:line, a two-deep inline
 *                    tree, runtime.asyncPreempt and a top frame
 *   DIR/elf/         the same tables wrapped into ELF images
 *
 * Usage: mkseeds DIR. The Makefile runs it at build time (and adds small
 * compiled ELF files to DIR/elf/), so that no binary seed is committed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http/http.h"
#include "tests/fuzz/goelf.h"

#define GO_MAGIC_118	0xfffffff0u
#define GO_MAGIC_120	0xfffffff1u

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void
die(const char *what)
{
	fprintf(stderr, "mkseeds: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t nc = (b->len + n) * 2 + 64;
		uint8_t *np = realloc(b->p, nc);

		if (!np)
			die("realloc");
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void
put16(struct buf *b, uint16_t v)
{
	put(b, &v, 2);
}

static void
put32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void
put64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void
putvar(struct buf *b, uint32_t v)
{
	while (v >= 0x80) {
		put8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put8(b, (uint8_t)v);
}

static void
pad4(struct buf *b)
{
	while (b->len % 4)
		put8(b, 0);
}

static void
write_file(const char *dir, const char *name, const void *d, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0)
		die(path);
}

static void
make_dir(const char *dir, const char *sub, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dir, sub);
	if (mkdir(out, 0755) < 0 && errno != EEXIST)
		die(out);
}

/* ---- Go tables -------------------------------------------------------- */

/* A pc-value table: value vals[i] up to function offset ends[i]. */
static uint32_t
pcvalue(struct buf *pctab, const int32_t *vals, const uint32_t *ends,
	size_t n)
{
	uint32_t off = (uint32_t)pctab->len, pc = 0;
	int32_t prev = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t d = (uint32_t)vals[i] - (uint32_t)prev;

		/* zigzag of the signed delta */
		putvar(pctab, (d << 1) ^ (uint32_t)((int32_t)d >> 31));
		putvar(pctab, ends[i] - pc);
		pc = ends[i];
		prev = vals[i];
	}
	put8(pctab, 0);
	return off;
}

struct gofn_spec {
	const char *name;
	uint32_t entry, end;
	int32_t sp[4];
	uint32_t sp_end[4];
	size_t nsp;
	int32_t ln[3];
	uint32_t ln_end[3];
	size_t nln;
	uint8_t file, flag;
	bool inl;		/* has the inline tree */
};

static const struct gofn_spec go_funcs[] = {
	{ "main.main", 0x00, 0x40, { 0, 0x18, 0 }, { 4, 0x3b, 0x40 }, 3,
	  { 10, 11, 12 }, { 0x10, 0x30, 0x40 }, 3, 0, 0, false },
	{ "runtime.asyncPreempt", 0x40, 0x60, { 0, 8 }, { 1, 0x20 }, 2,
	  { 100 }, { 0x20 }, 1, 1, 0, false },
	{ "main.inl", 0x60, 0x80, { 0, 8 }, { 1, 0x20 }, 2,
	  { 20, 30, 40 }, { 0x8, 0x10, 0x20 }, 3, 0, 0, true },
	{ "runtime.goexit", 0x80, 0x90, { 0 }, { 0x10 }, 1,
	  { 200 }, { 0x10 }, 1, 1, 1 /* TOPFRAME */, false },
};
#define NGO (sizeof(go_funcs) / sizeof(go_funcs[0]))

/* fuzz_gopclntab's input for one table layout. text_start 0 makes a
 * Go 1.26-style header (the reader takes .text's address). */
static void
go_table(uint32_t magic, uint64_t text_start, struct buf *out)
{
	static const char *const extra[] = { "main.leaf", "main.mid" };
	struct buf names = { 0 }, cutab = { 0 }, files = { 0 }, pctab = { 0 };
	struct buf pcln = { 0 }, funcs = { 0 }, hdr = { 0 }, text = { 0 };
	struct buf gofunc = { 0 };
	uint32_t nameoff[NGO + 2], inl_tab = 0;
	uint32_t hdrsz = 72, o_cu, o_file, o_pc, o_pcln;
	size_t i;

	for (i = 0; i < NGO + 2; i++) {
		const char *s = i < NGO ? go_funcs[i].name : extra[i - NGO];

		nameoff[i] = (uint32_t)names.len;
		put(&names, s, strlen(s) + 1);
	}
	put(&files, "main.go", 8);
	put(&files, "asm_amd64.s", 12);
	put32(&cutab, 0);
	put32(&cutab, 8);
	put8(&pctab, 0);	/* offset 0: no table */
	{
		/* main.inl: leaf at [8, 0x10), mid at [0x10, 0x18) */
		static const int32_t v[] = { -1, 0, 1, -1 };
		static const uint32_t e[] = { 0x8, 0x10, 0x18, 0x20 };

		inl_tab = pcvalue(&pctab, v, e, 4);
	}

	/* functab, then the _funcs */
	for (i = 0; i < NGO; i++) {
		const struct gofn_spec *f = &go_funcs[i];
		int32_t fileval[1] = { f->file };
		uint32_t fileend[1] = { f->end - f->entry };
		uint32_t sp, fl, ln, npcdata = f->inl ? 3 : 0;
		uint8_t nfuncdata = f->inl ? 4 : 0;

		sp = pcvalue(&pctab, f->sp, f->sp_end, f->nsp);
		fl = pcvalue(&pctab, fileval, fileend, 1);
		ln = pcvalue(&pctab, f->ln, f->ln_end, f->nln);
		pad4(&funcs);
		put32(&pcln, f->entry);
		put32(&pcln, (uint32_t)((NGO + 1) * 8 + funcs.len));
		put32(&funcs, f->entry);	/* entryOff */
		put32(&funcs, nameoff[i]);	/* nameOff */
		put32(&funcs, 0);		/* args */
		put32(&funcs, 0);		/* deferreturn */
		put32(&funcs, sp);
		put32(&funcs, fl);
		put32(&funcs, ln);
		put32(&funcs, npcdata);
		put32(&funcs, 0);		/* cuOffset */
		if (magic == GO_MAGIC_120)
			put32(&funcs, 7);	/* startLine */
		put8(&funcs, 0);		/* funcID */
		put8(&funcs, f->flag);
		put8(&funcs, 0);
		put8(&funcs, nfuncdata);
		if (f->inl) {
			put32(&funcs, 0);	/* pcdata[0], [1] */
			put32(&funcs, 0);
			put32(&funcs, inl_tab);	/* PCDATA_InlTreeIndex */
			put32(&funcs, 0xffffffff);	/* funcdata[0..2] */
			put32(&funcs, 0xffffffff);
			put32(&funcs, 0xffffffff);
			put32(&funcs, 0);	/* FUNCDATA_InlTree */
		}
	}
	put32(&pcln, 0x90);		/* end of the last function */
	put32(&pcln, 0);
	put(&pcln, funcs.p, funcs.len);

	/* inline tree: leaf called from mid's range, mid from the body */
	if (magic == GO_MAGIC_120) {
		put32(&gofunc, 0);		/* funcID, pad */
		put32(&gofunc, nameoff[NGO]);	/* main.leaf */
		put32(&gofunc, 0x10);		/* parentPc: in mid */
		put32(&gofunc, 50);		/* startLine */
		put32(&gofunc, 0);
		put32(&gofunc, nameoff[NGO + 1]);	/* main.mid */
		put32(&gofunc, 0x2);		/* parentPc: in main.inl */
		put32(&gofunc, 60);
	} else {
		put16(&gofunc, 1);		/* parent */
		put16(&gofunc, 0);		/* funcID, pad */
		put32(&gofunc, 0);		/* file */
		put32(&gofunc, 51);		/* line */
		put32(&gofunc, nameoff[NGO]);
		put32(&gofunc, 0x10);
		put16(&gofunc, 0xffff);
		put16(&gofunc, 0);
		put32(&gofunc, 0);
		put32(&gofunc, 61);
		put32(&gofunc, nameoff[NGO + 1]);
		put32(&gofunc, 0x2);
	}

	/* code: main.main's SUBQ/MOVQ BP prologue, asyncPreempt's PUSHQ BP */
	{
		static const uint8_t pro[] = { 0x48, 0x83, 0xec, 0x18, 0x48,
					       0x89, 0x6c, 0x24, 0x10, 0x48,
					       0x8d, 0x6c, 0x24, 0x10 };
		uint8_t code[0x90];

		memset(code, 0xcc, sizeof(code));
		memcpy(code, pro, sizeof(pro));
		code[0x40] = 0x55;
		code[0x41] = 0x48;
		code[0x42] = 0x89;
		code[0x43] = 0xe5;
		code[0x60] = 0x55;
		put(&text, code, sizeof(code));
	}

	o_cu = hdrsz + (uint32_t)names.len;
	o_file = o_cu + (uint32_t)cutab.len;
	o_pc = o_file + (uint32_t)files.len;
	o_pcln = o_pc + (uint32_t)pctab.len;
	put32(&hdr, magic);
	put8(&hdr, 0);
	put8(&hdr, 0);
	put8(&hdr, 1);		/* minLC */
	put8(&hdr, 8);		/* ptrSize */
	put64(&hdr, NGO);
	put64(&hdr, 2);		/* nfiles */
	put64(&hdr, text_start);
	put64(&hdr, hdrsz);
	put64(&hdr, o_cu);
	put64(&hdr, o_file);
	put64(&hdr, o_pc);
	put64(&hdr, o_pcln);

	put16(out, (uint16_t)gofunc.len);
	put16(out, (uint16_t)text.len);
	put(out, hdr.p, hdr.len);
	put(out, names.p, names.len);
	put(out, cutab.p, cutab.len);
	put(out, files.p, files.len);
	put(out, pctab.p, pctab.len);
	put(out, pcln.p, pcln.len);
	put(out, text.p, text.len);
	put(out, gofunc.p, gofunc.len);
	free(names.p);
	free(cutab.p);
	free(files.p);
	free(pctab.p);
	free(pcln.p);
	free(funcs.p);
	free(hdr.p);
	free(text.p);
	free(gofunc.p);
}

static void
go_seeds(const char *top)
{
	static const struct {
		const char *name;
		uint32_t magic;
		uint64_t text;
	} v[] = {
		{ "go118", GO_MAGIC_118, 0x401000 },
		{ "go120", GO_MAGIC_120, 0x401000 },
		{ "go126", GO_MAGIC_120, 0 },
	};
	char gdir[4096], edir[4096], name[64];
	struct goelf_parts pt;
	size_t i, len;

	make_dir(top, "gopclntab", gdir, sizeof(gdir));
	make_dir(top, "elf", edir, sizeof(edir));
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct buf b = { 0 };
		uint8_t *elf;

		go_table(v[i].magic, v[i].text, &b);
		snprintf(name, sizeof(name), "%s.bin", v[i].name);
		write_file(gdir, name, b.p, b.len);
		goelf_split(b.p, b.len, &pt);
		elf = goelf_build(&pt, &len);
		if (!elf)
			die("goelf_build");
		snprintf(name, sizeof(name), "%s.elf", v[i].name);
		write_file(edir, name, elf, len);
		free(elf);
		free(b.p);
	}
}

/* ---- profiles ---------------------------------------------------------- */

static struct pprof *
profile(bool rich)
{
	struct pprof *p = pprof_new();
	struct pprof_line inl[2] = { { 1, 6 }, { 2, 21 } }, one = { 3, 30 };
	struct pprof_label_in lab[] = {
		{ "thread", "main", 0, NULL },
		{ "tid", NULL, 1234, NULL },
		{ "bytes", NULL, -5, "bytes" },
	};
	uint64_t exe, loc[3];
	int64_t v[2] = { 3, 30303030 };
	int rc = 0;

	if (!p)
		die("pprof_new");
	rc |= pprof_add_sample_type(p, "samples", "count");
	rc |= pprof_add_sample_type(p, "cpu", "nanoseconds");
	rc |= pprof_set_period(p, "cpu", "nanoseconds", 10101010);
	pprof_set_time(p, 1700000000000000000, 1000000000);
	if (!rich) {
		rc |= pprof_add_sample(p, NULL, 0, v, 2, NULL, 0);
		if (rc)
			die("profile");
		return p;
	}
	rc |= pprof_add_comment(p, "profd fuzz seed");
	exe = pprof_add_mapping(p, 0x400000, 0x452000, 0x1000,
				"/usr/bin/spin", "0123456789abcdef");
	pprof_add_mapping(p, 0x7f0000028000, 0x7f00001bd000, 0x28000,
			  "/lib/x86_64-linux-gnu/libc.so.6", "");
	if (!exe || pprof_add_function(p, "add_one", "add_one",
				       "/src/spin.h", 4) != 1 ||
	    pprof_add_function(p, "spin", "spin", "/src/spin.c", 18) != 2 ||
	    pprof_add_function(p, "ns::main", "_ZN2ns4mainEv", "", 0) != 3)
		die("profile");
	loc[0] = pprof_add_location(p, exe, 0x401136, inl, 2);
	loc[1] = pprof_add_location(p, exe, 0x40115a, &one, 1);
	loc[2] = pprof_add_location(p, 2, 0x7f0000029000, NULL, 0);
	rc |= pprof_add_sample(p, loc, 3, v, 2, lab, 3);
	rc |= pprof_add_sample(p, loc + 1, 2, v, 2, lab, 1);
	if (rc || !loc[0] || !loc[1] || !loc[2])
		die("profile");
	p->mappings[0].has_functions = true;
	p->mappings[0].has_inline_frames = true;
	return p;
}

static void
pprof_seeds(const char *top)
{
	char dir[4096], name[64];
	unsigned char *out;
	size_t len;
	int rich, gz;

	make_dir(top, "pprof", dir, sizeof(dir));
	for (rich = 0; rich <= 1; rich++) {
		struct pprof *p = profile(rich);

		for (gz = 0; gz <= 1; gz++) {
			if (pprof_encode(p, gz, &out, &len) < 0)
				die("pprof_encode");
			snprintf(name, sizeof(name), "%s.%s",
				 rich ? "rich" : "small", gz ? "pb.gz" : "pb");
			write_file(dir, name, out, len);
			free(out);
		}
		pprof_free(p);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 64;
	}
	if (mkdir(argv[1], 0755) < 0 && errno != EEXIST)
		die(argv[1]);
	go_seeds(argv[1]);
	pprof_seeds(argv[1]);
	return 0;
}
