/* test_proc - /proc parsers and checks (daemon/proc.c, daemon/profile.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/proc.h"
#include "daemon/profile.h"
#include "tests/unit/check.h"

int
main(void)
{
	const char *stat1 =
		"4242 (worker) R 4200 4242 4200 0 -1 4194368 100 3 7 9 50 10 "
		"0 0 20 0 3 0 123456 1000000 200 18446744073709551615 1 1 0 "
		"0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	const char *stat2 =
		"77 (a) b (c)) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
		"999 0 0\n";
	const char *sched = "123456789 2000 17\n";
	struct proc_stat st;
	uint64_t cpu, wait, slices;
	char buf[512], err[256];
	struct agg *a;
	uint64_t pcs1[] = { 0x401000, 0x401100, 0x401200 };
	uint64_t pcs2[] = { 0x401000, 0x401100 };
	size_t len;
	char *p;
	int r;

	CHECK_EQ_INT(proc_parse_stat(stat1, strlen(stat1), &st), 0,
		     "parse stat");
	CHECK_EQ_INT(st.state, 'R', "state");
	CHECK_EQ_STR(st.comm, "worker", "comm");
	CHECK_EQ_INT(st.ppid, 4200, "ppid");
	CHECK_EQ_INT(st.starttime, 123456, "starttime is field 22");
	CHECK_EQ_INT(st.minflt, 100, "minflt is field 10");
	CHECK_EQ_INT(st.majflt, 7, "majflt is field 12 (not cminflt, 11)");
	CHECK_EQ_INT(proc_parse_stat(stat2, strlen(stat2), &st), 0,
		     "comm with spaces and parentheses");
	CHECK_EQ_STR(st.comm, "a) b (c)", "comm up to the last ')'");
	CHECK_EQ_INT(st.state, 'S', "state after tricky comm");
	CHECK_EQ_INT(st.starttime, 999, "starttime after tricky comm");
	CHECK_EQ_INT(st.minflt + st.majflt, 0, "no faults in stat2");
	CHECK_EQ_INT(proc_parse_stat("1 (x) R 1 2", 11, &st), -EINVAL,
		     "truncated stat rejected");
	CHECK_EQ_INT(proc_parse_stat("garbage", 7, &st), -EINVAL,
		     "garbage rejected");

	CHECK_EQ_INT(proc_parse_schedstat(sched, strlen(sched), &cpu, &wait,
					  &slices),
		     0, "parse schedstat");
	CHECK(cpu == 123456789ULL && wait == 2000 && slices == 17,
	      "schedstat fields");
	CHECK_EQ_INT(proc_parse_schedstat("x", 1, &cpu, &wait, &slices),
		     -EINVAL, "bad schedstat");

	/* our own process, read for real */
	snprintf(buf, sizeof(buf), "/proc/%d/stat", (int)getpid());
	r = proc_read(buf, 4096, &p, &len);
	CHECK_EQ_INT(r, 0, "read own stat");
	if (r == 0) {
		CHECK_EQ_INT(proc_parse_stat(p, len, &st), 0,
			     "parse own stat");
		CHECK_EQ_INT(st.state, 'R', "we are running");
		free(p);
	}
	CHECK_EQ_INT(proc_tracer(getpid()), 0, "nobody traces the test");
	CHECK_EQ_INT(proc_check_traceable(getppid(), err, sizeof(err)), 0,
		     "parent is traceable (we are root in CI)");
	CHECK_EQ_INT(proc_check_traceable(0x3ffffff0, err, sizeof(err)),
		     -ESRCH, "missing pid");
	CHECK(strstr(err, "no such process") != NULL,
	      "message says no such process");
	CHECK_EQ_INT(proc_read("/nonexistent", 10, &p, &len), -ENOENT,
		     "proc_read of a missing file");

	a = agg_new(2);
	CHECK(a != NULL, "agg_new");
	CHECK_EQ_INT(agg_add(a, 10, "t10", 0, pcs1, 3, 1, 100), 0, "add");
	CHECK_EQ_INT(agg_add(a, 10, "t10", 0, pcs1, 3, 1, 50), 0, "add same");
	CHECK_EQ_INT(agg_add(a, 11, "t11", 0, pcs1, 3, 1, 7), 0,
		     "same stack, other thread");
	CHECK_EQ_INT(agg_add(a, 10, "t10", 'S', pcs1, 3, 1, 5), 0,
		     "same stack, other state: beyond the cap of 2");
	CHECK_EQ_INT(a->dropped, 1, "a state makes a new entry");
	a->dropped = 0;
	a->samples--;
	CHECK_EQ_INT(a->nlist, 2, "two entries");
	CHECK_EQ_INT(a->list[0]->count, 2, "counts summed");
	CHECK_EQ_INT(a->list[0]->value, 150, "values summed");
	CHECK_EQ_INT(agg_add(a, 10, "t10", 0, pcs2, 2, 1, 1), 0,
		     "beyond the cap");
	CHECK_EQ_INT(a->nlist, 2, "cap holds");
	CHECK_EQ_INT(a->dropped, 1, "dropped counted");
	CHECK_EQ_INT(a->samples, 4, "samples counted");
	CHECK_EQ_STR(agg_thread_name(a, 11), "t11", "thread name kept");
	agg_free(a);

	/* many entries: the table grows and finds them again */
	a = agg_new(100000);
	for (r = 0; r < 20000; r++) {
		uint64_t s[2] = { (uint64_t)r, 42 };

		agg_add(a, 1, "x", 0, s, 2, 1, 1);
	}
	for (r = 0; r < 20000; r++) {
		uint64_t s[2] = { (uint64_t)r, 42 };

		agg_add(a, 1, "x", 0, s, 2, 1, 1);
	}
	CHECK_EQ_INT(a->nlist, 20000, "20000 distinct stacks after growth");
	CHECK(a->list[19999]->count == 2, "found again after growth");
	agg_free(a);
	return check_report();
}
