/* The compiled loop of ``direct``, built at install (optional: without a C compiler, bridge uses
 * numba where installed, else numpy).
 *
 * The same loop as bridge/kernels/_direct_numba.py: for each output, out[o] += x[o - j] * w[j]
 * over the taps j in index order, only where o - j lies inside x. Each product is rounded, then
 * added (built with -ffp-contract=off: no fused multiply-add), so it gives the bits of the numpy
 * and numba paths. Called through ctypes, which releases the GIL: the kernels' threads run shares
 * of the output at once. Arrays are C-contiguous, 3-D (leading dimensions of 1 added). A minimal
 * module init lets Python import the file as a module, which finds its path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <string.h>

#define CHUNK 2048 /* outputs per piece of a line: output and inputs stay in L1 */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

static inline ptrdiff_t max_p(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }
static inline ptrdiff_t min_p(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }

#define DEFINE_DIRECT(NAME, T)                                                                   \
    static inline void NAME##_tap(T *restrict row, const T *restrict xr, T wv, ptrdiff_t lo,     \
                                  ptrdiff_t hi, ptrdiff_t d) {                                   \
        for (ptrdiff_t k = lo; k < hi; k++) row[k] += xr[k + d] * wv;                            \
    }                                                                                            \
    CLONES static void NAME(T *restrict out, const T *restrict x, const T *restrict w,                  \
                     const ptrdiff_t *dims, ptrdiff_t s0, ptrdiff_t s1, ptrdiff_t s2,            \
                     ptrdiff_t l0, ptrdiff_t l1, ptrdiff_t c0, ptrdiff_t c1, int skip_zero) {    \
        /* dims: the output's L1 and L2, x's n0 n1 n2, w's q0 q1 q2 */                           \
        const ptrdiff_t L1 = dims[0], L2 = dims[1];                                              \
        const ptrdiff_t n0 = dims[2], n1 = dims[3], n2 = dims[4];                                \
        const ptrdiff_t q0 = dims[5], q1 = dims[6], q2 = dims[7];                                \
        for (ptrdiff_t line = l0; line < l1; line++) {                                           \
            const ptrdiff_t i0 = line / L1, i1 = line - i0 * L1;                                 \
            const ptrdiff_t o0 = i0 + s0, o1 = i1 + s1;                                          \
            T *row = out + (i0 * L1 + i1) * L2;                                                  \
            for (ptrdiff_t b0 = c0; b0 < c1; b0 += CHUNK) {                                      \
                const ptrdiff_t b1 = min_p(b0 + CHUNK, c1);                                      \
                for (ptrdiff_t j0 = 0; j0 < q0; j0++) {                                          \
                    const ptrdiff_t x0 = o0 - j0;                                                \
                    if (x0 < 0 || x0 >= n0) continue;                                            \
                    for (ptrdiff_t j1 = 0; j1 < q1; j1++) {                                      \
                        const ptrdiff_t x1 = o1 - j1;                                            \
                        if (x1 < 0 || x1 >= n1) continue;                                        \
                        const T *xr = x + (x0 * n1 + x1) * n2;                                   \
                        const T *wr = w + (j0 * q1 + j1) * q2;                                   \
                        ptrdiff_t j2 = 0;                                                        \
                        while (j2 < q2) {                                                        \
                            const T wa = wr[j2];                                                 \
                            /* output k takes tap t from x[k + s2 - t], k in [t - s2, n2 + t - s2) */ \
                            if (j2 + 3 <= q2) {                                                  \
                                const T wb = wr[j2 + 1], wc = wr[j2 + 2];                        \
                                const ptrdiff_t lo_a = max_p(b0, j2 - s2);                       \
                                const ptrdiff_t hi_a = min_p(b1, n2 + j2 - s2);                  \
                                const ptrdiff_t lo_b = max_p(b0, j2 + 1 - s2);                   \
                                const ptrdiff_t hi_b = min_p(b1, n2 + j2 + 1 - s2);              \
                                const ptrdiff_t lo_c = max_p(b0, j2 + 2 - s2);                   \
                                const ptrdiff_t hi_c = min_p(b1, n2 + j2 + 2 - s2);              \
                                const int zero = skip_zero && (wa == 0 || wb == 0 || wc == 0);   \
                                if (hi_a > lo_c && !zero) {                                      \
                                    /* three taps in one pass where all three reach; each        \
                                       output still adds them in tap order */                    \
                                    const ptrdiff_t d = s2 - j2;                                 \
                                    NAME##_tap(row, xr, wa, lo_a, lo_c, d);                      \
                                    NAME##_tap(row, xr, wb, lo_b, lo_c, d - 1);                  \
                                    for (ptrdiff_t k = lo_c; k < hi_a; k++)                      \
                                        row[k] = ((row[k] + xr[k + d] * wa) + xr[k + d - 1] * wb) \
                                                 + xr[k + d - 2] * wc;                           \
                                    NAME##_tap(row, xr, wb, max_p(lo_b, hi_a), hi_b, d - 1);     \
                                    NAME##_tap(row, xr, wc, max_p(lo_c, hi_a), hi_c, d - 2);     \
                                    j2 += 3;                                                     \
                                    continue;                                                    \
                                }                                                                \
                            }                                                                    \
                            if (!(skip_zero && wa == 0))                                         \
                                NAME##_tap(row, xr, wa, max_p(b0, j2 - s2),                      \
                                           min_p(b1, n2 + j2 - s2), s2 - j2);                    \
                            j2 += 1;                                                             \
                        }                                                                        \
                    }                                                                            \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }

DEFINE_DIRECT(bridge_direct3_f64, double)
DEFINE_DIRECT(bridge_direct3_f32, float)

static int get_array(PyObject *obj, Py_buffer *view, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->ndim < 1 || view->ndim > 3) {
        PyErr_Format(PyExc_ValueError, "direct3: %s must have 1 to 3 dimensions", what);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Dimension k of the array as 3-D, leading dimensions of 1 added. */
static ptrdiff_t dim3(const Py_buffer *view, int k) {
    int d = k - (3 - view->ndim);
    return d < 0 ? 1 : view->shape[d];
}

static char kind_of(const Py_buffer *view) {
    const char *f = view->format ? view->format : "B";
    char c = f[strlen(f) - 1];
    if (c == 'd' && view->itemsize == 8) return 'd';
    if (c == 'f' && view->itemsize == 4) return 'f';
    return 0;
}

static PyObject *py_direct3(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 11) {
        PyErr_SetString(PyExc_TypeError, "direct3 takes 11 arguments");
        return NULL;
    }
    ptrdiff_t v[7];
    for (int k = 0; k < 7; k++) {
        v[k] = PyNumber_AsSsize_t(args[3 + k], PyExc_OverflowError);
        if (v[k] == -1 && PyErr_Occurred()) return NULL;
    }
    int skip_zero = PyObject_IsTrue(args[10]);
    if (skip_zero < 0) return NULL;
    Py_buffer bo, bx, bw;
    if (get_array(args[0], &bo, 1, "out") < 0) return NULL;
    if (get_array(args[1], &bx, 0, "x") < 0) {
        PyBuffer_Release(&bo);
        return NULL;
    }
    if (get_array(args[2], &bw, 0, "w") < 0) {
        PyBuffer_Release(&bo);
        PyBuffer_Release(&bx);
        return NULL;
    }
    char kind = kind_of(&bo);
    PyObject *result = Py_None;
    if (kind == 0 || kind_of(&bx) != kind || kind_of(&bw) != kind) {
        PyErr_SetString(PyExc_TypeError, "direct3: out, x and w must all be float64 or float32");
        result = NULL;
    } else {
        ptrdiff_t dims[8] = {dim3(&bo, 1), dim3(&bo, 2), dim3(&bx, 0), dim3(&bx, 1),
                             dim3(&bx, 2), dim3(&bw, 0), dim3(&bw, 1), dim3(&bw, 2)};
        Py_BEGIN_ALLOW_THREADS
        if (kind == 'd')
            bridge_direct3_f64(bo.buf, bx.buf, bw.buf, dims, v[0], v[1], v[2], v[3], v[4], v[5],
                               v[6], skip_zero);
        else
            bridge_direct3_f32(bo.buf, bx.buf, bw.buf, dims, v[0], v[1], v[2], v[3], v[4], v[5],
                               v[6], skip_zero);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&bo);
    PyBuffer_Release(&bx);
    PyBuffer_Release(&bw);
    Py_XINCREF(result);
    return result;
}

static PyMethodDef methods[] = {
    {"direct3", (PyCFunction)(void (*)(void))py_direct3, METH_FASTCALL,
     "direct3(out, x, w, s0, s1, s2, l0, l1, c0, c1, skip_zero): out += the terms of lines "
     "l0..l1 and columns c0..c1 (numba's direct3)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_direct_c",
                                    "The compiled loop of direct.", -1, methods};

PyMODINIT_FUNC PyInit__direct_c(void) { return PyModule_Create(&module); }
