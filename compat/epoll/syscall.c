// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * syscall(2) of a program linked with -Wl,--wrap=syscall: the epoll system
 * calls by number go to the library, every other number to the C library.
 *
 * Its own object in the archive, pulled in only by --wrap=syscall (it
 * needs __real_syscall, which only that option defines). x86-64 and arm64
 * only: a system call takes at most six register arguments there, so
 * reading six longs forwards any call; the library's own fallbacks to the
 * kernel enter it directly (kep_raw), which --wrap cannot redirect.
 */
#include <stdarg.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__aarch64__)
long __real_syscall(long nr, ...);
long __wrap_syscall(long nr, ...);

long __wrap_syscall(long nr, ...)
{
	va_list ap;
	long a[6], ret;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (kep_syscall(nr, a, &ret))
		return ret;
	return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
#endif
