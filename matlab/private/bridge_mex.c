/* bridge_mex.c: hand an operation's operands to the warm worker from memory (issue 19).

   Build (bridge_setup does it; Octave's wrappers do it on first use when mkoctfile exists):
     Octave:  mkoctfile --mex -o bridge_mex bridge_mex.c
     MATLAB:  mex -R2017b -output bridge_mex bridge_mex.c -lut   (utIsInterruptPending)

   [STATUS, LINE, C] = bridge_mex(PACKAGE, OP, SHAPE, NAMES, X1, X2, ...)
     PACKAGE  the folder of the bridge package the warm worker must run (its identity is sent)
     OP       the operation ('conv2', 'imfilter', ...);  SHAPE  the shape text, as the wrappers
              save it, or '' (none: a filtering wrapper's shape is one of its named values)
     NAMES    the values' job-file names, separated by commas: 'A,B', 'u,v,A', 'A,h,padding'
     X1...    up to MAX_VALUES full numeric, logical or char arrays (complex allowed): the
              operands, then the operation's settings as the file job saves them; the worker
              reads them as a job file's variables of these names, so no operation, operand or
              setting is known here
   STATUS 0: C is the result (double, single, integer or logical, as the worker answers).  STATUS > 0: the job failed as the file job fails; LINE is the
   worker's one-line error ("bridge: error: ... (IDENTIFIER)"), the wrappers raise it.
   STATUS -1: no warm worker to ask (nothing was sent): run the call through files.
   STATUS -2: the worker refused, is of another version, or was gone, frozen or silent: the job
   did not run; run it through files, cold.  STATUS 130: interrupted (Ctrl-C); the job's
   process was killed.
   V = bridge_mex('version') is this client's version (the wrappers rebuild an older one).

   Nothing here raises an error for a worker's answer: the wrappers turn STATUS and LINE into
   the file path's error, with the same identifier and message. The operands go over the Unix
   socket straight from MATLAB's memory, and the result comes back into a new array, after the
   file job's handshake (see bridge/_serve_memory.py and bridge_wire.h). */
#define _GNU_SOURCE /* struct ucred; before any system header */
#include "bridge_wire.h"

#include "mex.h"

#define BRIDGE_MEX_VERSION "bridge_mex 2"
#define MAX_VALUES 12

#if defined(HAVE_OCTAVE)
extern sig_atomic_t octave_interrupt_state;
static int interrupted(void) { return octave_interrupt_state > 0; }
#else
#include <stdbool.h>
extern bool utIsInterruptPending(void); /* libut (mex ... -lut): MATLAB's Ctrl-C flag */
static int interrupted(void) { return utIsInterruptPending() ? 1 : 0; }
#endif

static const char *class_name(mxClassID id, size_t *item) {
  switch (id) {
    case mxDOUBLE_CLASS: *item = 8; return "double";
    case mxSINGLE_CLASS: *item = 4; return "single";
    case mxINT8_CLASS: *item = 1; return "int8";
    case mxUINT8_CLASS: *item = 1; return "uint8";
    case mxINT16_CLASS: *item = 2; return "int16";
    case mxUINT16_CLASS: *item = 2; return "uint16";
    case mxINT32_CLASS: *item = 4; return "int32";
    case mxUINT32_CLASS: *item = 4; return "uint32";
    case mxINT64_CLASS: *item = 8; return "int64";
    case mxUINT64_CLASS: *item = 8; return "uint64";
    case mxLOGICAL_CLASS: *item = 1; return "logical";
    case mxCHAR_CLASS: *item = 2; return "char"; /* sent as UTF-16 codes: see char_codes */
    default: return NULL;
  }
}

/* The class named NAME (a result's), with its item size; mxUNKNOWN_CLASS for none. */
static mxClassID class_id(bw_conn *c, int k, size_t *item) {
  static const mxClassID ids[] = {mxDOUBLE_CLASS, mxSINGLE_CLASS, mxINT8_CLASS,   mxUINT8_CLASS,
                                  mxINT16_CLASS,  mxUINT16_CLASS, mxINT32_CLASS,  mxUINT32_CLASS,
                                  mxINT64_CLASS,  mxUINT64_CLASS, mxLOGICAL_CLASS};
  size_t j;
  for (j = 0; j < sizeof ids / sizeof ids[0]; j++)
    if (bw_is(c, k, class_name(ids[j], item))) return ids[j];
  return mxUNKNOWN_CLASS;
}

/* A char array as a uint16 array of its UTF-16 codes (as a MAT file holds char): MATLAB's
   mxChar is 16 bits, Octave's 8 (the wrappers send ASCII text only, so a byte is its code). */
static mxArray *char_codes(const mxArray *x) {
  mxArray *codes = mxCreateNumericArray(mxGetNumberOfDimensions(x), mxGetDimensions(x),
                                        mxUINT16_CLASS, mxREAL);
  const mxChar *text = mxGetChars(x);
  uint16_t *out = (uint16_t *)mxGetData(codes);
  size_t k, n = mxGetNumberOfElements(x);
  for (k = 0; k < n; k++)
    out[k] = sizeof(mxChar) == 1 ? (uint16_t)(unsigned char)text[k] : (uint16_t)text[k];
  return codes;
}

/* Send X's bytes: the real parts, then the imaginary parts. MATLAB's separate complex API
   (the default of mex, and the one Octave 7's mex gets right: its interleaved one corrupted
   complex results here). */
static int send_array(bw_conn *c, const mxArray *x, size_t item, bw_watch *job) {
  size_t n = mxGetNumberOfElements(x) * item;
  int r = BW_OK;
  if (n) r = bw_send(c, mxGetData(x), n, job, interrupted);
  if (n && r == BW_OK && mxIsComplex(x)) r = bw_send(c, mxGetImagData(x), n, job, interrupted);
  return r;
}

static void answer(int nlhs, mxArray *plhs[], double status, const char *line, size_t n,
                   mxArray *result) {
  char *text = (char *)mxCalloc(n + 1, 1);
  memcpy(text, line, n);
  plhs[0] = mxCreateDoubleScalar(status);
  if (nlhs > 1) plhs[1] = mxCreateString(text);
  if (nlhs > 2) plhs[2] = result ? result : mxCreateDoubleMatrix(0, 0, mxREAL);
  else if (result) mxDestroyArray(result);
  mxFree(text);
}

static void give_up(int nlhs, mxArray *plhs[], int r) {
  if (r == BW_INTR)
    answer(nlhs, plhs, 130, "bridge: error: interrupted (bridge:interrupted)", 47, NULL);
  else
    answer(nlhs, plhs, r == BW_NONE ? -1 : -2, "", 0, NULL);
}

/* ---- large operands through shared memory ------------------------------------------------
   Operands of SHM_MIN bytes and more go through a file in /dev/shm instead of the socket: the
   client copies them in once, the job process computes on them where they are (mapped) and
   writes the result after them, the client copies it out: two copies instead of four, and no
   turns of writer and reader through a socket buffer. One file per MATLAB process, kept (and
   kept mapped) from call to call, so that its pages are touched once: fresh pages cost more than
   the copies here (a KVM guest). Space is reserved (posix_fallocate) before a byte is written: a
   full /dev/shm means the socket, never SIGBUS. The file is removed when the MEX file is
   cleared or MATLAB exits; the file of a process that is gone (a crash) is removed by the next
   MATLAB process that starts one. BRIDGE_MEX_SHM_MIN (bytes) overrides SHM_MIN (tests: 0). */
#include <sys/mman.h>

#define SHM_MIN (1u << 20)
#define ALIGN(n) (((n) + 63) & ~(size_t)63)

typedef struct {
  int fd;
  char *map;
  size_t size, result; /* the mapping's size, this call's result offset */
  size_t reserved;     /* bytes from the start with space reserved (posix_fallocate) */
  char name[96];
  int used; /* this call put its operands there */
} shm_t;

static shm_t shm = {-1, NULL, 0, 0, 0, "", 0};

static void shm_remove(void) {
  if (shm.map) munmap(shm.map, shm.size);
  if (shm.fd >= 0) close(shm.fd);
  if (shm.name[0]) unlink(shm.name);
  shm.map = NULL;
  shm.fd = -1;
  shm.size = shm.reserved = 0;
  shm.name[0] = 0;
}

/* The files of MATLAB processes that are gone (a crash): removed. */
static void shm_sweep(void) {
  DIR *d = opendir("/dev/shm");
  struct dirent *e;
  char path[PATH_MAX];
  long pid;
  struct stat st;
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "bridge-mex-", 11)) continue;
    pid = strtol(e->d_name + 11, NULL, 10);
    snprintf(path, sizeof path, "/proc/%ld", pid);
    if (pid > 0 && stat(path, &st) != 0) {
      snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
      if (lstat(path, &st) == 0 && st.st_uid == getuid()) unlink(path);
    }
  }
  closedir(d);
}

/* An upper bound of the result's bytes, whatever the operation: 16 bytes an element (complex
   double) and, in each dimension, the sum of the values' sizes there, a vector counting its
   length in every dimension (conv2(u, v, A) puts numel(u) and numel(v) along A's dimensions;
   imfilter's 'full' adds size(h) - 1). Settings are small: they only widen the bound. */
static size_t result_bound(int count, const mxArray *prhs[]) {
  size_t bound = 16, nd = 0, sum, extent;
  int k;
  mwSize d;
  for (k = 0; k < count; k++)
    if (mxGetNumberOfDimensions(prhs[k]) > nd) nd = mxGetNumberOfDimensions(prhs[k]);
  for (d = 0; d < nd; d++) {
    for (sum = 0, k = 0; k < count; k++) {
      const mwSize *dims = mxGetDimensions(prhs[k]);
      size_t n = mxGetNumberOfElements(prhs[k]);
      int vector = mxGetNumberOfDimensions(prhs[k]) == 2 && (dims[0] == 1 || dims[1] == 1);
      extent = d < mxGetNumberOfDimensions(prhs[k]) ? dims[d] : 1;
      sum += vector && n > extent ? n : extent;
    }
    bound *= sum;
  }
  return bound;
}

/* Put the operands in the shared file (0), or -1: not worth it, or not possible (the socket). */
static int shm_put(int count, const mxArray *prhs[]) {
  static int swept = 0;
  const char *env = getenv("BRIDGE_MEX_SHM_MIN");
  size_t least = env && *env ? (size_t)strtoull(env, NULL, 10) : SHM_MIN;
  size_t offset = 0, n, item, total;
  int k;
  shm.used = 0;
  for (k = 0; k < count; k++) {
    class_name(mxGetClassID(prhs[k]), &item);
    offset = ALIGN(offset + mxGetNumberOfElements(prhs[k]) * item * (mxIsComplex(prhs[k]) ? 2 : 1));
  }
  if (offset < least || offset == 0) return -1;
  total = offset + ALIGN(result_bound(count, prhs));
  if (!swept) {
    swept = 1;
    shm_sweep();
  }
  if (shm.fd < 0) {
    snprintf(shm.name, sizeof shm.name, "/dev/shm/bridge-mex-%ld-%lx", (long)getpid(),
             (unsigned long)(bw_now_ms() * 1000));
    shm.fd = open(shm.name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (shm.fd < 0) {
      shm.name[0] = 0;
      return -1;
    }
  }
  if (total > shm.size) { /* grow (the pages already touched stay) */
    if (shm.map) munmap(shm.map, shm.size);
    shm.map = NULL;
    shm.size = 0;
    if (ftruncate(shm.fd, (off_t)total)) {
      shm_remove();
      return -1;
    }
    shm.map = (char *)mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, shm.fd, 0);
    if (shm.map == MAP_FAILED) {
      shm.map = NULL;
      shm_remove();
      return -1;
    }
    shm.size = total;
  }
  if (offset > shm.reserved) { /* reserved once: already reserved pages stay */
    if (posix_fallocate(shm.fd, 0, (off_t)offset)) return -1; /* no room: the socket */
    shm.reserved = offset;
  }
  shm.result = offset;
  for (offset = 0, k = 0; k < count; k++) {
    class_name(mxGetClassID(prhs[k]), &item);
    n = mxGetNumberOfElements(prhs[k]) * item;
    if (n) memcpy(shm.map + offset, mxGetData(prhs[k]), n);
    if (n && mxIsComplex(prhs[k])) memcpy(shm.map + offset + n, mxGetImagData(prhs[k]), n);
    offset = ALIGN(offset + n * (mxIsComplex(prhs[k]) ? 2 : 1));
  }
  shm.used = 1;
  return 0;
}

/* The connection to the last job's process, kept for the next call: a memory job's process
   serves the same client's next calls for a moment (bridge/_serve_memory.py), which saves the
   server's fork per call. */
static bw_conn kept;
static bw_watch kept_job;
static int have_kept = 0;

static void drop_kept(void) {
  if (have_kept) bw_close(&kept);
  have_kept = 0;
}

static void at_exit(void) {
  drop_kept();
  shm_remove();
}

/* A progress line of the job (the worker sends them while a long job computes) in the command
   window; MATLAB shows a MEX function's output only at its end unless drawnow flushes it. */
static void show_progress(const char *line, size_t n) {
  mexPrintf("%.*s\n", (int)n, line);
#if !defined(HAVE_OCTAVE)
  {
    mxArray *caught = mexEvalStringWithTrap("drawnow;"); /* never leaves this function */
    if (caught) mxDestroyArray(caught);
  }
#endif
}

/* Send the operands, then read the answer into PLHS: BW_OK (answered), or why not. */
static int exchange(bw_conn *c, bw_watch *job, int count, const mxArray *prhs[], int nlhs,
                    mxArray *plhs[]) {
  mwSize dims[64];
  size_t nd = 0, n, numel = 1, item;
  int k, cplx, r = BW_OK, shared;
  mxClassID id;
  char text[1024], *p = text, *next;
  mxArray *result;
  for (k = 0; k < count && r == BW_OK && !shm.used; k++) {
    class_name(mxGetClassID(prhs[k]), &item);
    r = send_array(c, prhs[k], item, job);
  }
  if (r == BW_OK) r = bw_answer(c, job, interrupted, show_progress);
  if (r != BW_OK) return r;
  if (!bw_is(c, 0, "ok")) return BW_COLD; /* e.g. a job the file path streams */
  if (c->count == 3) {
    answer(nlhs, plhs, (double)bw_number(c, 1), c->f[2], c->n[2], NULL);
    return BW_OK;
  }
  shared = c->count == 7 && bw_is(c, 6, "shm") && shm.used;
  if (!((c->count == 6 || shared) && bw_is(c, 1, "0"))) return BW_COLD;
  id = class_id(c, 3, &item);
  cplx = bw_is(c, 4, "1");
  if (id == mxUNKNOWN_CLASS || (cplx && id == mxLOGICAL_CLASS)) return BW_COLD;
  if (c->n[5] >= sizeof text) return BW_COLD;
  memcpy(text, c->f[5], c->n[5]); /* the fields are not terminated: copy first */
  text[c->n[5]] = 0;
  while (*p && nd < 64) {
    dims[nd] = (mwSize)strtoul(p, &next, 10);
    numel *= dims[nd++];
    p = *next == 'x' ? next + 1 : next + strlen(next);
  }
  if (nd < 2) return BW_COLD;
  result = id == mxLOGICAL_CLASS
               ? mxCreateLogicalArray(nd, dims)
               : mxCreateUninitNumericArray(nd, dims, id, cplx ? mxCOMPLEX : mxREAL);
  if (!result) return BW_COLD;
  n = numel * item;
  if (shared) { /* the result is in the file, after the operands */
    if (shm.result + n * (cplx ? 2 : 1) > shm.size) {
      mxDestroyArray(result);
      return BW_COLD;
    }
    if (n) memcpy(mxGetData(result), shm.map + shm.result, n);
    if (n && cplx) memcpy(mxGetImagData(result), shm.map + shm.result + n, n);
  } else {
    if (n) r = bw_read(c, mxGetData(result), n, job, interrupted);
    if (r == BW_OK && n && cplx) r = bw_read(c, mxGetImagData(result), n, job, interrupted);
  }
  if (r != BW_OK) {
    mxDestroyArray(result);
    return r;
  }
  answer(nlhs, plhs, 0, "", 0, result);
  return BW_OK;
}

/* The memory job's description (after the header): --memory 1 OP SHAPE NAME:CLASS:C:DIMS...
   [shm=FILE], with the operands put in a shared file where they are large. NAMES: the values'
   names, separated by commas; CHARS: which values were char (PRHS holds their codes). */
static int describe(bw_buf *tail, const char *op, const char *shape, const char *names,
                    const int *chars, int count, const mxArray *prhs[]) {
  char field[256];
  size_t item;
  int k, r;
  const char *name = names;
  shm_put(count, prhs);
  tail->len = 0;
  r = bw_field(tail, "--memory") || bw_field(tail, "1") || bw_field(tail, op) ||
      bw_field(tail, shape);
  for (k = 0; k < count && !r; k++) {
    const mxArray *x = prhs[k];
    const mwSize *dims = mxGetDimensions(x);
    mwSize d, nd = mxGetNumberOfDimensions(x);
    size_t length = strcspn(name, ",");
    int len = snprintf(field, sizeof field, "%.*s:%s:%d:", (int)length, name,
                       chars[k] ? "char" : class_name(mxGetClassID(x), &item),
                       mxIsComplex(x) ? 1 : 0);
    name += length + (name[length] == ',');
    for (d = 0; d < nd && len < (int)sizeof field - 24; d++)
      len += snprintf(field + len, sizeof field - len, d ? "x%lu" : "%lu", (unsigned long)dims[d]);
    r = bw_field(tail, field);
  }
  if (!r && shm.used) {
    snprintf(field, sizeof field, "shm=%s", shm.name);
    r = bw_field(tail, field);
  }
  return r;
}

void mexFunction(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
  static int registered = 0;
  char package[PATH_MAX], op[64], shape[256], names[1024];
  bw_buf req = {0}, tail = {0};
  bw_conn c;
  bw_watch job;
  int k, count, r, chars[MAX_VALUES];
  const mxArray *values[MAX_VALUES];
  const char *p;
  size_t item;

  if (!registered) {
    mexAtExit(at_exit);
    registered = 1;
  }
  if (nrhs == 1 && mxIsChar(prhs[0])) {
    plhs[0] = mxCreateString(BRIDGE_MEX_VERSION);
    return;
  }
  if (nrhs < 5 || nrhs > 4 + MAX_VALUES || nlhs > 3)
    mexErrMsgIdAndTxt("bridge:mexUsage", "bridge_mex(PACKAGE, OP, SHAPE, NAMES, X1, X2, ...)");
  for (k = 0; k < 4; k++)
    if (!mxIsChar(prhs[k]))
      mexErrMsgIdAndTxt("bridge:mexUsage", "PACKAGE, OP, SHAPE and NAMES must be text");
  if (mxGetString(prhs[0], package, sizeof package) || mxGetString(prhs[1], op, sizeof op) ||
      mxGetString(prhs[2], shape, sizeof shape) || mxGetString(prhs[3], names, sizeof names))
    mexErrMsgIdAndTxt("bridge:mexUsage", "an argument is too long");
  count = nrhs - 4;
  for (k = 1, p = names; *p; p++) k += *p == ',';
  if (k != count || strspn(names, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_,")
                        != strlen(names))
    mexErrMsgIdAndTxt("bridge:mexUsage", "NAMES needs one name per value, separated by commas");
  for (k = 0; k < count; k++) {
    const mxArray *x = prhs[4 + k];
    if (mxIsSparse(x) || !class_name(mxGetClassID(x), &item) ||
        (mxIsComplex(x) && (mxGetClassID(x) == mxLOGICAL_CLASS || mxIsChar(x))))
      mexErrMsgIdAndTxt("bridge:mexUsage", "values must be full numeric, logical or char arrays");
  }
  /* Char values go as their codes (a uint16 array, freed with the call: mxCreate* arrays). */
  for (k = 0; k < count; k++) {
    chars[k] = mxIsChar(prhs[4 + k]);
    values[k] = chars[k] ? char_codes(prhs[4 + k]) : prhs[4 + k];
  }
  r = describe(&tail, op, shape, names, chars, count, values);

  /* The process of the last call, if it still waits: "next" and the operands, no handshake. */
  if (!r && have_kept && bw_alive(&kept_job)) {
    if (bw_header_op(&req, "next", package) || bw_add(&req, tail.data, tail.len)) {
      r = BW_COLD;
    } else {
      bw_end(&req);
      r = bw_send(&kept, req.data, req.len, &kept_job, interrupted);
      if (r == BW_OK) r = exchange(&kept, &kept_job, count, values, nlhs, plhs);
    }
    if (r == BW_OK) {
      bw_free(&req);
      bw_free(&tail);
      return;
    }
    /* Gone (it waits only a moment), refused, stopped or interrupted: a new job process,
       unless interrupted. A memory job has no side effect: running it again is harmless. */
    bw_kill(&kept_job);
    drop_kept();
    if (r == BW_INTR) {
      bw_free(&req);
      bw_free(&tail);
      give_up(nlhs, plhs, r);
      return;
    }
    /* Anew: the kept process may have taken (and removed) the shared file already. */
    r = describe(&tail, op, shape, names, chars, count, values);
  } else if (have_kept) {
    drop_kept();
  }
  if (!r && (bw_header(&req, package) || bw_add(&req, tail.data, tail.len))) r = BW_NONE;
  bw_free(&tail);
  if (r) {
    bw_free(&req);
    give_up(nlhs, plhs, BW_NONE);
    return;
  }
  bw_end(&req);
  r = bw_start(&c, &req, &job, interrupted);
  bw_free(&req);
  if (r == BW_OK) r = exchange(&c, &job, count, values, nlhs, plhs);
  if (r != BW_OK) {
    /* Given up on a stopped or silent job process, or Ctrl-C: it never finishes behind us. */
    bw_kill(&job);
    bw_close(&c);
    give_up(nlhs, plhs, r);
    return;
  }
  kept = c;
  kept_job = job;
  have_kept = 1;
}
