/* fuzz.h - what the libFuzzer harnesses tests/fuzz/fuzz_NAME.c share.
 *
 * Each harness feeds one parser the bytes libFuzzer hands it, as a target,
 * a container or a client could hand them to profd, and then uses what
 * the parser returned (every string is read, every index followed) so
 * that ASan sees a bad pointer where it is made, not later. Built by
 * `make fuzz-build` with clang -fsanitize=fuzzer,address,undefined into
 * build-fuzz/fuzz/, run by tests/fuzz/run.sh (`make fuzz`, `make check`).
 */
#ifndef PROFD_TESTS_FUZZ_H
#define PROFD_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Stop the run: a broken invariant is a finding like a crash (libFuzzer
 * saves the input). */
#define FUZZ_ASSERT(cond, ...)                                               \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__,       \
				__LINE__, #cond);                            \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

/* Read every byte of s (a NULL s is allowed), so that ASan checks the
 * whole string and the result cannot be optimised away. */
static inline size_t
fuzz_touch(const char *s)
{
	volatile size_t sum = 0;
	size_t i;

	if (!s)
		return 0;
	for (i = 0; s[i]; i++)
		sum += (unsigned char)s[i];
	return sum + i;
}

/* A NUL-terminated malloc'd copy of data[0..size), or abort. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_ASSERT(s != NULL, "out of memory");
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Little-endian integers at data[off..], 0 past the end. */
static inline uint64_t
fuzz_le(const uint8_t *data, size_t size, size_t off, unsigned nbytes)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < nbytes; i++)
		if (off + i < size)
			v |= (uint64_t)data[off + i] << (8 * i);
	return v;
}

#endif /* PROFD_TESTS_FUZZ_H */
