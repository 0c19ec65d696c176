/* path - file names as a build recorded them, joined and cleaned by their
 * text alone.
 *
 * DWARF names a source file relative to the compilation directory
 * (DW_AT_comp_dir) of the machine that built the target; addr2line joins
 * the two. Such a name is never resolved on the machine profd runs on: it
 * may not exist here, or name something else (a symlink, another root),
 * so nothing here touches the file system. Pure functions: no allocation,
 * any thread, never log.
 */
#ifndef PROFD_COMMON_PATH_H
#define PROFD_COMMON_PATH_H

#include <stddef.h>

/* name joined to dir when name is relative (dir NULL or "": name alone),
 * then cleaned lexically as Go's path.Clean does: runs of '/' become one,
 * "." components go, ".." removes the component before it (at the root it
 * is dropped; at the start of a relative name it stays), no trailing '/';
 * an empty result is ".". Written to buf (len bytes, NUL-terminated).
 * Returns the length of the result, or -ENAMETOOLONG when it does not fit
 * in len - 1 bytes, nor what comes before a ".." that shortens it (buf
 * then holds "" if len > 0); -EINVAL when name is NULL. Any thread. */
int path_join_clean(char *buf, size_t len, const char *dir, const char *name);

#endif /* PROFD_COMMON_PATH_H */
