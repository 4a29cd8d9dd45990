/* bridge_client.c: a file job for the warm worker without a Python start (issue 19).

   bridge_client PACKAGE PYTHON WORKER [--autostart SECONDS] ARG...

   Hands the job ARG... (bridge IN OUT [options]) to a running `bridge serve` of the package in
   PACKAGE, as bridge/_client.py's run_warm does, and exits with the job's status after writing
   its output. Whenever the job should run cold instead (no server, a refusal, a server or job
   process gone, frozen or silent: the time-outs of bridge_wire.h), it runs
     PYTHON -S WORKER --cold [--autostart SECONDS] ARG...
   in its place (exec): bridge_worker.py then skips the server it was just refused by and runs
   the job itself, so statuses and error lines are the Python worker's. Ctrl-C, SIGTERM or SIGHUP
   while the server runs the job kill the job's process and exit 130, 143 or 129 with the cold
   path's error line, in the --error-file when one is given (the job's process gets SIGTERM,
   and cleans up as the cold path does, then SIGKILL if it has not ended within 2 s).

   Built by the wrappers on first use (cc -O2 -o bridge_client bridge_client.c) or by setup.py. */
#define _GNU_SOURCE
#include "bridge_wire.h"

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) { stop_signal = sig; }

static int interrupted(void) { return stop_signal != 0; }

static void cold(char **argv, int argc) {
  /* PYTHON -S WORKER --cold ARG... */
  char **args = (char **)calloc((size_t)argc + 4, sizeof *args);
  int k, n = 0;
  if (!args) _exit(70);
  args[n++] = argv[2];
  args[n++] = "-S";
  args[n++] = argv[3];
  args[n++] = "--cold";
  for (k = 4; k < argc; k++) args[n++] = argv[k];
  args[n] = NULL;
  execvp(argv[2], args);
  /* as the shell says it: 127 not found, 126 not executable */
  fprintf(stderr, "bridge_client: cannot run %s: %s\n", argv[2], strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return;
    p += k;
    n -= (size_t)k;
  }
}

/* A progress line of the warm job, on stderr as the cold job writes it while it runs. */
static void show_progress(const char *line, size_t n) {
  write_all(2, line, n);
  write_all(2, "\n", 1);
}

/* The cold path's line for a signal: to the error file (created new, or replacing an empty or
   earlier error file, never following a link), else stderr. */
static int report_signal(int argc, char **argv, int first) {
  const char *line = stop_signal == SIGINT ? "bridge: error: interrupted (bridge:interrupted)\n"
                     : stop_signal == SIGHUP
                         ? "bridge: error: stopped by SIGHUP; no output was written (bridge:interrupted)\n"
                         : "bridge: error: stopped by SIGTERM; no output was written (bridge:interrupted)\n";
  const char *file = NULL;
  int k, fd = -1;
  for (k = first; k + 1 < argc; k++)
    if (!strcmp(argv[k], "--error-file")) file = argv[k + 1];
  if (file) {
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) {
      char head[14];
      struct stat st;
      fd = open(file, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        ssize_t got = read(fd, head, sizeof head);
        if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
            (got != 0 && (got != 14 || memcmp(head, "bridge: error:", 14)))) {
          close(fd);
          fd = -1;
        } else if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET)) {
          close(fd);
          fd = -1;
        }
      }
    }
  }
  write_all(fd >= 0 ? fd : 2, line, strlen(line));
  if (fd >= 0) close(fd);
  return stop_signal == SIGINT ? 130 : stop_signal == SIGHUP ? 129 : 143;
}

static int is_job(int argc, char **argv, int first) {
  int k;
  if (first >= argc) return 0;
  if (!strcmp(argv[first], "vars") || !strcmp(argv[first], "serve") ||
      !strcmp(argv[first], "batch") || !strcmp(argv[first], "--diagnose") ||
      !strcmp(argv[first], "--serve") || !strcmp(argv[first], "--executable"))
    return 0;
  for (k = first; k < argc; k++)
    if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help") || !strcmp(argv[k], "--version"))
      return 0;
  return 1;
}

int main(int argc, char **argv) {
  bw_buf req = {0};
  bw_conn c;
  bw_watch job;
  struct sigaction sa;
  int first = 4, k, r;
  if (argc < 5) {
    fprintf(stderr, "usage: bridge_client PACKAGE PYTHON WORKER [--autostart S] ARG...\n");
    return 2;
  }
  if (argc > 6 && !strcmp(argv[4], "--autostart")) first = 6;
  if (!is_job(argc, argv, first)) cold(argv, argc);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a wait returns at once */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  if (bw_header(&req, argv[1])) cold(argv, argc);
  for (k = first; k < argc; k++)
    if (bw_field(&req, argv[k])) cold(argv, argc);
  bw_end(&req);
  r = bw_start(&c, &req, &job, interrupted);
  bw_free(&req);
  if (r == BW_OK) r = bw_answer(&c, &job, interrupted, show_progress);
  if (r == BW_INTR) {
    /* harmless before "go": job.pid is then 0. SIGTERM first: a job that was writing its
       output removes its temporary file, as the cold path does on Ctrl-C. */
    bw_terminate(&job);
    return report_signal(argc, argv, first);
  }
  if (r == BW_OK && bw_is(&c, 0, "ok") && c.count == 4) {
    int status = (int)bw_number(&c, 1);
    write_all(1, c.f[2], c.n[2]);
    write_all(2, c.f[3], c.n[3]);
    return status;
  }
  if (r != BW_NONE) bw_kill(&job); /* given up on it: it never finishes behind the cold run */
  if (c.fd >= 0) bw_close(&c);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  cold(argv, argc);
  return 70;
}
