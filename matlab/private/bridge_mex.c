/* bridge_mex.c: hand a convolution's operands to the warm worker from memory (issue 19).

   Build (bridge_setup does it; Octave's wrappers do it on first use when mkoctfile exists):
     Octave:  mkoctfile --mex -o bridge_mex bridge_mex.c
     MATLAB:  mex -R2017b -output bridge_mex bridge_mex.c -lut   (utIsInterruptPending)

   [STATUS, LINE, C] = bridge_mex(PACKAGE, OP, SHAPE, NAMES, X1, X2[, X3])
     PACKAGE  the folder of the bridge package the warm worker must run (its identity is sent)
     OP       'conv', 'conv2' or 'convn';  SHAPE  the shape text, as the wrappers save it
     NAMES    one letter per operand: 'uv', 'AB' or 'uvA'
     X1..X3   full numeric or logical arrays (complex allowed)
   STATUS 0: C is the result.  STATUS > 0: the job failed as the file job fails; LINE is the
   worker's one-line error ("bridge: error: ... (IDENTIFIER)"), the wrappers raise it.
   STATUS -1: no warm worker to ask (nothing was sent): run the call through files.
   STATUS -2: the worker refused, is of another version, or was gone, frozen or silent: the job
   did not run; run it through files, cold.  STATUS 130: interrupted (Ctrl-C); the job's
   process was killed.
   V = bridge_mex('version') is this client's version (the wrappers rebuild an older one).

   Nothing here raises an error for a worker's answer: the wrappers turn STATUS and LINE into
   the file path's error, with the same identifier and message. The operands go over the Unix
   socket straight from MATLAB's memory, and the result comes back into a new array, after the
   file job's handshake (see bridge/serve_memory.py and bridge_wire.h). */
#define _GNU_SOURCE /* struct ucred; before any system header */
#include "bridge_wire.h"

#include "mex.h"

#define BRIDGE_MEX_VERSION "bridge_mex 1"

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
    default: return NULL;
  }
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

/* The connection to the last job's process, kept for the next call: a memory job's process
   serves the same client's next calls for a moment (bridge/serve_memory.py), which saves the
   server's fork per call. */
static bw_conn kept;
static bw_watch kept_job;
static int have_kept = 0;

static void drop_kept(void) {
  if (have_kept) bw_close(&kept);
  have_kept = 0;
}

/* Send the operands, then read the answer into PLHS: BW_OK (answered), or why not. */
static int exchange(bw_conn *c, bw_watch *job, int count, const mxArray *prhs[], int nlhs,
                    mxArray *plhs[]) {
  mwSize dims[64];
  size_t nd = 0, n, numel = 1, item;
  int k, single, cplx, r = BW_OK;
  char text[1024], *p = text, *next;
  mxArray *result;
  for (k = 0; k < count && r == BW_OK; k++) {
    class_name(mxGetClassID(prhs[k]), &item);
    r = send_array(c, prhs[k], item, job);
  }
  if (r == BW_OK) r = bw_next(c, job, 0, interrupted);
  if (r != BW_OK) return r;
  if (!bw_is(c, 0, "ok")) return BW_COLD; /* e.g. a job the file path streams */
  if (c->count == 3) {
    answer(nlhs, plhs, (double)bw_number(c, 1), c->f[2], c->n[2], NULL);
    return BW_OK;
  }
  if (!(c->count == 6 && bw_is(c, 1, "0"))) return BW_COLD;
  single = bw_is(c, 3, "single");
  cplx = bw_is(c, 4, "1");
  if (c->n[5] >= sizeof text) return BW_COLD;
  memcpy(text, c->f[5], c->n[5]); /* the fields are not terminated: copy first */
  text[c->n[5]] = 0;
  while (*p && nd < 64) {
    dims[nd] = (mwSize)strtoul(p, &next, 10);
    numel *= dims[nd++];
    p = *next == 'x' ? next + 1 : next + strlen(next);
  }
  if (nd < 2) return BW_COLD;
  result = mxCreateUninitNumericArray(nd, dims, single ? mxSINGLE_CLASS : mxDOUBLE_CLASS,
                                      cplx ? mxCOMPLEX : mxREAL);
  if (!result) return BW_COLD;
  n = numel * (single ? 4 : 8);
  if (n) r = bw_read(c, mxGetData(result), n, job, interrupted);
  if (r == BW_OK && n && cplx) r = bw_read(c, mxGetImagData(result), n, job, interrupted);
  if (r != BW_OK) {
    mxDestroyArray(result);
    return r;
  }
  answer(nlhs, plhs, 0, "", 0, result);
  return BW_OK;
}

void mexFunction(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
  static int registered = 0;
  char package[PATH_MAX], op[16], shape[256], names[8], field[256];
  bw_buf req = {0}, tail = {0};
  bw_conn c;
  bw_watch job;
  int k, count, r;
  size_t item;

  if (!registered) {
    mexAtExit(drop_kept);
    registered = 1;
  }
  if (nrhs == 1 && mxIsChar(prhs[0])) {
    plhs[0] = mxCreateString(BRIDGE_MEX_VERSION);
    return;
  }
  if (nrhs < 6 || nrhs > 7 || nlhs > 3)
    mexErrMsgIdAndTxt("bridge:mexUsage", "bridge_mex(PACKAGE, OP, SHAPE, NAMES, X1, X2[, X3])");
  for (k = 0; k < 4; k++)
    if (!mxIsChar(prhs[k]))
      mexErrMsgIdAndTxt("bridge:mexUsage", "PACKAGE, OP, SHAPE and NAMES must be text");
  if (mxGetString(prhs[0], package, sizeof package) || mxGetString(prhs[1], op, sizeof op) ||
      mxGetString(prhs[2], shape, sizeof shape) || mxGetString(prhs[3], names, sizeof names))
    mexErrMsgIdAndTxt("bridge:mexUsage", "an argument is too long");
  count = nrhs - 4;
  if ((int)strlen(names) != count)
    mexErrMsgIdAndTxt("bridge:mexUsage", "NAMES needs one letter per operand");
  for (k = 0; k < count; k++) {
    const mxArray *x = prhs[4 + k];
    if (mxIsSparse(x) || !class_name(mxGetClassID(x), &item) ||
        (mxIsComplex(x) && mxGetClassID(x) == mxLOGICAL_CLASS))
      mexErrMsgIdAndTxt("bridge:mexUsage", "operands must be full numeric or logical arrays");
  }

  /* The memory job's description (after the header): --memory 1 OP SHAPE NAME:CLASS:C:DIMS... */
  r = bw_field(&tail, "--memory") || bw_field(&tail, "1") || bw_field(&tail, op) ||
      bw_field(&tail, shape);
  for (k = 0; k < count && !r; k++) {
    const mxArray *x = prhs[4 + k];
    const mwSize *dims = mxGetDimensions(x);
    mwSize d, nd = mxGetNumberOfDimensions(x);
    int len = snprintf(field, sizeof field, "%c:%s:%d:", names[k],
                       class_name(mxGetClassID(x), &item), mxIsComplex(x) ? 1 : 0);
    for (d = 0; d < nd && len < (int)sizeof field - 24; d++)
      len += snprintf(field + len, sizeof field - len, d ? "x%lu" : "%lu", (unsigned long)dims[d]);
    r = bw_field(&tail, field);
  }

  /* The process of the last call, if it still waits: "next" and the operands, no handshake. */
  if (!r && have_kept && bw_alive(&kept_job)) {
    if (bw_header_op(&req, "next", package) || bw_add(&req, tail.data, tail.len)) {
      r = BW_COLD;
    } else {
      bw_end(&req);
      r = bw_send(&kept, req.data, req.len, &kept_job, interrupted);
      if (r == BW_OK) r = exchange(&kept, &kept_job, count, prhs + 4, nlhs, plhs);
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
    r = 0;
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
  if (r == BW_OK) r = exchange(&c, &job, count, prhs + 4, nlhs, plhs);
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
