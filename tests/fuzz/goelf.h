/* goelf.h - wrap the parts of a Go binary that space/gopclntab.c
 * reads into a minimal ELF image, for fuzz_gopclntab (and its seeds, and
 * fuzz_elf's seeds, made by mkseeds.c).
 *
 * Input format, one byte string:
 *
 *   u16 LE  GL   bytes of inline-tree data at the end (moduledata.gofunc)
 *   u16 LE  TL   bytes of code after the table (.text)
 *   ...     the .gopclntab section: whatever is left
 *   TL      .text bytes
 *   GL      gofunc bytes
 *
 * (each length cut to what the input holds). The image has one PT_LOAD
 * (R+X) over the whole file and the sections .text, .gopclntab,
 * .noptrdata and .shstrtab. It is placed so that .text starts at the
 * pcHeader's textStart when that is set (otherwise at 0x400000 + its
 * offset, which is where the reader then takes runtime.text from), and
 * .noptrdata holds a moduledata whose pcHeader, funcnametab and text
 * fields match the table, so that its gofunc field (at the offsets of
 * both layouts) finds the inline-tree bytes.
 */
#ifndef PROFD_TESTS_GOELF_H
#define PROFD_TESTS_GOELF_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GOELF_BASE	0x400000ULL
#define GOELF_MD_SIZE	336	/* up to moduledata.gofunc of Go 1.20+ */

struct goelf_parts {
	const uint8_t *pcln, *text, *gofunc;
	size_t pcln_len, text_len, gofunc_len;
};

static inline uint64_t
goelf_le(const uint8_t *p, size_t len, size_t off, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		if (off + i < len)
			v |= (uint64_t)p[off + i] << (8 * i);
	return v;
}

/* Split a fuzz input into its parts (they point into data). */
static inline void
goelf_split(const uint8_t *data, size_t size, struct goelf_parts *pt)
{
	size_t gl = (size_t)goelf_le(data, size, 0, 2);
	size_t tl = (size_t)goelf_le(data, size, 2, 2);
	size_t rem = size > 4 ? size - 4 : 0;

	if (gl > rem)
		gl = rem;
	if (tl > rem - gl)
		tl = rem - gl;
	pt->pcln = data + (size > 4 ? 4 : size);
	pt->pcln_len = rem - gl - tl;
	pt->text = pt->pcln + pt->pcln_len;
	pt->text_len = tl;
	pt->gofunc = pt->text + tl;
	pt->gofunc_len = gl;
}

static inline size_t
goelf_align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static inline void
goelf_put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* textStart as the reader will use it: the header's, else .text's. */
static inline uint64_t
goelf_text(const struct goelf_parts *pt, uint64_t *base)
{
	uint64_t ts = goelf_le(pt->pcln, pt->pcln_len, 24, 8);
	const size_t text_off = 128;

	*base = ts >= text_off ? ts - text_off : GOELF_BASE;
	return ts ? ts : *base + text_off;
}

/* The ELF image of pt; malloc'd, *len bytes. NULL when out of memory. */
static inline uint8_t *
goelf_build(const struct goelf_parts *pt, size_t *len)
{
	static const char shstr[] =
		"\0.text\0.gopclntab\0.noptrdata\0.shstrtab";
	enum { SH_TEXT = 1, SH_PCLN = 7, SH_NOPTR = 18, SH_SHSTR = 29 };
	size_t t = 128, p, n, g, s, h, total;
	uint64_t base, text = goelf_text(pt, &base);
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
	Elf64_Shdr *sh;
	uint8_t *img;

	p = goelf_align8(t + pt->text_len);
	n = goelf_align8(p + pt->pcln_len);
	g = goelf_align8(n + GOELF_MD_SIZE);
	s = g + pt->gofunc_len;
	h = goelf_align8(s + sizeof(shstr));
	total = h + 5 * sizeof(Elf64_Shdr);
	img = calloc(1, total);
	if (!img)
		return NULL;

	eh = (Elf64_Ehdr *)img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = base + t;
	eh->e_phoff = sizeof(*eh);
	eh->e_shoff = h;
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = 5;
	eh->e_shstrndx = 4;

	ph = (Elf64_Phdr *)(img + sizeof(*eh));
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_X;
	ph->p_offset = 0;
	ph->p_vaddr = ph->p_paddr = base;
	ph->p_filesz = ph->p_memsz = total;
	ph->p_align = 0x1000;

	if (pt->text_len)
		memcpy(img + t, pt->text, pt->text_len);
	if (pt->pcln_len)
		memcpy(img + p, pt->pcln, pt->pcln_len);
	/* moduledata: pcHeader, funcnametab, text, gofunc (1.18, 1.20+) */
	goelf_put64(img + n + 0, base + p);
	goelf_put64(img + n + 8,
		    base + p + goelf_le(pt->pcln, pt->pcln_len, 32, 8));
	goelf_put64(img + n + 176, text);
	goelf_put64(img + n + 304, base + g);
	goelf_put64(img + n + 320, base + g);
	if (pt->gofunc_len)
		memcpy(img + g, pt->gofunc, pt->gofunc_len);
	memcpy(img + s, shstr, sizeof(shstr));

	sh = (Elf64_Shdr *)(img + h);
	sh[1] = (Elf64_Shdr){ .sh_name = SH_TEXT, .sh_type = SHT_PROGBITS,
			      .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
			      .sh_addr = base + t, .sh_offset = t,
			      .sh_size = pt->text_len, .sh_addralign = 16 };
	sh[2] = (Elf64_Shdr){ .sh_name = SH_PCLN, .sh_type = SHT_PROGBITS,
			      .sh_flags = SHF_ALLOC, .sh_addr = base + p,
			      .sh_offset = p, .sh_size = pt->pcln_len,
			      .sh_addralign = 8 };
	sh[3] = (Elf64_Shdr){ .sh_name = SH_NOPTR, .sh_type = SHT_PROGBITS,
			      .sh_flags = SHF_ALLOC | SHF_WRITE,
			      .sh_addr = base + n, .sh_offset = n,
			      .sh_size = GOELF_MD_SIZE, .sh_addralign = 8 };
	sh[4] = (Elf64_Shdr){ .sh_name = SH_SHSTR, .sh_type = SHT_STRTAB,
			      .sh_offset = s, .sh_size = sizeof(shstr),
			      .sh_addralign = 1 };
	*len = total;
	return img;
}

#endif /* PROFD_TESTS_GOELF_H */
