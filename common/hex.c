/* hex.c - hexadecimal digits and numbers (see hex.h). */
#include "common/hex.h"

int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
hex_u64(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	int n = 0, d;

	while (p < end && (d = hex_digit(*p)) >= 0) {
		if (n == 16)
			return false;
		v = v << 4 | (uint64_t)d;
		p++;
		n++;
	}
	if (n == 0)
		return false;
	*pp = p;
	*out = v;
	return true;
}
