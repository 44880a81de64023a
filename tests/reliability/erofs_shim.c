/* A file system that turns read-only under a running controller, at the libc boundary.
 *
 * Loaded with LD_PRELOAD into the site's process only (tests/reliability/test_store_readonly.py).
 * As root, file modes do not stop writes and the kernel refuses `mount -o remount,ro` while
 * files are open for writing, so the real fault cannot be produced here; this is the
 * accepted double. While the file named by GYMCTL_EROFS_TRIGGER exists, every write, pwrite,
 * pwrite64, fsync, fdatasync, ftruncate and ftruncate64 on a file under the directory
 * GYMCTL_EROFS_DIR fails with EROFS, as on a file system remounted read-only; when the file
 * is removed they succeed again. SQLite's unix VFS calls these through the dynamic linker
 * (Python's _sqlite3 links the system libsqlite3.so), so its calls land here.
 */
#define _GNU_SOURCE
#define _LARGEFILE64_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int refused(int fd) {
    const char *dir = getenv("GYMCTL_EROFS_DIR");
    const char *trigger = getenv("GYMCTL_EROFS_TRIGGER");
    if (dir == NULL || trigger == NULL || fd < 0) {
        return 0;
    }
    int saved = errno;
    int refuse = 0;
    if (access(trigger, F_OK) == 0) {
        char link[64];
        char target[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            size_t len = strlen(dir);
            refuse = strncmp(target, dir, len) == 0 && (target[len] == '/' || target[len] == '\0');
        }
    }
    errno = saved;
    return refuse;
}

#define NEXT(name) static __typeof__(name) *next; if (next == NULL) next = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)
#define REFUSE(fd) if (refused(fd)) { errno = EROFS; return -1; }

ssize_t write(int fd, const void *buf, size_t n) {
    NEXT(write);
    REFUSE(fd);
    return next(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    NEXT(pwrite);
    REFUSE(fd);
    return next(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
    NEXT(pwrite64);
    REFUSE(fd);
    return next(fd, buf, n, off);
}

int fsync(int fd) {
    NEXT(fsync);
    REFUSE(fd);
    return next(fd);
}

int fdatasync(int fd) {
    NEXT(fdatasync);
    REFUSE(fd);
    return next(fd);
}

int ftruncate(int fd, off_t len) {
    NEXT(ftruncate);
    REFUSE(fd);
    return next(fd, len);
}

int ftruncate64(int fd, off64_t len) {
    NEXT(ftruncate64);
    REFUSE(fd);
    return next(fd, len);
}
