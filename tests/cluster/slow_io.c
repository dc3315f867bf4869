/* LD_PRELOAD library for tests/cluster/write_faults.sh: widens the window of a file write so a
 * test can send signals while it is open. fsync/fdatasync of a file, and rename of a file, whose
 * path contains $KMPI_SLOW_IO_MATCH (default "checkpoint.kmpi") sleep $KMPI_SLOW_IO_MS ms
 * (default 1000) before doing the real call; a signal handled meanwhile does not shorten the
 * sleep. Each delayed call first appends "<pid> <fsync|fdatasync|rename> <path>" to
 * $KMPI_SLOW_IO_LOG (if set), so the test sees when the window opens. Build:
 *   cc -shared -fPIC -O2 -o slow_io.so slow_io.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int matches(const char* path) {
  const char* match = getenv("KMPI_SLOW_IO_MATCH");
  return path && strstr(path, match && *match ? match : "checkpoint.kmpi") != NULL;
}

static void delay(const char* op, const char* path) {
  const char* log = getenv("KMPI_SLOW_IO_LOG");
  if (log && *log) {
    char line[4352];
    int n = snprintf(line, sizeof line, "%d %s %s\n", (int)getpid(), op, path);
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (n > 0) (void)!write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
      close(fd);
    }
  }
  const char* ms_text = getenv("KMPI_SLOW_IO_MS");
  long ms = ms_text && *ms_text ? atol(ms_text) : 1000;
  struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

static void delay_fd(const char* op, int fd) {
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = '\0';
  if (matches(path)) delay(op, path);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  int saved = errno;
  delay_fd("fsync", fd);
  errno = saved;
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  int saved = errno;
  delay_fd("fdatasync", fd);
  errno = saved;
  return real(fd);
}

int rename(const char* from, const char* to) {
  static int (*real)(const char*, const char*);
  if (!real) real = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "rename");
  int saved = errno;
  if (matches(from)) delay("rename", from);
  errno = saved;
  return real(from, to);
}
