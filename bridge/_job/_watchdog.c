/* The native watchdog of bridge's own processes (bridge/_job/process.py, read_guard).
 *
 * A read from an untrusted file can loop forever inside C code that holds the GIL (HDF5 on a
 * mutated file): no Python thread runs then, and Python's signal handlers, which run only
 * between the main thread's bytecodes, never do. This module's thread never takes the GIL. It
 * waits on a pipe that CPython's own C-level signal handler writes each signal's number to
 * (signal.set_wakeup_fd; the handler runs whatever the main thread does), and on a deadline:
 *
 * - a stop signal (one of the armed events, SIGINT, SIGTERM, SIGHUP): the main thread normally
 *   raises and cleans up itself, and disarms. If the process still runs, armed, GRACE seconds
 *   later, this thread removes the live temporary outputs it was told about, writes the job's
 *   one-line message (prepared in Python) and calls _exit(128 + signal);
 * - the deadline: the same with the read-timeout message and exit status 3.
 *
 * Everything done after the decision is async-signal-safe (unlink, open, write, _exit), under
 * the one mutex, so a disarm either comes first (nothing happens) or waits forever. Arm and
 * disarm only change the settings; the thread looks at them every TICK_MS and at each signal.
 * Bytes read from the pipe are forwarded to the wakeup fd that was set before (the caller's),
 * so nothing that waited on it misses a signal. A forked child starts with nothing armed, no
 * thread and no pipe of its own (pthread_atfork; the parent's become /dev/null); its first arm
 * makes new ones. POSIX only; where it is not built, the Python thread of bridge/_job/process.py
 * stands in.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 8
#define MARK "bridge: error:"

typedef struct {
    int key;                 /* a signal number, or 0: the deadline */
    int status;              /* the exit status */
    char *line;              /* the one-line message, with its newline */
    size_t line_len;
    char *channel_line;      /* for the channel fd: the answer with the line, or NULL */
    size_t channel_line_len;
    char *channel_quiet;     /* for the channel fd: the answer once the error file has it */
    size_t channel_quiet_len;
} event_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int started;              /* the thread runs (in this process) */
static int wake_r = -1, wake_w = -1; /* the signals' pipe: CPython writes, the thread reads */
/* The thread looks at the settings at least this often (ms): arm and disarm never wake it, so
 * a short read never waits for it (on a loaded machine, a woken thread holding the lock when
 * preempted cost the main thread milliseconds). The deadline is seen at most this late. */
#define TICK_MS 250

static int armed;
static int has_deadline;
static struct timespec deadline;
static double grace = 1.0;
static int forward_fd = -1;
static int channel_fd = -1;
static char *error_file;
static event_t events[MAX_EVENTS];
static int n_events;
static int pending;              /* the stop signal being waited on, 0: none */
static struct timespec pending_until;

static char **live;              /* temporary outputs to remove */
static size_t n_live, cap_live;

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static struct timespec after(double seconds) {
    double t = now_seconds() + seconds;
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    return ts;
}

static double until(struct timespec ts) {
    return (double)ts.tv_sec + ts.tv_nsec / 1e9 - now_seconds();
}

static void write_all(int fd, const char *data, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, data, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = {fd, POLLOUT, 0};
                if (poll(&p, 1, 1000) > 0)
                    continue;
            }
            return;
        }
        data += k;
        n -= (size_t)k;
    }
}

/* bridge._job.outcome.write_error_file's rule (the IN/OUT check was made in Python): create the
 * file new, or replace only an empty regular file or an earlier error file; never follow a
 * symbolic link. 1: written. */
static int write_error_file(const char *path, const char *line, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) {
        struct stat st;
        char head[sizeof(MARK) - 1];
        ssize_t k;
        if (errno != EEXIST)
            return 0;
        fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            return 0;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            return 0;
        }
        k = read(fd, head, sizeof head);
        if (!(k == 0 || (k == (ssize_t)sizeof head && memcmp(head, MARK, sizeof head) == 0))) {
            close(fd);
            return 0;
        }
        if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
            close(fd);
            return 0;
        }
    }
    write_all(fd, line, n);
    close(fd);
    return 1;
}

/* End the process for ``key`` (lock held): never returns if the event is armed. */
static void finish(int key) {
    event_t *e = NULL;
    int k;
    size_t i;
    for (k = 0; k < n_events; k++)
        if (events[k].key == key)
            e = &events[k];
    if (e == NULL)
        return;
    for (i = 0; i < n_live; i++)
        unlink(live[i]);
    if (error_file != NULL && write_error_file(error_file, e->line, e->line_len)) {
        if (channel_fd >= 0 && e->channel_quiet != NULL)
            write_all(channel_fd, e->channel_quiet, e->channel_quiet_len);
    } else if (channel_fd >= 0 && e->channel_line != NULL) {
        write_all(channel_fd, e->channel_line, e->channel_line_len);
    } else if (e->line_len > 0) {
        write_all(2, e->line, e->line_len);
    }
    _exit(e->status);
}

static int has_event(int key) {
    int k;
    for (k = 0; k < n_events; k++)
        if (events[k].key == key)
            return 1;
    return 0;
}

static void *watch(void *unused) {
    (void)unused;
    for (;;) {
        struct pollfd fds[1];
        int timeout = TICK_MS, r_wake;
        double left;
        unsigned char bytes[64];

        pthread_mutex_lock(&lock);
        if (armed) {
            if (pending) {
                left = until(pending_until);
                if ((int)(left * 1000) + 1 < timeout)
                    timeout = left <= 0 ? 0 : (int)(left * 1000) + 1;
            }
            if (has_deadline) {
                left = until(deadline);
                if ((int)(left * 1000) + 1 < timeout)
                    timeout = left <= 0 ? 0 : (int)(left * 1000) + 1;
            }
        }
        r_wake = wake_r;
        pthread_mutex_unlock(&lock);

        fds[0].fd = r_wake;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        if (poll(fds, 1, timeout) < 0 && errno != EINTR)
            continue;
        pthread_mutex_lock(&lock);
        if (fds[0].revents & POLLIN) {
            ssize_t n;
            while ((n = read(r_wake, bytes, sizeof bytes)) > 0) {
                ssize_t i;
                if (forward_fd >= 0) {
                    ssize_t w = write(forward_fd, bytes, (size_t)n);
                    (void)w; /* a full pipe loses bytes, as CPython's own handler does */
                }
                for (i = 0; i < n; i++)
                    if (armed && !pending && bytes[i] != 0 && has_event(bytes[i])) {
                        pending = bytes[i];
                        pending_until = after(grace);
                    }
            }
        }
        if (armed && pending && until(pending_until) <= 0)
            finish(pending);
        if (armed && has_deadline && until(deadline) <= 0)
            finish(0);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static int make_pipe(int *r, int *w) {
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    for (int k = 0; k < 2; k++) {
        fcntl(fds[k], F_SETFL, fcntl(fds[k], F_GETFL) | O_NONBLOCK);
        fcntl(fds[k], F_SETFD, FD_CLOEXEC);
    }
    *r = fds[0];
    *w = fds[1];
    return 0;
}

/* The thread and its pipes, once per process (lock held). 0: ready. */
static int start(void) {
    pthread_t thread;
    pthread_attr_t attr;
    sigset_t all, old;
    int rc;
    if (started)
        return 0;
    if (wake_r < 0 && make_pipe(&wake_r, &wake_w) != 0)
        return -1;
    /* The thread blocks every signal: they go to the main thread, as bridge's threads do. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    rc = pthread_create(&thread, &attr, watch, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    started = 1;
    return 0;
}

static void clear_events(void) {
    for (int k = 0; k < n_events; k++) {
        free(events[k].line);
        free(events[k].channel_line);
        free(events[k].channel_quiet);
    }
    memset(events, 0, sizeof events);
    n_events = 0;
    free(error_file);
    error_file = NULL;
}

/* In a forked child: no thread, nothing armed, nothing of the parent's to remove. */
static void after_fork_child(void) {
    pthread_mutex_init(&lock, NULL);
    started = 0;
    armed = 0;
    pending = 0;
    /* The pipes are the parent's: a wakeup fd still set to one (a fork inside a guard) must
     * not reach it, nor a number reused for another file. They become /dev/null here. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int *fds[2] = {&wake_r, &wake_w};
    for (int k = 0; k < 2; k++) {
        if (*fds[k] >= 0) {
            if (null < 0 || dup2(null, *fds[k]) < 0)
                close(*fds[k]);
            else
                fcntl(*fds[k], F_SETFD, FD_CLOEXEC);
            *fds[k] = -1;
        }
    }
    if (null >= 0)
        close(null);
    forward_fd = channel_fd = -1;
    for (size_t i = 0; i < n_live; i++)
        free(live[i]);
    n_live = 0;
    clear_events();
}

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&lock); }

static char *copy_bytes(PyObject *obj, size_t *len) {
    char *data;
    Py_ssize_t n;
    char *out;
    if (obj == Py_None) {
        *len = 0;
        return NULL;
    }
    if (PyBytes_AsStringAndSize(obj, &data, &n) < 0)
        return NULL;
    out = malloc((size_t)n + 1);
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(out, data, (size_t)n);
    out[n] = 0;
    *len = (size_t)n;
    return out;
}

PyDoc_STRVAR(wakeup_doc, "wakeup_fd() -> int\n\nThe pipe's end to give signal.set_wakeup_fd; "
                         "starts the thread (once per process).");

static PyObject *py_wakeup_fd(PyObject *self, PyObject *unused) {
    int fd;
    (void)self;
    (void)unused;
    pthread_mutex_lock(&lock);
    if (start() != 0) {
        pthread_mutex_unlock(&lock);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    fd = wake_w;
    pthread_mutex_unlock(&lock);
    return PyLong_FromLong(fd);
}

PyDoc_STRVAR(arm_doc,
             "arm(seconds, grace, forward_fd, channel_fd, error_file, events)\n\n"
             "Watch: ``seconds`` > 0 is the deadline from now (event 0), else none; ``events`` "
             "is a sequence of (key, status, line, channel_line, channel_quiet), key 0 for the "
             "deadline or a signal number; ``error_file`` (bytes or None) gets the line first.");

static PyObject *py_arm(PyObject *self, PyObject *args) {
    double seconds, grace_s;
    int fwd, chan;
    PyObject *efile, *seq, *fast;
    Py_ssize_t n, k;
    event_t fresh[MAX_EVENTS];
    char *efile_copy = NULL;
    size_t efile_len;
    (void)self;
    if (!PyArg_ParseTuple(args, "ddiiOO", &seconds, &grace_s, &fwd, &chan, &efile, &seq))
        return NULL;
    fast = PySequence_Fast(seq, "events must be a sequence");
    if (fast == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(fast);
    if (n > MAX_EVENTS) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "too many events");
        return NULL;
    }
    memset(fresh, 0, sizeof fresh);
    for (k = 0; k < n; k++) {
        PyObject *line, *cl, *cq;
        event_t *e = &fresh[k];
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, k), "iiSOO", &e->key, &e->status,
                              &line, &cl, &cq))
            goto fail;
        if ((e->line = copy_bytes(line, &e->line_len)) == NULL && PyErr_Occurred())
            goto fail;
        if ((e->channel_line = copy_bytes(cl, &e->channel_line_len)) == NULL && PyErr_Occurred())
            goto fail;
        if ((e->channel_quiet = copy_bytes(cq, &e->channel_quiet_len)) == NULL &&
            PyErr_Occurred())
            goto fail;
    }
    if ((efile_copy = copy_bytes(efile, &efile_len)) == NULL && PyErr_Occurred())
        goto fail;
    Py_DECREF(fast);

    pthread_mutex_lock(&lock);
    if (start() != 0) {
        pthread_mutex_unlock(&lock);
        for (k = 0; k < n; k++) {
            free(fresh[k].line);
            free(fresh[k].channel_line);
            free(fresh[k].channel_quiet);
        }
        free(efile_copy);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    clear_events();
    memcpy(events, fresh, sizeof fresh);
    n_events = (int)n;
    error_file = efile_copy;
    forward_fd = fwd;
    channel_fd = chan;
    grace = grace_s > 0 ? grace_s : 0;
    has_deadline = seconds > 0;
    if (has_deadline)
        deadline = after(seconds);
    pending = 0;
    armed = 1;
    pthread_mutex_unlock(&lock);
    Py_RETURN_NONE;

fail:
    Py_DECREF(fast);
    for (k = 0; k < n; k++) {
        free(fresh[k].line);
        free(fresh[k].channel_line);
        free(fresh[k].channel_quiet);
    }
    return NULL;
}

PyDoc_STRVAR(disarm_doc, "disarm()\n\nStop watching (the main thread handles what came).");

static PyObject *py_disarm(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&lock);
    armed = 0;
    pending = 0;
    clear_events();
    pthread_mutex_unlock(&lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyDoc_STRVAR(register_doc, "register(path: bytes, live: bool)\n\n"
                           "A temporary output now exists (True) or is gone (False).");

static PyObject *py_register(PyObject *self, PyObject *args) {
    const char *path;
    Py_ssize_t n;
    int on;
    size_t i;
    (void)self;
    if (!PyArg_ParseTuple(args, "y#p", &path, &n, &on))
        return NULL;
    if (strlen(path) != (size_t)n) {
        PyErr_SetString(PyExc_ValueError, "embedded null byte");
        return NULL;
    }
    pthread_mutex_lock(&lock);
    if (on) {
        char *copy = strdup(path);
        if (copy != NULL && n_live == cap_live) {
            size_t cap = cap_live ? 2 * cap_live : 8;
            char **grown = realloc(live, cap * sizeof *live);
            if (grown == NULL) {
                free(copy);
                copy = NULL;
            } else {
                live = grown;
                cap_live = cap;
            }
        }
        if (copy == NULL) {
            pthread_mutex_unlock(&lock);
            return PyErr_NoMemory();
        }
        live[n_live++] = copy;
    } else {
        for (i = 0; i < n_live; i++)
            if (strcmp(live[i], path) == 0) {
                free(live[i]);
                live[i] = live[--n_live];
                break;
            }
    }
    pthread_mutex_unlock(&lock);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"wakeup_fd", py_wakeup_fd, METH_NOARGS, wakeup_doc},
    {"arm", py_arm, METH_VARARGS, arm_doc},
    {"disarm", py_disarm, METH_NOARGS, disarm_doc},
    {"register", py_register, METH_VARARGS, register_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_watchdog",
    "A thread without the GIL that ends the process on a deadline or a stop signal the main "
    "thread does not take (bridge/_job/_watchdog.c).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__watchdog(void) {
    static int hooked;
    if (!hooked) {
        if (pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0)
            return PyErr_SetFromErrno(PyExc_OSError);
        hooked = 1;
    }
    return PyModule_Create(&module);
}
