/* trigger.c - the --trigger parser. See trigger.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/trigger.h"

/* A non-negative decimal number (digits, at most one '.') at *p; *p moves
 * past it. -EINVAL when there is none. */
static int
number(const char **p, double *v)
{
	const char *s = *p;
	double x = 0, scale = 0;
	int digits = 0;

	for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
		if (*s == '.') {
			if (scale != 0)
				return -EINVAL;
			scale = 1;
			continue;
		}
		if (++digits > 15)
			return -EINVAL;
		x = x * 10 + (*s - '0');
		if (scale != 0)
			scale *= 10;
	}
	if (digits == 0)
		return -EINVAL;
	*v = scale != 0 ? x / scale : x;
	*p = s;
	return 0;
}

int
trigger_size(const char **p, uint64_t *bytes)
{
	static const struct {
		const char *s;
		double mul;
	} units[] = {
		{ "KiB", 1024.0 }, { "MiB", 1048576.0 },
		{ "GiB", 1073741824.0 }, { "KB", 1024.0 },
		{ "MB", 1048576.0 }, { "GB", 1073741824.0 },
		{ "K", 1024.0 }, { "M", 1048576.0 }, { "G", 1073741824.0 },
		{ "B", 1.0 }, { "", 1.0 },
	};
	double v;
	size_t i;

	if (number(p, &v) < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].s);

		if (strncmp(*p, units[i].s, n) == 0 &&
		    ((*p)[n] == '\0' || (*p)[n] == '/')) {
			v *= units[i].mul;
			*p += n;
			if (v < 1 || v > 1e18)
				return -EINVAL;
			*bytes = (uint64_t)(v + 0.5);
			return 0;
		}
	}
	return -EINVAL;
}

/* "/DURATION" to the end (config_duration's syntax). */
static int
duration(const char *p, unsigned *seconds)
{
	if (*p != '/')
		return -EINVAL;
	return config_duration(p + 1, 1, TRIGGER_MAX_DUR, seconds);
}

/* N%: 0 < N <= 10000 (a CPU share may be several cores' worth). */
static int
percent(const char **p, double *pct)
{
	if (number(p, pct) < 0 || **p != '%' || *pct <= 0 || *pct > 10000)
		return -EINVAL;
	(*p)++;
	return 0;
}

static void
make_safe(struct trigger *t)
{
	size_t i, o = 0;

	for (i = 0; t->text[i] && o + 1 < sizeof(t->safe); i++) {
		char c = t->text[i];

		if (c == '>' || c == '=')
			continue;
		if (c == '%') {
			if (o + 4 >= sizeof(t->safe))
				break;
			memcpy(t->safe + o, "pct", 3);
			o += 3;
		}
		else if (c == '/')
			t->safe[o++] = '_';
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '-')
			t->safe[o++] = c;
		else
			t->safe[o++] = '_';
	}
	t->safe[o] = '\0';
}

int
trigger_parse(const char *expr, struct trigger *t, char *err, size_t errlen)
{
	const char *p;
	int e = 0;

	memset(t, 0, sizeof(*t));
	if (strlen(expr) >= sizeof(t->text)) {
		snprintf(err, errlen, "--trigger %.40s...: too long", expr);
		return -EINVAL;
	}
	snprintf(t->text, sizeof(t->text), "%s", expr);
	if (strcmp(expr, "exit") == 0) {
		t->kind = TRIG_EXIT;
	} else if (strcmp(expr, "oom") == 0) {
		t->kind = TRIG_OOM;
	} else if (strncmp(expr, "rss-growth>=", 12) == 0) {
		t->kind = TRIG_RSS_GROWTH;
		p = expr + 12;
		e = trigger_size(&p, &t->bytes);
		if (e == 0)
			e = duration(p, &t->seconds);
	} else if (strncmp(expr, "rss>=", 5) == 0) {
		p = expr + 5;
		if (strchr(p, '%')) {
			t->kind = TRIG_RSS_PCT;
			e = percent(&p, &t->pct);
			if (e == 0 && (*p != '\0' || t->pct > 100))
				e = -EINVAL;
		} else {
			t->kind = TRIG_RSS;
			e = trigger_size(&p, &t->bytes);
			if (e == 0 && *p != '\0')
				e = -EINVAL;
		}
	} else if (strncmp(expr, "cpu>=", 5) == 0) {
		t->kind = TRIG_CPU;
		p = expr + 5;
		e = percent(&p, &t->pct);
		if (e == 0)
			e = duration(p, &t->seconds);
	} else {
		e = -EINVAL;
	}
	if (e < 0) {
		snprintf(err, errlen,
			 "invalid --trigger %s: want rss>=SIZE, rss>=N%%, "
			 "rss-growth>=SIZE/DURATION, cpu>=N%%/DURATION, exit "
			 "or oom (SIZE: 512MiB, 1.5GiB; DURATION: 30s, 2m)",
			 expr);
		return -EINVAL;
	}
	make_safe(t);
	return 0;
}
