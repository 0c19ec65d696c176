/* rootfile.c - the one way profd opens a file that a target controls.
 *
 * Binaries, libraries, debug files and JIT maps found through a target's
 * root are an adversary's data: a symlink in a container may point at the
 * host's /etc/shadow, a FIFO at a debug-file path would block an open or a
 * read forever, a device may do something when opened. rootfile_open()
 * resolves the path inside the target's root (openat2 RESOLVE_IN_ROOT: an
 * absolute symlink starts again at that root and ".." stops there),
 * refuses /proc-style magic links, opens the result O_PATH first (no side
 * effect whatever it is), accepts only a regular file no larger than a
 * cap, and only then reopens it for reading, non-blocking. A kernel older
 * than openat2 (Linux 5.6) gets a walk that follows no symlink at all.
 */
#include "space/space.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* Without openat2: one component at a time, O_NOFOLLOW, no "..": a path
 * that needs a symlink or a parent directory is refused (ELOOP, EXDEV)
 * rather than resolved by hand. */
static int
walk_nofollow(int dirfd, const char *path, bool nofollow_last)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *e;
	int fd = -1, cur = dirfd, flags;
	size_t n;

	(void)nofollow_last;	/* every component is O_NOFOLLOW here */
	while (*p == '/')
		p++;
	if (!*p) {
		errno = EISDIR;
		return -1;
	}
	while (*p) {
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		while (*p == '/')
			p++;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			errno = EXDEV;
			goto fail;
		}
		flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
		fd = openat(cur, comp, flags);
		if (cur != dirfd)
			close(cur);
		cur = dirfd;
		if (fd < 0)
			return -1;
		if (*p) {
			struct stat st;

			/* O_PATH|O_NOFOLLOW opened a symlink itself */
			if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
				close(fd);
				errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
				return -1;
			}
		}
		cur = fd;
	}
	return cur == dirfd ? -1 : cur;
fail:
	if (cur != dirfd)
		close(cur);
	return -1;
}

/* An O_PATH fd for path under dirfd, resolved as the flags say. */
static int
open_path(int dirfd, const char *path, unsigned flags)
{
	struct open_how how;
	int fd;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	if (flags & ROOTFILE_NOFOLLOW)
		how.flags |= O_NOFOLLOW;
	how.resolve = RESOLVE_NO_MAGICLINKS;
	if (!(flags & ROOTFILE_HOST))
		how.resolve |= RESOLVE_IN_ROOT;
	fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM) &&
	    !(flags & ROOTFILE_HOST))
		/* no openat2 (or a seccomp profile that forbids it) */
		return walk_nofollow(dirfd, path, flags & ROOTFILE_NOFOLLOW);
	if (fd < 0 && errno == ENOSYS)
		return open(path, O_PATH | O_CLOEXEC |
				      (flags & ROOTFILE_NOFOLLOW ? O_NOFOLLOW
								 : 0));
	return fd;
}

int
rootfile_open(pid_t pid, const char *path, unsigned flags, uint64_t max,
	      struct stat *stp)
{
	char self[64];
	struct stat st, st2;
	int root = AT_FDCWD, pfd, fd, e;

	if (!path || !*path)
		return -ENOENT;
	if (!(flags & ROOTFILE_HOST)) {
		if (pid <= 0)
			return -EINVAL;
		snprintf(self, sizeof(self), "/proc/%d/root", (int)pid);
		root = open(self, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			return errno == ENOENT ? -ESRCH : -errno;
	}
	pfd = open_path(root, path, flags);
	e = errno;
	if (root >= 0)
		close(root);
	if (pfd < 0)
		return -e;
	if (fstat(pfd, &st) < 0) {
		e = errno;
		close(pfd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(pfd);
		return S_ISLNK(st.st_mode) ? -ELOOP : -EFTYPE_PROFD;
	}
	if (max && (uint64_t)st.st_size > max) {
		close(pfd);
		return -EFBIG;
	}
	/* Reopen the very inode for reading; O_NONBLOCK in case it is
	 * swapped for something else in between, which fstat then sees. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	e = errno;
	close(pfd);
	if (fd < 0)
		return -e;
	if (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev ||
	    st2.st_ino != st.st_ino || !S_ISREG(st2.st_mode)) {
		close(fd);
		return -ESTALE;
	}
	if (stp)
		*stp = st2;
	return fd;
}

const char *
rootfile_path_in_root(pid_t pid, const char *path, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	if (pid <= 0 || !path || path[0] != '/' || len < 2)
		return path;
	snprintf(link, sizeof(link), "/proc/%d/root", (int)pid);
	n = readlink(link, buf, len - 1);
	if (n <= 1 || (size_t)n >= len - 1 || buf[0] != '/')
		return path;	/* "/" itself, or unknown */
	buf[n] = '\0';
	if (strncmp(path, buf, (size_t)n) != 0 || path[n] != '/')
		return path;
	return path + n;
}

const char *
rootfile_strerror(int rc)
{
	switch (rc) {
	case -EFTYPE_PROFD:
		return "not a regular file";
	case -ELOOP:
		return "a symbolic link that is not followed";
	case -EXDEV:
		return "a path that would leave the target's root";
	case -EFBIG:
		return "larger than profd reads";
	default:
		return strerror(-rc);
	}
}
