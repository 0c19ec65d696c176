/* fuzz_proc - the /proc parsers of daemon/proc.c: stat (whose comm field
 * the target sets to any 15 bytes, ')' and spaces included), schedstat,
 * syscall and the "Key:" lines of status. Every parser gets the whole
 * input. */
#include "tests/fuzz/fuzz.h"

#include "daemon/proc.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "TracerPid", "NSpid", "Uid",
					    "Name", "State", "" };
	const char *buf = (const char *)data;
	struct proc_stat st;
	struct proc_syscall sc;
	uint64_t cpu, wait, slices;
	char val[32], small[1], *text;
	size_t i;

	if (proc_parse_stat(buf, size, &st) == 0) {
		FUZZ_ASSERT(memchr(st.comm, '\0', sizeof(st.comm)) != NULL,
			    "comm not terminated");
		fuzz_touch(st.comm);
		fuzz_touch(proc_state_word(st.state));
	}
	proc_parse_schedstat(buf, size, &cpu, &wait, &slices);
	if (proc_parse_syscall(buf, size, &sc) == 0)
		fuzz_touch(proc_syscall_name(sc.nr));

	/* status text is NUL-terminated by proc_read() */
	text = fuzz_strndup(data, size);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (proc_status_value(text, keys[i], val, sizeof(val)) == 0)
			FUZZ_ASSERT(strlen(val) < sizeof(val), "value overran");
		if (proc_status_value(text, keys[i], small, sizeof(small)) == 0)
			FUZZ_ASSERT(small[0] == '\0', "value overran");
	}
	free(text);
	return 0;
}
