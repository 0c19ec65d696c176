/* test_trigger - the --trigger parser (daemon/trigger.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/trigger.h"
#include "tests/unit/check.h"

static void
ok(const char *expr, enum trigger_kind kind, uint64_t bytes, double pct,
   unsigned seconds, const char *safe)
{
	struct trigger t;
	char err[256], what[128];
	int r = trigger_parse(expr, &t, err, sizeof(err));

	snprintf(what, sizeof(what), "parse %s", expr);
	CHECK_EQ_INT(r, 0, what);
	if (r < 0)
		return;
	CHECK_EQ_INT(t.kind, kind, what);
	CHECK_EQ_INT(t.bytes, bytes, what);
	CHECK(t.pct == pct, what);
	CHECK_EQ_INT(t.seconds, seconds, what);
	CHECK_EQ_STR(t.safe, safe, what);
	CHECK_EQ_STR(t.text, expr, what);
}

static void
bad(const char *expr)
{
	struct trigger t;
	char err[256], what[128];

	err[0] = '\0';
	snprintf(what, sizeof(what), "reject %s", expr);
	CHECK_EQ_INT(trigger_parse(expr, &t, err, sizeof(err)), -EINVAL, what);
	CHECK(strstr(err, "--trigger") != NULL, what);
}

int
main(void)
{
	ok("rss>=1048576", TRIG_RSS, 1048576, 0, 0, "rss1048576");
	ok("rss>=64MiB", TRIG_RSS, 64ull << 20, 0, 0, "rss64MiB");
	ok("rss>=1.5GiB", TRIG_RSS, 3ull << 29, 0, 0, "rss1.5GiB");
	ok("rss>=512KiB", TRIG_RSS, 512ull << 10, 0, 0, "rss512KiB");
	ok("rss>=80%", TRIG_RSS_PCT, 0, 80, 0, "rss80pct");
	ok("rss-growth>=200MiB/30s", TRIG_RSS_GROWTH, 200ull << 20, 0, 30,
	   "rss-growth200MiB_30s");
	ok("rss-growth>=1GiB/2m", TRIG_RSS_GROWTH, 1ull << 30, 0, 120,
	   "rss-growth1GiB_2m");
	ok("cpu>=90%/20s", TRIG_CPU, 0, 90, 20, "cpu90pct_20s");
	ok("cpu>=250%/10", TRIG_CPU, 0, 250, 10, "cpu250pct_10");
	ok("exit", TRIG_EXIT, 0, 0, 0, "exit");
	ok("oom", TRIG_OOM, 0, 0, 0, "oom");
	bad("");
	bad("rss");
	bad("rss>=");
	bad("rss>=0");
	bad("rss>=12XB");
	bad("rss>=1..5GiB");
	bad("rss>=101%");
	bad("rss>=0%");
	bad("rss>=80%x");
	bad("rss-growth>=200MiB");
	bad("rss-growth>=200MiB/");
	bad("rss-growth>=200MiB/0s");
	bad("rss-growth>=200MiB/2d");
	bad("rss-growth>=200MiB/1.5s");
	bad("rss-growth>=200MiB/2h");
	bad("cpu>=90%");
	bad("cpu>=90/20s");
	bad("cpu>=-5%/20s");
	bad("exits");
	bad("oom ");
	bad("rss>1GiB");
	bad("rss>=99999999999999999999");
	bad("rss-growth>=1MiB/30s/30s");
	return check_report();
}
