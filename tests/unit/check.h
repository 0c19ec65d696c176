/* check.h - minimal unit test helpers (after Redis' testhelp.h).
 *
 *   CHECK(cond, "what");      one "ok N - what" / "not ok N - what" line
 *   CHECK_EQ_INT(a, b, "what")
 *   CHECK_EQ_STR(a, b, "what")
 *   return check_report();    exit status 0 when every check passed
 */
#ifndef PROFD_CHECK_H
#define PROFD_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_n, check_failed;

#define CHECK(cond, what)                                                    \
	do {                                                                 \
		check_n++;                                                   \
		if (cond) {                                                  \
			printf("ok %d - %s\n", check_n, (what));             \
		} else {                                                     \
			check_failed++;                                      \
			printf("not ok %d - %s (%s:%d: %s)\n", check_n,     \
			       (what), __FILE__, __LINE__, #cond);           \
		}                                                            \
	} while (0)

#define CHECK_EQ_INT(a, b, what)                                             \
	do {                                                                 \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		CHECK(check_a_ == check_b_, (what));                         \
		if (check_a_ != check_b_)                                    \
			printf("#   got %lld, want %lld\n", check_a_, check_b_); \
	} while (0)

#define CHECK_EQ_STR(a, b, what)                                             \
	do {                                                                 \
		const char *check_sa_ = (a), *check_sb_ = (b);               \
		int check_eq_ = check_sa_ && check_sb_ &&                    \
				strcmp(check_sa_, check_sb_) == 0;           \
		CHECK(check_eq_, (what));                                    \
		if (!check_eq_)                                              \
			printf("#   got \"%s\", want \"%s\"\n",              \
			       check_sa_ ? check_sa_ : "(null)",            \
			       check_sb_ ? check_sb_ : "(null)");           \
	} while (0)

static inline int
check_report(void)
{
	printf("1..%d\n# %d passed, %d failed\n", check_n, check_n - check_failed,
	       check_failed);
	return check_failed ? 1 : 0;
}

#endif /* PROFD_CHECK_H */
