/* cxx - C++ names: namespaces, a class template, a function template, and an
 * always_inline hot loop inlined into a noinline member function.
 * Built with g++ -O2 -fomit-frame-pointer.
 *
 * Usage: cxx [ALARM_SECONDS]
 *
 * Expected stack, innermost first (names as c++filt prints the mangled
 * names; kernel has no symbol of its own, its name comes from DWARF):
 *   double geo::detail::kernel<double>(double, double, int)   (inlined)
 *   geo::Accumulator<double>::run(int)
 *   double geo::drive<double>(geo::Accumulator<double>&, int)
 *   main
 */
#include "target.h"

namespace geo {

namespace detail {

/* Serially dependent multiply-add: the whole CPU time of run(). */
template <typename T>
__attribute__((always_inline)) inline T
kernel(T acc, T x, int n)
{
	for (int i = 0; i < n; i++)
		acc = acc * x + T(1);
	return acc;
}

} // namespace detail

template <typename T> struct Accumulator {
	T seed;
	__attribute__((noinline, noclone)) T run(int n);
};

template <typename T>
T
Accumulator<T>::run(int n)
{
	return detail::kernel<T>(seed, T(0.5), n);
}

static volatile double sink;

template <typename T>
__attribute__((noinline, noclone)) T
drive(Accumulator<T> &acc, int n)
{
	T r = acc.run(n);
	sink = r;	/* not a tail call: drive stays on the stack */
	return r;
}

} // namespace geo

int
main(int argc, char **argv)
{
	geo::Accumulator<double> acc = { 1.0 };

	target_init(argc > 1 ? argv[1] : NULL);
	target_ready();
	for (;;)
		acc.seed = geo::drive<double>(acc, 1000000);
}
