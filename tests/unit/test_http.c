/* test_http - request parsing helpers (http/server.c). */
#include <errno.h>
#include <string.h>

#include "http/http.h"
#include "tests/unit/check.h"

/* since= and until= of /debug/pprof/history. */
static void
test_parse_time(void)
{
	int64_t ns = 0;

	CHECK(http_parse_time("1764766800", &ns) == 0 &&
		      ns == 1764766800LL * 1000000000LL,
	      "Unix seconds");
	CHECK(http_parse_time("1764766800.25", &ns) == 0 &&
		      ns == 1764766800LL * 1000000000LL + 250000000LL,
	      "Unix seconds with a fraction");
	CHECK(http_parse_time("2025-12-03T13:00:00Z", &ns) == 0 &&
		      ns == 1764766800LL * 1000000000LL,
	      "RFC 3339, UTC");
	CHECK(http_parse_time("2025-12-03T14:00:00.5+01:00", &ns) == 0 &&
		      ns == 1764766800LL * 1000000000LL + 500000000LL,
	      "RFC 3339 with a fraction and an offset");
	CHECK(http_parse_time("2025-12-03t12:30:00-00:30", &ns) == 0 &&
		      ns == 1764766800LL * 1000000000LL,
	      "RFC 3339, lower-case t, negative offset");
	CHECK_EQ_INT(http_parse_time("2025-02-30T00:00:00Z", &ns), -EINVAL,
		     "February 30");
	CHECK_EQ_INT(http_parse_time("2025-12-03T13:00:00", &ns), -EINVAL,
		     "no zone");
	CHECK_EQ_INT(http_parse_time("2025-12-03", &ns), -EINVAL, "a date");
	CHECK_EQ_INT(http_parse_time("2025-12-03T25:00:00Z", &ns), -EINVAL,
		     "hour 25");
	CHECK_EQ_INT(http_parse_time("", &ns), -EINVAL, "empty");
	CHECK_EQ_INT(http_parse_time("-5", &ns), -EINVAL, "negative");
	CHECK_EQ_INT(http_parse_time("12x", &ns), -EINVAL, "garbage after");
	CHECK_EQ_INT(http_parse_time("1.", &ns), -EINVAL, "a dot alone");
	CHECK_EQ_INT(http_parse_time("9999999999999999", &ns), -EINVAL,
		     "too far");
}

int
main(void)
{
	unsigned v = 0;
	uint64_t a[4];
	const char *rest;
	pid_t pid;

	CHECK_EQ_INT(http_parse_uint("30", 1, 600, &v), 0, "30");
	CHECK_EQ_INT(v, 30, "value");
	CHECK_EQ_INT(http_parse_uint("0", 1, 600, &v), -ERANGE, "0 < min");
	CHECK_EQ_INT(http_parse_uint("601", 1, 600, &v), -ERANGE, "601 > max");
	CHECK_EQ_INT(http_parse_uint("abc", 1, 600, &v), -EINVAL, "abc");
	CHECK_EQ_INT(http_parse_uint("-1", 1, 600, &v), -EINVAL, "-1");
	CHECK_EQ_INT(http_parse_uint("1.5", 1, 600, &v), -EINVAL, "1.5");
	CHECK_EQ_INT(http_parse_uint("", 1, 600, &v), -EINVAL, "empty");
	CHECK_EQ_INT(http_parse_uint("99999999999999999999", 1, 600, &v),
		     -ERANGE, "overflow");

	test_parse_time();

	CHECK_EQ_INT(http_split_pid("/debug/pprof/profile", &pid, &rest), 0,
		     "no prefix");
	CHECK(pid == 0 && strcmp(rest, "/debug/pprof/profile") == 0,
	      "no prefix: pid 0, path unchanged");
	CHECK_EQ_INT(http_split_pid("/pid/1234/debug/pprof/", &pid, &rest), 0,
		     "prefix");
	CHECK(pid == 1234 && strcmp(rest, "/debug/pprof/") == 0,
	      "prefix split");
	CHECK_EQ_INT(http_split_pid("/pid/77", &pid, &rest), 0, "bare prefix");
	CHECK(pid == 77 && strcmp(rest, "/") == 0, "bare prefix -> /");
	CHECK_EQ_INT(http_split_pid("/pid/abc/x", &pid, &rest), -EINVAL,
		     "non-numeric pid");
	CHECK_EQ_INT(http_split_pid("/pid/0/x", &pid, &rest), -EINVAL,
		     "pid 0");
	CHECK_EQ_INT(http_split_pid("/pid/12x/", &pid, &rest), -EINVAL,
		     "trailing junk");
	CHECK_EQ_INT(http_split_pid("/pid/99999999999/", &pid, &rest),
		     -EINVAL, "overflow");

	CHECK_EQ_INT(http_parse_symbol_addrs("0x401000+0x4010ff", 17, a, 4), 2,
		     "two addresses");
	CHECK(a[0] == 0x401000 && a[1] == 0x4010ff, "values");
	CHECK_EQ_INT(http_parse_symbol_addrs("401000", 6, a, 4), 1,
		     "without 0x");
	CHECK_EQ_INT(http_parse_symbol_addrs("0x1+0x2+0x3+0x4+0x5", 19, a, 4),
		     4, "capped at max");
	CHECK_EQ_INT(http_parse_symbol_addrs("0xzz", 4, a, 4), -EINVAL,
		     "garbage");
	CHECK_EQ_INT(http_parse_symbol_addrs("0x", 2, a, 4), -EINVAL,
		     "no digits");
	CHECK_EQ_INT(http_parse_symbol_addrs("0x11111111111111111", 19, a, 4),
		     -EINVAL, "too many digits");
	CHECK_EQ_INT(http_parse_symbol_addrs("", 0, a, 4), 0, "empty");
	return check_report();
}
