/* bridge_wire.h: the client side of the warm worker's protocol ("bridge-serve/2") in C.

   Shared by the MEX client (bridge_mex.c: operands from memory) and the compiled command-line
   client (bridge_client.c: file jobs without a Python start). It is bridge/_client.py in C, and
   must stay so: the same socket path (BRIDGE_SOCKET, else $XDG_RUNTIME_DIR/bridge/serve.sock, else
   /tmp/bridge-UID/serve.sock in a private folder), the same identity (version, package folder,
   fingerprint of the package's .py files), the same refusal of a server of another user
   (SO_PEERCRED), the same handshake (queued | ready PID STARTTIME, then go) and the same time-outs:
   connect within 1 s, the server's first answer within 5 s, a server or job process stopped for
   1 s (or gone) means "run it another way"; a job process found stopped is killed first, so a
   job never runs twice. The client answers "go, progress": while a long job computes, its process
   sends "progress, LINE" messages before its answer (bw_answer hands them to the client, which
   shows them). Linux only (/proc, SO_PEERCRED). Everything is static: each client is one
   translation unit. */
#ifndef BRIDGE_WIRE_H
#define BRIDGE_WIRE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BW_MAGIC "bridge-serve/2"
#define BW_CONNECT_MS 1000
#define BW_ACK_MS 5000
#define BW_STOPPED_MS 1000
#define BW_TICK_MS 100
#define BW_MAX_MESSAGE (64u << 20)

/* Results of the steps below. */
#define BW_OK 0
#define BW_NONE (-1)   /* no server to ask (none, disabled, unsafe folder): nothing was sent */
#define BW_COLD (-2)   /* refused, gave up or crashed before an answer: the job did not run */
#define BW_INTR (-3)   /* interrupted (Ctrl-C): the job, if it started, was killed */

typedef int (*bw_interrupted_fn)(void);

static double bw_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- growing buffers and messages ------------------------------------------------------- */

typedef struct {
  char *data;
  size_t len, cap;
} bw_buf;

static int bw_add(bw_buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *d;
    while (cap < b->len + n) cap *= 2;
    d = (char *)realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

static void bw_free(bw_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static void bw_put_be(unsigned char *p, uint64_t v, int n) {
  int k;
  for (k = n - 1; k >= 0; k--) {
    p[k] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
}

static uint64_t bw_get_be(const unsigned char *p, int n) {
  uint64_t v = 0;
  int k;
  for (k = 0; k < n; k++) v = (v << 8) | p[k];
  return v;
}

/* A message: an 8-byte big-endian length, then fields (4-byte big-endian length, bytes). */
static int bw_begin(bw_buf *b) {
  static const unsigned char zero[8] = {0};
  b->len = 0;
  return bw_add(b, zero, 8);
}

static int bw_field_n(bw_buf *b, const char *s, size_t n) {
  unsigned char head[4];
  bw_put_be(head, n, 4);
  return bw_add(b, head, 4) || bw_add(b, s, n);
}

static int bw_field(bw_buf *b, const char *s) { return bw_field_n(b, s, strlen(s)); }

static void bw_end(bw_buf *b) { bw_put_be((unsigned char *)b->data, b->len - 8, 8); }

/* ---- the server's address and the package's identity ------------------------------------- */

static int bw_disabled(void) {
  const char *v = getenv("BRIDGE_NO_SERVER");
  while (v && (*v == ' ' || *v == '\t')) v++;
  return v && *v && !(v[0] == '0' && (v[1] == 0 || v[1] == ' ' || v[1] == '\t' || v[1] == '\n'));
}

static const char *bw_trim(const char *s, char *out, size_t n) {
  size_t len;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  len = strlen(s);
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
    len--;
  if (len >= n) len = n - 1;
  memcpy(out, s, len);
  out[len] = 0;
  return out;
}

/* The socket's path (0), or BW_NONE: disabled, or the default folder is not private. */
static int bw_socket_path(char *out, size_t n) {
  char value[PATH_MAX], folder[PATH_MAX];
  const char *env = getenv("BRIDGE_SOCKET");
  struct stat st;
  if (bw_disabled()) return BW_NONE;
  if (env && *bw_trim(env, value, sizeof value)) {
    if (value[0] == '/') {
      if (snprintf(out, n, "%s", value) >= (int)n) return BW_NONE;
    } else {
      char cwd[PATH_MAX];
      if (!getcwd(cwd, sizeof cwd)) return BW_NONE;
      if (snprintf(out, n, "%s/%s", cwd, value) >= (int)n) return BW_NONE;
    }
    return BW_OK;
  }
  env = getenv("XDG_RUNTIME_DIR");
  if (env && *bw_trim(env, value, sizeof value) == '/') {
    if (snprintf(folder, sizeof folder, "%s/bridge", value) >= (int)sizeof folder) return BW_NONE;
  } else {
    snprintf(folder, sizeof folder, "/tmp/bridge-%lu", (unsigned long)getuid());
  }
  if (lstat(folder, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 077))
    return BW_NONE;
  if (snprintf(out, n, "%s/serve.sock", folder) >= (int)n) return BW_NONE;
  return BW_OK;
}

static void bw_walk(const char *folder, long long *count, long long *newest, long long *total,
                    int depth) {
  DIR *d = opendir(folder);
  struct dirent *e;
  char path[PATH_MAX];
  struct stat st;
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (snprintf(path, sizeof path, "%s/%s", folder, e->d_name) >= (int)sizeof path) continue;
    if (len >= 3 && !strcmp(e->d_name + len - 3, ".py")) {
      if (stat(path, &st) == 0) {
        long long ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        (*count)++;
        *total += st.st_size;
        if (ns > *newest) *newest = ns;
      }
    } else if (strcmp(e->d_name, "__pycache__") && depth < 32 && lstat(path, &st) == 0 &&
               S_ISDIR(st.st_mode)) {
      bw_walk(path, count, newest, total, depth + 1);
    }
  }
  closedir(d);
}

/* version, package folder (real path) and fingerprint of the package in PACKAGE, as
   bridge._client.package_identity gives them; -1 if PACKAGE is not a bridge package. */
static int bw_identity(const char *package, char *version, size_t nv, char *folder,
                       char *fingerprint, size_t nf) {
  char path[PATH_MAX + 16], line[512];
  long long count = 0, newest = 0, total = 0;
  FILE *f;
  if (!realpath(package, folder)) return -1;
  snprintf(path, sizeof path, "%s/__init__.py", folder);
  f = fopen(path, "r");
  if (!f) return -1;
  snprintf(version, nv, "?");
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "__version__", 11)) {
      char value[512], *eq = strchr(line, '=');
      size_t len;
      const char *v;
      bw_trim(eq ? eq + 1 : "", value, sizeof value);
      v = value;
      while (*v == '"' || *v == '\'') v++;
      len = strlen(v);
      while (len && (v[len - 1] == '"' || v[len - 1] == '\'')) len--;
      snprintf(version, nv, "%.*s", (int)len, v);
      break;
    }
  }
  fclose(f);
  bw_walk(folder, &count, &newest, &total, 0);
  snprintf(fingerprint, nf, "%lld:%lld:%lld", count, newest, total);
  return 0;
}

/* The request's header: MAGIC, OP, version, package, fingerprint, cwd, umask. */
static int bw_header_op(bw_buf *b, const char *op, const char *package) {
  char version[256], folder[PATH_MAX], fingerprint[128], cwd[PATH_MAX], mask[16];
  mode_t old;
  if (bw_identity(package, version, sizeof version, folder, fingerprint, sizeof fingerprint))
    return -1;
  if (!getcwd(cwd, sizeof cwd)) return -1;
  old = umask(022);
  umask(old);
  snprintf(mask, sizeof mask, "%u", (unsigned)old);
  return bw_begin(b) || bw_field(b, BW_MAGIC) || bw_field(b, op) || bw_field(b, version) ||
         bw_field(b, folder) || bw_field(b, fingerprint) || bw_field(b, cwd) || bw_field(b, mask);
}

static int bw_header(bw_buf *b, const char *package) { return bw_header_op(b, "job", package); }

/* ---- processes the client waits for -------------------------------------------------------- */

typedef struct {
  pid_t pid;
  long long start; /* -1: any */
  double stopped_since;
} bw_watch;

/* state, parent and start time of PID from /proc; -1 if it is gone. */
static int bw_proc_stat(pid_t pid, char *state, pid_t *parent, long long *start) {
  char path[64], text[2048], *p;
  int fd, k;
  ssize_t n;
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return -1;
  text[n] = 0;
  p = strrchr(text, ')');
  if (!p || p[1] != ' ') return -1;
  p += 2;
  *state = *p;
  /* fields after the name: state(0) ppid(1) ... starttime(19) */
  for (k = 0; k < 19 && p; k++) {
    if (k == 1) *parent = (pid_t)strtol(p, NULL, 10);
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return -1;
  *start = strtoll(p, NULL, 10);
  return 0;
}

static int bw_alive(bw_watch *w) {
  char state;
  pid_t parent;
  long long start;
  if (bw_proc_stat(w->pid, &state, &parent, &start) != 0) return 0;
  if (state == 'Z' || state == 'X' || state == 'x') return 0;
  if (w->start >= 0 && start != w->start) return 0;
  if (state == 'T' || state == 't') {
    double now = bw_now_ms();
    if (w->stopped_since < 0) w->stopped_since = now;
    return now - w->stopped_since < BW_STOPPED_MS;
  }
  w->stopped_since = -1;
  return 1;
}

/* SIGKILL the process if it is still the one announced (its start time). */
static void bw_kill(bw_watch *w) {
  char state;
  pid_t parent;
  long long start;
  if (bw_proc_stat(w->pid, &state, &parent, &start) == 0 && start == w->start)
    kill(w->pid, SIGKILL);
}

/* SIGTERM the process if it is still the one announced, so that it cleans up (a file job
   removes its temporary output), then SIGKILL it if it has not ended within 2 s. */
static void bw_terminate(bw_watch *w) {
  char state;
  pid_t parent;
  long long start;
  double until = bw_now_ms() + 2000;
  if (bw_proc_stat(w->pid, &state, &parent, &start) != 0 || start != w->start) return;
  kill(w->pid, SIGTERM);
  kill(w->pid, SIGCONT); /* a stopped process takes its SIGTERM only once it runs */
  while (bw_now_ms() < until) {
    if (bw_proc_stat(w->pid, &state, &parent, &start) != 0 || start != w->start ||
        state == 'Z' || state == 'X')
      return;
    usleep(10000);
  }
  bw_kill(w);
}

/* ---- the connection ------------------------------------------------------------------------ */

typedef struct {
  int fd;
  bw_buf in;          /* bytes read and not used yet */
  bw_buf body;        /* the last message's body */
  const char *f[16];  /* its fields (pointers into body; not terminated) */
  size_t n[16];
  int count;
  bw_watch server;
} bw_conn;

static void bw_close(bw_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  bw_free(&c->in);
  bw_free(&c->body);
}

static int bw_is(bw_conn *c, int k, const char *s) {
  return k < c->count && c->n[k] == strlen(s) && !memcmp(c->f[k], s, c->n[k]);
}

static long long bw_number(bw_conn *c, int k) {
  char text[32];
  size_t n = k < c->count ? c->n[k] : 0;
  if (n == 0 || n >= sizeof text) return -1;
  memcpy(text, c->f[k], n);
  text[n] = 0;
  return strtoll(text, NULL, 10);
}

/* Connect to PATH within 1 s and check that the server is this user's. */
static int bw_connect(bw_conn *c, const char *path) {
  struct sockaddr_un addr;
  struct ucred cred;
  socklen_t len = sizeof cred;
  memset(c, 0, sizeof *c);
  c->fd = -1;
  if (strlen(path) >= sizeof addr.sun_path) return BW_NONE;
  if (access(path, F_OK) != 0) return BW_NONE;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, path);
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return BW_NONE;
  {
    /* Large operands go over in fewer turns of writer and reader (capped by wmem_max). */
    int size = 4 << 20;
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    struct pollfd p;
    int err = 0;
    socklen_t el = sizeof err;
    if (errno != EINPROGRESS && errno != EAGAIN) {
      bw_close(c);
      return BW_NONE;
    }
    p.fd = c->fd;
    p.events = POLLOUT;
    if (poll(&p, 1, BW_CONNECT_MS) != 1 || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) ||
        err) {
      bw_close(c);
      return BW_NONE;
    }
  }
  if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
    bw_close(c); /* another user's server: never talk to it */
    return BW_NONE;
  }
  c->server.pid = cred.pid;
  c->server.start = -1;
  c->server.stopped_since = -1;
  return BW_OK;
}

/* After a tick with nothing to do: BW_INTR if the user interrupted, BW_COLD if WATCH's process
   is gone, else BW_OK (go on waiting). */
static int bw_idle(bw_watch *watch, bw_interrupted_fn interrupted) {
  if (interrupted && interrupted()) return BW_INTR;
  if (!bw_alive(watch)) return BW_COLD;
  return BW_OK;
}

/* Wait up to a tick for EVENTS on the socket; then as bw_idle if nothing came. */
static int bw_wait(bw_conn *c, short events, bw_watch *watch, bw_interrupted_fn interrupted) {
  struct pollfd pf;
  pf.fd = c->fd;
  pf.events = events;
  return poll(&pf, 1, BW_TICK_MS) == 0 ? bw_idle(watch, interrupted) : BW_OK;
}

/* Send N bytes while WATCH's process lives; BW_OK, BW_COLD or BW_INTR. */
static int bw_send(bw_conn *c, const void *data, size_t n, bw_watch *watch,
                   bw_interrupted_fn interrupted) {
  const char *p = (const char *)data;
  while (n > 0) {
    ssize_t k = send(c->fd, p, n > (1u << 20) ? (1u << 20) : n, MSG_NOSIGNAL);
    if (k > 0) {
      p += k;
      n -= (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int r = bw_wait(c, POLLOUT, watch, interrupted);
      if (r != BW_OK) return r;
      continue;
    }
    return BW_COLD;
  }
  return BW_OK;
}

/* Read more bytes into c->in: 1 read, 0 nothing within a tick, BW_COLD at EOF or error. */
static int bw_fill(bw_conn *c) {
  char chunk[1 << 16];
  struct pollfd pf;
  ssize_t k;
  pf.fd = c->fd;
  pf.events = POLLIN;
  if (poll(&pf, 1, BW_TICK_MS) <= 0) return 0;
  k = recv(c->fd, chunk, sizeof chunk, 0);
  if (k > 0) return bw_add(&c->in, chunk, (size_t)k) ? BW_COLD : 1;
  if (k < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  return BW_COLD;
}

/* The next message (its fields in c->f/c->n) while WATCH's process lives and, with WITHIN_MS
   > 0, within that long; BW_OK, BW_COLD (gone, stopped, silent, closed) or BW_INTR. */
static int bw_next(bw_conn *c, bw_watch *watch, double within_ms, bw_interrupted_fn interrupted) {
  double start = bw_now_ms();
  for (;;) {
    if (c->in.len >= 8) {
      uint64_t total = bw_get_be((unsigned char *)c->in.data, 8);
      if (total > BW_MAX_MESSAGE) return BW_COLD;
      if (c->in.len >= 8 + total) {
        size_t k = 0;
        c->body.len = 0;
        if (bw_add(&c->body, c->in.data + 8, total)) return BW_COLD;
        memmove(c->in.data, c->in.data + 8 + total, c->in.len - 8 - total);
        c->in.len -= 8 + total;
        c->count = 0;
        while (k < total) {
          uint64_t n;
          if (total - k < 4 || c->count == 16) return BW_COLD;
          n = bw_get_be((unsigned char *)c->body.data + k, 4);
          if (n > total - k - 4) return BW_COLD;
          c->f[c->count] = c->body.data + k + 4;
          c->n[c->count++] = (size_t)n;
          k += 4 + n;
        }
        return BW_OK;
      }
    }
    {
      int got = bw_fill(c);
      if (got < 0) return got;
      if (got == 0) {
        int r = bw_idle(watch, interrupted);
        if (r != BW_OK) return r;
        if (within_ms > 0 && bw_now_ms() - start > within_ms) return BW_COLD;
      }
    }
  }
}

/* Shows one progress line (N bytes, not terminated) to the user. */
typedef void (*bw_show_fn)(const char *line, size_t n);

/* The job's answer, as bw_next gives it, after the "progress, LINE" messages that come before it
   while the job computes: each handed to SHOW, and the wait goes on (the job's process lives). */
static int bw_answer(bw_conn *c, bw_watch *job, bw_interrupted_fn interrupted, bw_show_fn show) {
  for (;;) {
    int r = bw_next(c, job, 0, interrupted);
    if (r != BW_OK || !(bw_is(c, 0, "progress") && c->count == 2)) return r;
    show(c->f[1], c->n[1]);
  }
}

/* Read exactly N bytes into DST (what is left in c->in first) while WATCH's process lives. */
static int bw_read(bw_conn *c, void *dst, size_t n, bw_watch *watch, bw_interrupted_fn interrupted) {
  char *p = (char *)dst;
  size_t take = c->in.len < n ? c->in.len : n;
  memcpy(p, c->in.data, take);
  memmove(c->in.data, c->in.data + take, c->in.len - take);
  c->in.len -= take;
  p += take;
  n -= take;
  while (n > 0) {
    ssize_t k = recv(c->fd, p, n, 0);
    if (k > 0) {
      p += k;
      n -= (size_t)k;
      continue;
    }
    if (k == 0) return BW_COLD;
    if (errno == EAGAIN || errno == EINTR) {
      int r = bw_wait(c, POLLIN, watch, interrupted);
      if (r != BW_OK) return r;
      continue;
    }
    return BW_COLD;
  }
  return BW_OK;
}

/* Send the request REQ on a new connection and go through the handshake: BW_OK with "go" sent
   and JOB the job's process; BW_NONE (no server), BW_COLD or BW_INTR (the connection closed). */
static int bw_start(bw_conn *c, bw_buf *req, bw_watch *job, bw_interrupted_fn interrupted) {
  char path[PATH_MAX];
  char state;
  pid_t parent;
  long long start;
  int r;
  bw_buf go = {0};
  memset(c, 0, sizeof *c);
  c->fd = -1;
  job->pid = 0;
  job->start = -2;
  job->stopped_since = -1;
  if (bw_socket_path(path, sizeof path) != BW_OK) return BW_NONE;
  r = bw_connect(c, path);
  if (r != BW_OK) return r;
  r = bw_send(c, req->data, req->len, &c->server, interrupted);
  if (r == BW_OK) r = bw_next(c, &c->server, BW_ACK_MS, interrupted);
  if (r == BW_OK && bw_is(c, 0, "queued") && c->count == 1)
    r = bw_next(c, &c->server, 0, interrupted); /* as long as the server lives */
  if (r == BW_OK && !(bw_is(c, 0, "ready") && c->count == 3)) r = BW_COLD;
  if (r == BW_OK) {
    job->pid = (pid_t)bw_number(c, 1);
    job->start = bw_number(c, 2);
    job->stopped_since = -1;
    if (job->pid <= 0 || bw_proc_stat(job->pid, &state, &parent, &start) != 0 ||
        parent != c->server.pid || start != job->start)
      r = BW_COLD; /* not the server's child: start nothing */
  }
  if (r == BW_OK) {
    if (bw_begin(&go) || bw_field(&go, "go") || bw_field(&go, "progress")) {
      r = BW_COLD;
    } else {
      bw_end(&go);
      r = bw_send(c, go.data, go.len, job, interrupted);
    }
    bw_free(&go);
  }
  if (r != BW_OK) {
    job->pid = 0; /* nothing started: nothing to kill */
    bw_close(c);
  }
  return r;
}

#endif
