/* The compiled loop of ``direct``, built at install (optional: without a C compiler, bridge uses
 * numba where installed, else numpy).
 *
 * The sums of bridge/_kernels/_direct_numba.py: each output o is 0 + x[o - j] * w[j] + ... over
 * the taps j in index order (row-major: the last index fastest), only where o - j lies inside x.
 * Each product is rounded, then added (built with -ffp-contract=off: no fused multiply-add), so
 * it gives the bits of the numpy and numba paths. Arrays are C-contiguous, 3-D (leading
 * dimensions of 1 added). With ``reverse``, the arrays are the transposes (all axes reversed)
 * of the operands and result, as a column-major (MATLAB) array is read without a copy: the taps
 * are then taken in the operands' row-major order, the first index here fastest, so the bits are
 * those of the operands in row-major memory. Called as a CPython function; it releases the GIL,
 * so the kernels' threads run shares of the output at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Outputs are summed in registers, VECTORS vectors of outputs at a time, over every tap of
 * the kernel in order: the same products added in the same order as the numpy path's passes
 * (one per tap) over the output, each output reading and writing memory once. */
#define VECTORS 4
#define STACK_ITEMS 512 /* tap tables of at most this many items live on the stack */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

static inline ptrdiff_t max_p(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }
static inline ptrdiff_t min_p(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }

/* An edge block by masked loads (AVX-512 only, chosen at run time): outputs k..k1 (at most one
 * block) of a line set to their sums, each tap's terms outside x read as zeros by the load's
 * mask instead of from a zero-padded copy of the block's rows. The same values in the same
 * lanes as the copy (zeros outside x, x inside), multiplied and added in the same order, so the
 * same bits; without the copy of every row the block reads, which costs more than the sums
 * where the kernel is small or the lines short. Finite weights only, as the copy. */
/* Taps' lanes inside x: a mask per distinct shift (kernel column) and vector, for at most
 * EDGE_Q2 columns (wider kernels take the copies). */
#define EDGE_Q2 64
/* one block's masks: per kernel column and vector, then the outputs' per vector */
typedef unsigned short mask_t;
#define MASK_SLOT ((EDGE_Q2 + 1) * VECTORS)
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define HAVE_MASKED 1
#define EDGE_BODY(N, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1)                     \
    do {                                                                                          \
        VT acc[N];                                                                                \
        for (int v = 0; v < N; v++)                                                               \
            acc[v] = accumulate ? MASKZ_LOAD((MT)out_mask[v], row + k + v * W) : ZERO();              \
        for (ptrdiff_t t = 0; t < nt; t++) {                                                      \
            const mask_t *m = mk + (shift[t] - sh0) * VECTORS;                                        \
            const T *xt = xl + offset[t] + k;                                                     \
            const VT wt = SET1(weight[t]);                                                        \
            for (int v = 0; v < N; v++)                                                           \
                acc[v] = ADD(acc[v], MUL(MASKZ_LOAD((MT)m[v], xt + v * W), wt));                     \
        }                                                                                         \
        for (int v = 0; v < N; v++) MASK_STORE(row + k + v * W, (MT)out_mask[v], acc[v]);             \
    } while (0)
#define DEFINE_EDGE(NAME, T_, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1)            \
    __attribute__((target("avx512f"))) static void NAME(                                         \
        T_ *row, const T_ *xl, ptrdiff_t k, ptrdiff_t k1, ptrdiff_t nt, const ptrdiff_t *offset, \
        const ptrdiff_t *shift, const T_ *weight, ptrdiff_t n2, ptrdiff_t sh0, ptrdiff_t q2,     \
        int accumulate, mask_t *cache, ptrdiff_t *cache_key) {                                                                         \
        typedef T_ T;                                                                             \
        EDGE_MASKS(MT, W)                                                                         \
        switch ((k1 - k + W - 1) / W) {                                                           \
        case 1: EDGE_BODY(1, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1); break;     \
        case 2: EDGE_BODY(2, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1); break;     \
        case 3: EDGE_BODY(3, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1); break;     \
        default: EDGE_BODY(4, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1); break;    \
        }                                                                                         \
    }
/* Two lines' edge blocks at once (the paired lines of the C loop: the steps pair_at, their
 * weights for each line, kinds in seg), vectors H..H + N of the block. */
#define EDGE2_BODY(N, H, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1)                 \
    do {                                                                                          \
        VT a[N], b[N];                                                                            \
        for (int v = 0; v < N; v++) {                                                             \
            a[v] = accumulate ? MASKZ_LOAD((MT)out_mask[H + v], row + k + (H + v) * W) : ZERO();      \
            b[v] = accumulate ? MASKZ_LOAD((MT)out_mask[H + v], row + L2 + k + (H + v) * W) : ZERO(); \
        }                                                                                         \
        for (ptrdiff_t g = 0; g < nseg; g++) {                                                    \
            const ptrdiff_t kind = seg[3 * g], t1 = seg[3 * g + 2];                               \
            for (ptrdiff_t t = seg[3 * g + 1]; t < t1; t++) {                                     \
                const mask_t *m = mk + (pair_sh[t] - sh0) * VECTORS + H;                              \
                const T *xt = xl + pair_at[t] + k + H * W;                                        \
                const VT wa = SET1(pair_w[2 * t]), wb = SET1(pair_w[2 * t + 1]);                  \
                for (int v = 0; v < N; v++) {                                                     \
                    const VT xv = MASKZ_LOAD((MT)m[v], xt + v * W);                                   \
                    if (kind != 2) a[v] = ADD(a[v], MUL(xv, wa));                                 \
                    if (kind != 1) b[v] = ADD(b[v], MUL(xv, wb));                                 \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        for (int v = 0; v < N; v++) {                                                             \
            MASK_STORE(row + k + (H + v) * W, (MT)out_mask[H + v], a[v]);                             \
            MASK_STORE(row + L2 + k + (H + v) * W, (MT)out_mask[H + v], b[v]);                        \
        }                                                                                         \
    } while (0)
#define EDGE_MASKS(MT, W)                                                                         \
    /* the masks of blocks k..k1 (a line's first and last blocks alternate: two kept) */          \
    int slot_ = cache_key[0] == k && cache_key[1] == k1   ? 0                                     \
                : cache_key[2] == k && cache_key[3] == k1 ? 1                                     \
                                                          : -1;                                   \
    if (slot_ < 0) {                                                                              \
        slot_ = (int)cache_key[4];                                                                \
        cache_key[4] = 1 - slot_;                                                                 \
        cache_key[2 * slot_] = k, cache_key[2 * slot_ + 1] = k1;                                  \
        mask_t *c_ = cache + slot_ * MASK_SLOT;                                                   \
        for (int v = 0; v < VECTORS; v++) {                                                       \
            const ptrdiff_t e = min_p(W, max_p(0, k1 - k - v * W));                               \
            c_[EDGE_Q2 * VECTORS + v] = (mask_t)((1u << e) - 1u);                                 \
        }                                                                                         \
        for (ptrdiff_t j = 0; j < q2; j++) {                                                      \
            /* lanes lo..hi of the block read x (k + i + shift inside 0..n2) */                   \
            const ptrdiff_t lo = -(sh0 + j) - k, hi = n2 - (sh0 + j) - k;                         \
            for (int v = 0; v < VECTORS; v++) {                                                   \
                const ptrdiff_t a = min_p(W, max_p(0, lo - v * W));                              \
                const ptrdiff_t b = min_p(W, max_p(0, hi - v * W));                              \
                c_[j * VECTORS + v] = (mask_t)(((1u << b) - 1u) & ~((1u << a) - 1u));            \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    const mask_t *mk = cache + slot_ * MASK_SLOT, *out_mask = mk + EDGE_Q2 * VECTORS;
#define DEFINE_EDGE2(NAME, T_, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1)           \
    __attribute__((target("avx512f"))) static void NAME(                                         \
        T_ *row, ptrdiff_t L2, const T_ *xl, ptrdiff_t k, ptrdiff_t k1, ptrdiff_t nseg,         \
        const ptrdiff_t *seg, const ptrdiff_t *pair_at, const ptrdiff_t *pair_sh,               \
        const T_ *pair_w, ptrdiff_t n2, ptrdiff_t sh0, ptrdiff_t q2, int accumulate,            \
        mask_t *cache, ptrdiff_t *cache_key) {                                                    \
        typedef T_ T;                                                                             \
        EDGE_MASKS(MT, W)                                                                         \
        switch ((k1 - k + W - 1) / W) {                                                           \
        case 1: EDGE2_BODY(1, 0, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1); break; \
        case 2: EDGE2_BODY(2, 0, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1); break; \
        case 3:                                                                                   \
            EDGE2_BODY(2, 0, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1);            \
            EDGE2_BODY(1, 2, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1);            \
            break;                                                                                \
        default:                                                                                  \
            EDGE2_BODY(2, 0, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1);            \
            EDGE2_BODY(2, 2, VT, MT, W, MASKZ_LOAD, MASK_STORE, MUL, ADD, ZERO, SET1);            \
            break;                                                                                \
        }                                                                                         \
    }
DEFINE_EDGE2(edge2_f64, double, __m512d, __mmask8, 8, _mm512_maskz_loadu_pd,
             _mm512_mask_storeu_pd, _mm512_mul_pd, _mm512_add_pd, _mm512_setzero_pd,
             _mm512_set1_pd)
DEFINE_EDGE2(edge2_f32, float, __m512, __mmask16, 16, _mm512_maskz_loadu_ps,
             _mm512_mask_storeu_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_setzero_ps,
             _mm512_set1_ps)
DEFINE_EDGE(edge_f64, double, __m512d, __mmask8, 8, _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd,
            _mm512_mul_pd, _mm512_add_pd, _mm512_setzero_pd, _mm512_set1_pd)
DEFINE_EDGE(edge_f32, float, __m512, __mmask16, 16, _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps,
            _mm512_mul_ps, _mm512_add_ps, _mm512_setzero_ps, _mm512_set1_ps)
#else
#define HAVE_MASKED 0
static void edge2_f32(float *row, ptrdiff_t L2, const float *xl, ptrdiff_t k, ptrdiff_t k1,
                      ptrdiff_t nseg, const ptrdiff_t *seg, const ptrdiff_t *pair_at,
                      const ptrdiff_t *pair_sh, const float *pair_w, ptrdiff_t n2, ptrdiff_t sh0,
                      ptrdiff_t q2, int accumulate, mask_t *cache, ptrdiff_t *cache_key) {
    (void)cache, (void)cache_key;
    (void)row, (void)L2, (void)xl, (void)k, (void)k1, (void)nseg, (void)seg, (void)pair_at,
        (void)pair_sh, (void)pair_w, (void)n2, (void)sh0, (void)q2, (void)accumulate;
}
static void edge2_f64(double *row, ptrdiff_t L2, const double *xl, ptrdiff_t k, ptrdiff_t k1,
                      ptrdiff_t nseg, const ptrdiff_t *seg, const ptrdiff_t *pair_at,
                      const ptrdiff_t *pair_sh, const double *pair_w, ptrdiff_t n2, ptrdiff_t sh0,
                      ptrdiff_t q2, int accumulate, mask_t *cache, ptrdiff_t *cache_key) {
    (void)cache, (void)cache_key;
    (void)row, (void)L2, (void)xl, (void)k, (void)k1, (void)nseg, (void)seg, (void)pair_at,
        (void)pair_sh, (void)pair_w, (void)n2, (void)sh0, (void)q2, (void)accumulate;
}
static void edge_f64(double *row, const double *xl, ptrdiff_t k, ptrdiff_t k1, ptrdiff_t nt,
                     const ptrdiff_t *offset, const ptrdiff_t *shift, const double *weight,
                     ptrdiff_t n2, ptrdiff_t sh0, ptrdiff_t q2, int accumulate, mask_t *cache,
                     ptrdiff_t *cache_key) {
    (void)cache, (void)cache_key;
    (void)row, (void)xl, (void)k, (void)k1, (void)nt, (void)offset, (void)shift, (void)weight,
        (void)n2, (void)sh0, (void)q2, (void)accumulate;
}
static void edge_f32(float *row, const float *xl, ptrdiff_t k, ptrdiff_t k1, ptrdiff_t nt,
                     const ptrdiff_t *offset, const ptrdiff_t *shift, const float *weight,
                     ptrdiff_t n2, ptrdiff_t sh0, ptrdiff_t q2, int accumulate, mask_t *cache,
                     ptrdiff_t *cache_key) {
    (void)cache, (void)cache_key;
    (void)row, (void)xl, (void)k, (void)k1, (void)nt, (void)offset, (void)shift, (void)weight,
        (void)n2, (void)sh0, (void)q2, (void)accumulate;
}
#endif
/* Whether this processor runs the masked edge blocks (the C loop's copies otherwise); read once
 * at import. BRIDGE_C_MASKED=0 turns them off (the tests compare the two). */
static int masked_edges = -1; /* -1: not read yet */

static int use_masked_edges(void) {
    if (masked_edges < 0) {
        const char *env = getenv("BRIDGE_C_MASKED");
        int on = HAVE_MASKED && !(env != NULL && strcmp(env, "0") == 0);
#if HAVE_MASKED
        __builtin_cpu_init();
        on = on && __builtin_cpu_supports("avx512f");
#endif
        masked_edges = on;
    }
    return masked_edges;
}

/* The vector width of the C loop's sums, in bytes: 64 with AVX-512, 32 with AVX2, else 16 (read
 * once; BRIDGE_C_SIMD=16 or 32 narrows it, for tests and measurements). Each width is its own
 * build of the loop for its instruction set: vectors wider than the processor's are split by the
 * compiler into code many times slower (64-byte vectors on AVX2: 10-30x, BENCHMARKS.md). The
 * width changes only how many outputs a block sums at once, never a sum: the same bits. */
static int simd = 0; /* 0: not read yet */

static int simd_supported(int width) {
#if HAVE_MASKED
    __builtin_cpu_init();
    if (width == 64) return __builtin_cpu_supports("avx512f");
    if (width == 32) return __builtin_cpu_supports("avx2");
#elif defined(__AVX512F__)
    return width == 64;
#elif defined(__AVX__)
    return width == 32;
#endif
    return width == 16;
}

static int simd_width(void) {
    if (simd == 0) {
        const char *env = getenv("BRIDGE_C_SIMD");
        int cap = env != NULL ? atoi(env) : 64, width = 16;
        if (cap >= 32 && simd_supported(32)) width = 32;
        if (cap >= 64 && simd_supported(64)) width = 64;
#if !HAVE_MASKED /* the one build's */
        width = simd_supported(64) ? 64 : simd_supported(32) ? 32 : 16;
#endif
        simd = width;
    }
    return simd;
}

/* Unaligned vector loads and stores (memcpy compiles to one instruction). */
#define LOAD(V, p) __extension__({ V v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE(p, v) __extension__({ __typeof__(v) v_ = (v); memcpy((p), &v_, sizeof v_); })

typedef double vec_f64 __attribute__((vector_size(64)));
typedef float vec_f32 __attribute__((vector_size(64)));
typedef double vec32_f64 __attribute__((vector_size(32)));
typedef float vec32_f32 __attribute__((vector_size(32)));
typedef double vec16_f64 __attribute__((vector_size(16)));
typedef float vec16_f32 __attribute__((vector_size(16)));
typedef int vec_i32x16 __attribute__((vector_size(64)));
typedef int vec32_i32 __attribute__((vector_size(32)));
typedef int vec16_i32 __attribute__((vector_size(16)));

/* The taps of one output line: output k multiplies weight[t] by x[offset[t] + k], inside x
 * when 0 <= k + shift[t] < n2, and by local[at_local[t] + k - k0] in a block's copy of its rows
 * (block k0..). Tap (j0, j1, j2) of output line (o0, o1), where it lies inside x (and is not a
 * zero skipped). */
#define ADD_TAP(S, o0, o1, j0, j1, j2)                                                            \
    do {                                                                                          \
        const ptrdiff_t x0_ = (o0) - (j0), x1_ = (o1) - (j1);                                     \
        const __typeof__(*w) w_ = w[((j0) * q1 + (j1)) * q2 + (j2)];                              \
        if (x0_ < 0 || x0_ >= n0 || x1_ < 0 || x1_ >= n1 || (skip_zero && w_ == 0)) break;        \
        (S).offset[(S).nt] = (x0_ * n1 + x1_) * n2 + s2 - (j2);                                   \
        (S).shift[(S).nt] = s2 - (j2);                                                            \
        (S).at_local[(S).nt] = ((j0) * q1 + (j1)) * LW + q2 - 1 - (j2);                           \
        (S).weight[(S).nt] = w_;                                                                  \
        (S).nt++;                                                                                 \
    } while (0)

#define BUILD_TAPS(S, o0, o1)                                                                     \
    do {                                                                                          \
        (S).nt = (S).nr = 0;                                                                      \
        for (ptrdiff_t j0 = 0; j0 < q0; j0++)                                                     \
            for (ptrdiff_t j1 = 0; j1 < q1; j1++) {                                               \
                const ptrdiff_t x0 = (o0) - j0, x1 = (o1) - j1;                                   \
                if (x0 < 0 || x0 >= n0 || x1 < 0 || x1 >= n1) continue;                           \
                (S).row_base[j0 * q1 + j1] = (x0 * n1 + x1) * n2;                                 \
                (S).used[(S).nr++] = j0 * q1 + j1;                                                \
            }                                                                                     \
        if (!reverse) {                                                                           \
            for (ptrdiff_t j0 = 0; j0 < q0; j0++)                                                 \
                for (ptrdiff_t j1 = 0; j1 < q1; j1++)                                             \
                    for (ptrdiff_t j2 = 0; j2 < q2; j2++) ADD_TAP(S, o0, o1, j0, j1, j2);         \
        } else {                                                                                  \
            for (ptrdiff_t j2 = 0; j2 < q2; j2++)                                                 \
                for (ptrdiff_t j1 = 0; j1 < q1; j1++)                                             \
                    for (ptrdiff_t j0 = 0; j0 < q0; j0++) ADD_TAP(S, o0, o1, j0, j1, j2);         \
        }                                                                                         \
    } while (0)

#define DEFINE_DIRECT(NAME, T, V, EDGE, EDGE2, ATTR, MASKED)                                      \
    ATTR static int NAME(T *restrict out, const T *restrict x, const T *restrict w,               \
                           const ptrdiff_t *dims, ptrdiff_t s0, ptrdiff_t s1, ptrdiff_t s2,       \
                           ptrdiff_t l0, ptrdiff_t l1, ptrdiff_t c0, ptrdiff_t c1, int skip_zero, \
                           int reverse, int accumulate) {                                         \
        /* dims: the output's L1 and L2, x's n0 n1 n2, w's q0 q1 q2 */                            \
        const ptrdiff_t L1 = dims[0], L2 = dims[1];                                               \
        const ptrdiff_t n0 = dims[2], n1 = dims[3], n2 = dims[4];                                 \
        const ptrdiff_t q0 = dims[5], q1 = dims[6], q2 = dims[7];                                 \
        enum { W = sizeof(V) / sizeof(T), BLOCK = VECTORS * W };                                  \
        const ptrdiff_t taps = q0 * q1 * q2, rows = q0 * q1, LW = BLOCK + q2 - 1;                 \
        int finite = 1;                                                                           \
        const int masked = (MASKED) && use_masked_edges();                                        \
        mask_t mcache[2 * MASK_SLOT];                                                             \
        ptrdiff_t mkey[5] = {-1, -1, -1, -1, 0}; /* the blocks (k, k1) of its two slots, next */  \
        for (ptrdiff_t t = 0; t < taps; t++) finite &= (w[t] - w[t] == 0);                        \
        /* The taps of a line (S: its own; F: those of every line that reads all q0 * q1 rows,    \
           at offsets from the first such line, built once) */                                    \
        struct taps {                                                                             \
            ptrdiff_t *offset, *shift, *at_local, *row_base, *used;                               \
            T *weight;                                                                            \
            ptrdiff_t nt, nr;                                                                     \
        } S, F;                                                                                   \
        /* on the stack for small kernels (a tiny call costs no malloc) */                        \
        const size_t n_index = 2 * (3 * (size_t)taps + 2 * (size_t)rows);                         \
        const size_t n_values = 2 * (size_t)taps + (finite ? (size_t)(rows * LW) : 0);            \
        ptrdiff_t index_here[STACK_ITEMS];                                                        \
        T values_here[STACK_ITEMS];                                                               \
        ptrdiff_t *index =                                                                        \
            n_index <= STACK_ITEMS ? index_here : malloc(sizeof(ptrdiff_t) * n_index);            \
        T *values = n_values <= STACK_ITEMS ? values_here : malloc(sizeof(T) * n_values);         \
        if (index == NULL || values == NULL) {                                                    \
            if (index != index_here) free(index);                                                 \
            if (values != values_here) free(values);                                              \
            return -1;                                                                            \
        }                                                                                         \
        S.offset = index, S.shift = S.offset + taps, S.at_local = S.shift + taps;                 \
        S.row_base = S.at_local + taps, S.used = S.row_base + rows;                               \
        F.offset = S.used + rows, F.shift = F.offset + taps, F.at_local = F.shift + taps;         \
        F.row_base = F.at_local + taps, F.used = F.row_base + rows;                               \
        S.weight = values, F.weight = values + taps;                                              \
        T *local = values + 2 * taps;                                                             \
        const int has_full = q0 <= n0 && q1 <= n1;                                                \
        if (has_full) BUILD_TAPS(F, q0 - 1, q1 - 1);                                              \
        /* Taps in reverse order take the rows in turn, one tap each. Where more rows than the    \
           cache has ways start in the same set of a 4 KB-periodic cache (rows 4 KB apart: 512    \
           doubles, ...), every block reads a copy of its rows instead (where the kernel is       \
           finite): the copy costs less than the conflict misses it saves (images only). */       \
        int alias = 0;                                                                            \
        if (reverse && finite && q0 == 1 && rows > 12) {                                          \
            unsigned char in_set[64] = {0};                                                       \
            for (ptrdiff_t r = 0; r < rows; r++) {                                                \
                const size_t at = (size_t)r * (size_t)n2 * sizeof(T);                             \
                if (++in_set[(at >> 6) & 63] > 12) alias = 1;                                     \
            }                                                                                     \
        }                                                                                         \
        /* Two lines (o1, o1 + 1) that both read all the kernel's rows share the loads of each    \
           row: a row's taps for line o1 + 1 are line o1's next row's. Steps in each line's tap   \
           order: per kernel plane (or, reversed, per last index) the rows from o1 + 1 down,      \
           the first for line o1 + 1 only, the last for line o1 only, the others for both. */     \
        const ptrdiff_t steps = q0 * (q1 + 1) * q2, groups = reverse ? q2 : q0;                   \
        ptrdiff_t *pair_at = NULL, *seg = NULL, *pair_sh = NULL; /* pair_sh: each step's shift */ \
        T *pair_w = NULL;                                                                         \
        if (has_full && q1 >= 2 && L1 >= 2) {                                                     \
            pair_at = malloc(sizeof(ptrdiff_t) * 2 * (size_t)steps);                              \
            seg = malloc(sizeof(ptrdiff_t) * 3 * (size_t)(groups * 3));                           \
            pair_w = malloc(sizeof(T) * 2 * (size_t)steps);                                       \
            if (pair_at == NULL || seg == NULL || pair_w == NULL) {                               \
                free(pair_at);                                                                    \
                free(seg);                                                                        \
                free(pair_w);                                                                     \
                pair_at = seg = NULL;                                                             \
                pair_w = NULL;                                                                    \
            }                                                                                     \
        }                                                                                         \
        ptrdiff_t nseg = 0;                                                                       \
        if (pair_at != NULL) {                                                                    \
            pair_sh = pair_at + steps;                                                            \
            ptrdiff_t ns = 0;                                                                     \
            for (ptrdiff_t g = 0; g < groups; g++)                                                \
                for (ptrdiff_t rho = 0; rho <= q1; rho++) {                                       \
                    const ptrdiff_t kind = rho == 0 ? 2 : rho == q1 ? 1 : 0; /* B, A, both */     \
                    if (nseg > 0 && seg[3 * (nseg - 1)] == kind && kind == 0) {                   \
                        seg[3 * (nseg - 1) + 2] += reverse ? q0 : q2;                             \
                    } else {                                                                      \
                        seg[3 * nseg] = kind, seg[3 * nseg + 1] = ns;                             \
                        seg[3 * nseg + 2] = ns + (reverse ? q0 : q2);                             \
                        nseg++;                                                                   \
                    }                                                                             \
                    for (ptrdiff_t h = 0; h < (reverse ? q0 : q2); h++, ns++) {                   \
                        const ptrdiff_t j0 = reverse ? h : g, j2 = reverse ? g : h;               \
                        pair_at[ns] = ((q0 - 1 - j0) * n1 + q1 - rho) * n2 + s2 - j2;             \
                        pair_sh[ns] = s2 - j2;                                                    \
                        pair_w[2 * ns] = rho >= 1 ? w[(j0 * q1 + rho - 1) * q2 + j2] : 0;         \
                        pair_w[2 * ns + 1] = rho < q1 ? w[(j0 * q1 + rho) * q2 + j2] : 0;         \
                    }                                                                             \
                }                                                                                 \
        }                                                                                         \
        /* outputs whose every tap lies inside x */                                               \
        const ptrdiff_t in0 = min_p(max_p(c0, q2 - 1 - s2), c1);                                  \
        const ptrdiff_t in1 = max_p(in0, min_p(c1, n2 - s2));                                     \
        for (ptrdiff_t line = l0; line < l1; line++) {                                            \
            const ptrdiff_t i0 = line / L1, i1 = line - i0 * L1;                                  \
            const ptrdiff_t o0 = i0 + s0, o1 = i1 + s1;                                           \
            T *row = out + (i0 * L1 + i1) * L2;                                                   \
            /* this line's taps: x[base + offset[t] + k] for output k */                          \
            const struct taps *P;                                                                 \
            ptrdiff_t base = 0;                                                                   \
            if (has_full && o0 >= q0 - 1 && o0 < n0 && o1 >= q1 - 1 && o1 < n1) {                 \
                P = &F;                                                                           \
                base = ((o0 - (q0 - 1)) * n1 + o1 - (q1 - 1)) * n2;                               \
            } else {                                                                              \
                BUILD_TAPS(S, o0, o1);                                                            \
                P = &S;                                                                           \
            }                                                                                     \
            const ptrdiff_t nt = P->nt, nr = P->nr;                                               \
            const ptrdiff_t *offset = P->offset, *shift = P->shift, *at_local = P->at_local;      \
            const T *weight = P->weight;                                                          \
            if (nt == 0) {                                                                        \
                if (!accumulate)                                                                  \
                    for (ptrdiff_t k = c0; k < c1; k++) row[k] = 0;                               \
                continue;                                                                         \
            }                                                                                     \
            const int from_x = !alias;                                                            \
            /* with the next line: both read every row, in one plane, in this share */            \
            const int pair = pair_at != NULL && P == &F && i1 + 1 < L1 && line + 1 < l1 &&        \
                             o1 + 1 < n1 && from_x;                                               \
            /* masked edge blocks: both lines' at once in the first pass */                       \
            const int pair_all = pair && masked && finite && q2 <= EDGE_Q2;                       \
            for (int pass = 0; pass < 1 + (pair && !pair_all); pass++) {                          \
            if (pass == 1) {                                                                      \
                line++;  /* the second line of the pair: its blocks near the edges */             \
                row += L2;                                                                        \
                base += n2;                                                                       \
            }                                                                                     \
            const T *xl = x + base;                                                               \
            /* Blocks of BLOCK outputs, each summed in registers over every tap. */               \
            ptrdiff_t k = c0;                                                                     \
            while (k < c1) {                                                                      \
                /* inside: from x itself (where the inside ends the line, its last block ends     \
                   there too, overlapping the one before: outputs summed twice, alike) */         \
                ptrdiff_t kd = -1;                                                                \
                if (from_x && k >= in0 && k + BLOCK <= in1)                                       \
                    kd = k;                                                                       \
                else if (from_x && k >= in0 && k < in1 && in1 - in0 >= BLOCK &&                   \
                         (in1 == c1 || !finite) && !accumulate)                                   \
                    kd = in1 - BLOCK;                                                             \
                if (kd >= 0 && pair) {                                                            \
                    /* both lines' block, half a block at a time (few registers) */               \
                    if (pass == 0)                                                                \
                        for (ptrdiff_t half = kd; half < kd + BLOCK; half += BLOCK / 2) {         \
                            V a[VECTORS / 2], b[VECTORS / 2];                                     \
                            for (int v = 0; v < VECTORS / 2; v++) {                                \
                                a[v] = accumulate ? LOAD(V, row + half + v * W) : (V){0};          \
                                b[v] = accumulate ? LOAD(V, row + L2 + half + v * W) : (V){0};     \
                            }                                                                      \
                            for (ptrdiff_t g = 0; g < nseg; g++) {                                \
                                const ptrdiff_t kind = seg[3 * g], t1 = seg[3 * g + 2];           \
                                for (ptrdiff_t t = seg[3 * g + 1]; t < t1; t++) {                 \
                                    const T *xt = xl + pair_at[t] + half;                         \
                                    const T wa = pair_w[2 * t], wb = pair_w[2 * t + 1];           \
                                    for (int v = 0; v < VECTORS / 2; v++) {                       \
                                        const V xv = LOAD(V, xt + v * W);                         \
                                        if (kind != 2) a[v] = a[v] + xv * wa;                     \
                                        if (kind != 1) b[v] = b[v] + xv * wb;                     \
                                    }                                                             \
                                }                                                                 \
                            }                                                                     \
                            for (int v = 0; v < VECTORS / 2; v++) {                               \
                                STORE(row + half + v * W, a[v]);                                  \
                                STORE(row + L2 + half + v * W, b[v]);                             \
                            }                                                                     \
                        }                                                                         \
                    k = kd + BLOCK;                                                               \
                    continue;                                                                     \
                }                                                                                 \
                if (kd >= 0) {                                                                    \
                    V acc[VECTORS];                                                                \
                    for (int v = 0; v < VECTORS; v++)                                              \
                        acc[v] = accumulate ? LOAD(V, row + kd + v * W) : (V){0};                  \
                    for (ptrdiff_t t = 0; t < nt; t++) {                                           \
                        const T *xt = xl + offset[t] + kd;                                         \
                        const T wt = weight[t];                                                   \
                        for (int v = 0; v < VECTORS; v++)                                         \
                            acc[v] = acc[v] + LOAD(V, xt + v * W) * wt;                           \
                    }                                                                             \
                    for (int v = 0; v < VECTORS; v++) STORE(row + kd + v * W, acc[v]);            \
                    k = kd + BLOCK;                                                               \
                    continue;                                                                     \
                }                                                                                 \
                if (pair_all) {                                                                   \
                    const ptrdiff_t k1 = min_p(c1, k + BLOCK);                                    \
                    EDGE2(row, L2, xl, k, k1, nseg, seg, pair_at, pair_sh, pair_w, n2,            \
                          s2 - (q2 - 1), q2, accumulate, mcache, mkey);                           \
                    k = k1;                                                                       \
                    continue;                                                                     \
                }                                                                                 \
                if (finite && masked && from_x && q2 <= EDGE_Q2) {                                \
                    const ptrdiff_t k1 = min_p(c1, k + BLOCK);                                    \
                    EDGE(row, xl, k, k1, nt, offset, shift, weight, n2, s2 - (q2 - 1), q2,        \
                         accumulate, mcache, mkey);                                               \
                    k = k1;                                                                       \
                    continue;                                                                     \
                }                                                                                 \
                if (finite) {                                                                     \
                    /* near an edge: a block from a copy of the rows it reads, zero outside x,    \
                       as many vectors as its outputs need (a line's last few outputs: one).      \
                       With finite weights a product with such a zero is +0 or -0, which leaves   \
                       the sum unchanged (a sum that starts from +0 is never -0): the exact sums. \
                       Only the vectors the block needs are summed (short lines' last blocks). */ \
                    const ptrdiff_t kb = k, k1 = min_p(c1, kb + BLOCK);                           \
                    const int nv = (int)((k1 - kb + W - 1) / W);                                  \
                    const ptrdiff_t first = kb + s2 - (q2 - 1);                                   \
                    const ptrdiff_t lo = min_p(LW, max_p(0, -first));                             \
                    const ptrdiff_t hi = max_p(lo, min_p(LW, n2 - first));                        \
                    for (ptrdiff_t u = 0; u < nr; u++) {                                          \
                        T *dst = local + P->used[u] * LW;                                         \
                        const T *src = xl + P->row_base[P->used[u]] + first;                      \
                        for (ptrdiff_t p = 0; p < lo; p++) dst[p] = 0;                            \
                        for (ptrdiff_t p = lo; p < hi; p++) dst[p] = src[p];                      \
                        for (ptrdiff_t p = hi; p < LW; p++) dst[p] = 0;                           \
                    }                                                                             \
                    T sums[BLOCK];                                                                 \
                    for (ptrdiff_t i = 0; i < BLOCK; i++)                                          \
                        sums[i] = accumulate && i < k1 - kb ? row[kb + i] : 0;                     \
                    V acc[VECTORS];                                                                \
                    for (int v = 0; v < VECTORS; v++) acc[v] = LOAD(V, sums + v * W);              \
                    for (ptrdiff_t t = 0; t < nt; t++) {                                           \
                        const T *xt = local + at_local[t];                                         \
                        const T wt = weight[t];                                                   \
                        for (int v = 0; v < VECTORS; v++)                                         \
                            if (v < nv) acc[v] = acc[v] + LOAD(V, xt + v * W) * wt;               \
                    }                                                                             \
                    for (int v = 0; v < VECTORS; v++) STORE(sums + v * W, acc[v]);                \
                    memcpy(row + k, sums, sizeof(T) * (size_t)(k1 - k));                          \
                    k = k1;                                                                       \
                } else {                                                                          \
                    /* a weight is NaN or Inf: each tap over the outputs it reaches */            \
                    ptrdiff_t k1 = min_p(c1, k + BLOCK);                                          \
                    if (k < in0)                                                                  \
                        k1 = min_p(k1, in0);                                                      \
                    else if (k < in1)                                                             \
                        k1 = min_p(k1, in1);                                                      \
                    T acc[BLOCK];                                                                 \
                    for (ptrdiff_t i = 0; i < k1 - k; i++) acc[i] = accumulate ? row[k + i] : 0;  \
                    for (ptrdiff_t t = 0; t < nt; t++) {                                          \
                        const ptrdiff_t lo = max_p(k, -shift[t]), hi = min_p(k1, n2 - shift[t]);  \
                        const T *xt = xl + offset[t];                                             \
                        const T wt = weight[t];                                                   \
                        for (ptrdiff_t i = lo; i < hi; i++) acc[i - k] += xt[i] * wt;             \
                    }                                                                             \
                    for (ptrdiff_t i = k; i < k1; i++) row[i] = acc[i - k];                       \
                    k = k1;                                                                       \
                }                                                                                 \
            }                                                                                     \
            }                                                                                     \
            if (pair_all) line++; /* the second line of the pair: done with the first */      \
        }                                                                                         \
        if (index != index_here) free(index);                                                     \
        if (values != values_here) free(values);                                                  \
        free(pair_at);                                                                            \
        free(seg);                                                                                \
        free(pair_w);                                                                             \
        return 0;                                                                                 \
    }

#if HAVE_MASKED
#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2")))
DEFINE_DIRECT(direct3_f64_64, double, vec_f64, edge_f64, edge2_f64, AVX512, 1)
DEFINE_DIRECT(direct3_f32_64, float, vec_f32, edge_f32, edge2_f32, AVX512, 1)
DEFINE_DIRECT(direct3_f64_32, double, vec32_f64, edge_f64, edge2_f64, AVX2, 0)
DEFINE_DIRECT(direct3_f32_32, float, vec32_f32, edge_f32, edge2_f32, AVX2, 0)
DEFINE_DIRECT(direct3_f64_16, double, vec16_f64, edge_f64, edge2_f64, , 0)
DEFINE_DIRECT(direct3_f32_16, float, vec16_f32, edge_f32, edge2_f32, , 0)
#define DIRECT3(T, ...)                                                                           \
    (simd_width() == 64   ? direct3_##T##_64(__VA_ARGS__)                                        \
     : simd_width() == 32 ? direct3_##T##_32(__VA_ARGS__)                                        \
                          : direct3_##T##_16(__VA_ARGS__))
#else /* one build, of the compiler's target's width (NEON, SSE2: 16 bytes) */
#if defined(__AVX512F__)
DEFINE_DIRECT(direct3_f64, double, vec_f64, edge_f64, edge2_f64, CLONES, 0)
DEFINE_DIRECT(direct3_f32, float, vec_f32, edge_f32, edge2_f32, CLONES, 0)
#elif defined(__AVX__)
DEFINE_DIRECT(direct3_f64, double, vec32_f64, edge_f64, edge2_f64, CLONES, 0)
DEFINE_DIRECT(direct3_f32, float, vec32_f32, edge_f32, edge2_f32, CLONES, 0)
#else
DEFINE_DIRECT(direct3_f64, double, vec16_f64, edge_f64, edge2_f64, CLONES, 0)
DEFINE_DIRECT(direct3_f32, float, vec16_f32, edge_f32, edge2_f32, CLONES, 0)
#endif
#define DIRECT3(T, ...) direct3_##T(__VA_ARGS__)
#endif

/* The buffer of a C-contiguous array, or of a column-major one (``fortran``: read as its
 * transpose, which is C-contiguous). */
static int get_array(PyObject *obj, Py_buffer *view, int writable, int fortran,
                     const char *what) {
    int flags = (fortran ? PyBUF_F_CONTIGUOUS : PyBUF_C_CONTIGUOUS) | PyBUF_FORMAT |
                (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->ndim < 1 || view->ndim > 3) {
        PyErr_Format(PyExc_ValueError, "direct3: %s must have 1 to 3 dimensions", what);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Dimension k of the array (of its transpose: ``fortran``) as 3-D, leading 1s added. */
static ptrdiff_t dim3(const Py_buffer *view, int k, int fortran) {
    int d = k - (3 - view->ndim);
    return d < 0 ? 1 : view->shape[fortran ? view->ndim - 1 - d : d];
}

static char kind_of(const Py_buffer *view) {
    const char *f = view->format ? view->format : "B";
    char c = f[strlen(f) - 1];
    if (c == 'd' && view->itemsize == 8) return 'd';
    if (c == 'f' && view->itemsize == 4) return 'f';
    return 0;
}

/* Release the three buffers of a call; its result (a new reference; NULL: the error set). */
static PyObject *release3(Py_buffer *a, Py_buffer *b, Py_buffer *c, PyObject *result) {
    PyBuffer_Release(a);
    PyBuffer_Release(b);
    PyBuffer_Release(c);
    Py_XINCREF(result);
    return result;
}

/* masked_edges(on=None): whether the C loop's edge blocks use masked loads (see edge_f64; the
 * 64-byte build only); with a bool, set it (where the processor has them) and return the old
 * value. For tests. */
static PyObject *py_masked_edges(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    int old = use_masked_edges() && simd_width() == 64; /* the other widths have none */
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "masked_edges takes at most 1 argument");
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None) {
        int on = PyObject_IsTrue(args[0]);
        if (on < 0) return NULL;
        masked_edges = 0;
#if HAVE_MASKED
        masked_edges = on && __builtin_cpu_supports("avx512f");
#endif
    }
    return PyBool_FromLong(old);
}

/* simd_width(width=None): the vector width (bytes) of direct3's sums; with a width this
 * processor runs (16, 32 or 64), set it and return the old one. For tests. */
static PyObject *py_simd_width(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    int old = simd_width();
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "simd_width takes at most 1 argument");
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None) {
        long width = PyLong_AsLong(args[0]);
        if (width == -1 && PyErr_Occurred()) return NULL;
        if ((width != 16 && width != 32 && width != 64) || !simd_supported((int)width)) {
            PyErr_Format(PyExc_ValueError, "simd_width: %ld bytes not available here", width);
            return NULL;
        }
        simd = (int)width;
    }
    return PyLong_FromLong(old);
}

static PyObject *py_direct3(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs < 11 || nargs > 13) {
        PyErr_SetString(PyExc_TypeError, "direct3 takes 11 to 13 arguments");
        return NULL;
    }
    ptrdiff_t v[7];
    for (int k = 0; k < 7; k++) {
        v[k] = PyNumber_AsSsize_t(args[3 + k], PyExc_OverflowError);
        if (v[k] == -1 && PyErr_Occurred()) return NULL;
    }
    int skip_zero = PyObject_IsTrue(args[10]);
    if (skip_zero < 0) return NULL;
    /* reverse: 0 none; 1 the arrays are the transposes of the operands and result; 2 they are
       the column-major operands and result themselves (read as their transposes) */
    long reverse = nargs >= 12 ? PyLong_AsLong(args[11]) : 0;
    if (reverse == -1 && PyErr_Occurred()) return NULL;
    /* accumulate: each sum starts from the output's value instead of 0 (the taps of a leading
       kernel index after those of the ones before it: bridge's sums of 4 or more dimensions) */
    int accumulate = nargs == 13 ? PyObject_IsTrue(args[12]) : 0;
    if (accumulate < 0) return NULL;
    if (reverse < 0 || reverse > 2) {
        PyErr_SetString(PyExc_ValueError, "direct3: reverse must be 0, 1 or 2");
        return NULL;
    }
    const int fortran = reverse == 2;
    Py_buffer bo, bx, bw;
    if (get_array(args[0], &bo, 1, fortran, "out") < 0) return NULL;
    if (get_array(args[1], &bx, 0, fortran, "x") < 0) {
        PyBuffer_Release(&bo);
        return NULL;
    }
    if (get_array(args[2], &bw, 0, fortran, "w") < 0) {
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
        const int f = fortran;
        ptrdiff_t dims[8] = {dim3(&bo, 1, f), dim3(&bo, 2, f), dim3(&bx, 0, f), dim3(&bx, 1, f),
                             dim3(&bx, 2, f), dim3(&bw, 0, f), dim3(&bw, 1, f), dim3(&bw, 2, f)};
        int status;
        Py_BEGIN_ALLOW_THREADS
        if (kind == 'd')
            status = DIRECT3(f64, bo.buf, bx.buf, bw.buf, dims, v[0], v[1], v[2], v[3], v[4],
                             v[5], v[6], skip_zero, reverse != 0, accumulate);
        else
            status = DIRECT3(f32, bo.buf, bx.buf, bw.buf, dims, v[0], v[1], v[2], v[3], v[4],
                             v[5], v[6], skip_zero, reverse != 0, accumulate);
        Py_END_ALLOW_THREADS
        if (status < 0) result = PyErr_NoMemory();
    }
    return release3(&bo, &bx, &bw, result);
}

/* The direct sum along the last axis of the FFT path's spectra (method_fft's "one axis
 * direct"), the arrays as planes (the last axis slowest: column-major spectra): columns p0..p1
 * of out (n planes of np complex numbers) set to
 *     out[j, p] = 0 + x[s + j, p] * w[0, p] + x[s + j - 1, p] * w[1, p] + ...
 * over the taps k of w (nw planes) for which s + j - k is a plane of x (nx planes). Complex
 * numbers are pairs of doubles; each product is re = xr*wr - xi*wi, im = xi*wr + xr*wi, each
 * product rounded (built without fused multiply-add), so numpy with the same products in the
 * same order gives the same bits. */
#define ZBLOCK 4   /* vectors of 4 complex numbers summed in registers at a time */
#define ZCOLUMN 64 /* complex numbers per column block: its planes' rows stay in cache */

CLONES static int bridge_zdirect(double *out, const double *x, const double *w, ptrdiff_t n,
                                 ptrdiff_t nx, ptrdiff_t nw, ptrdiff_t np_, ptrdiff_t s,
                                 ptrdiff_t p0, ptrdiff_t p1) {
    const vec_f64 sign = {-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0};
    typedef long long vec_i64 __attribute__((vector_size(64)));
    const vec_i64 swap = {1, 0, 3, 2, 5, 4, 7, 6};
    const vec_i64 real = {0, 0, 2, 2, 4, 4, 6, 6};
    const vec_i64 imag = {1, 1, 3, 3, 5, 5, 7, 7};
    const ptrdiff_t row = 2 * np_; /* doubles per plane */
    enum { VPC = ZCOLUMN / 4 };    /* vectors per column block */
    /* Each tap's real parts and signed imaginary parts, spread for the products, per block. */
    vec_f64 *ws = aligned_alloc(sizeof(vec_f64), (size_t)(2 * nw * VPC) * sizeof(vec_f64));
    if (!ws) return -1;
    for (ptrdiff_t pc = p0; pc < p1; pc += ZCOLUMN) {
        const ptrdiff_t pe = min_p(pc + ZCOLUMN, p1);
        const int whole = pe - pc == ZCOLUMN;
        if (whole)
            for (ptrdiff_t k = 0; k < nw; k++)
                for (int v = 0; v < VPC; v++) {
                    vec_f64 wv = LOAD(vec_f64, w + k * row + 2 * pc + 8 * v);
                    ws[(2 * k) * VPC + v] = __builtin_shuffle(wv, real);
                    ws[(2 * k + 1) * VPC + v] = __builtin_shuffle(wv, imag) * sign;
                }
        for (ptrdiff_t j = 0; j < n; j++) {
            const ptrdiff_t k0 = max_p(0, s + j - (nx - 1)), k1 = min_p(nw - 1, s + j);
            double *o = out + j * row;
            ptrdiff_t p = pc;
            if (whole) {
                for (int v0 = 0; v0 < VPC; v0 += ZBLOCK, p += 4 * ZBLOCK) {
                    vec_f64 acc[ZBLOCK];
                    for (int b = 0; b < ZBLOCK; b++) acc[b] = (vec_f64){0};
                    for (ptrdiff_t k = k0; k <= k1; k++) {
                        const double *xp = x + (s + j - k) * row + 2 * p;
                        const vec_f64 *wr = ws + (2 * k) * VPC + v0, *wi = wr + VPC;
                        for (int b = 0; b < ZBLOCK; b++) {
                            vec_f64 xv = LOAD(vec_f64, xp + 8 * b);
                            acc[b] += xv * wr[b] + __builtin_shuffle(xv, swap) * wi[b];
                        }
                    }
                    for (int b = 0; b < ZBLOCK; b++) STORE(o + 2 * p + 8 * b, acc[b]);
                }
            }
            for (; p < pe; p++) {
                double re = 0.0, im = 0.0;
                for (ptrdiff_t k = k0; k <= k1; k++) {
                    const double *xp = x + (s + j - k) * row + 2 * p, *wp = w + k * row + 2 * p;
                    re += xp[0] * wp[0] + xp[1] * -wp[1];
                    im += xp[1] * wp[0] + xp[0] * wp[1];
                }
                o[2 * p] = re;
                o[2 * p + 1] = im;
            }
        }
    }
    free(ws);
    return 0;
}

static int get_lines(PyObject *obj, Py_buffer *view, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->ndim != 2 || kind_of(view) != 'd' || view->shape[1] % 2) {
        PyErr_Format(PyExc_ValueError, "zdirect: %s must be 2-D float64, an even row length",
                     what);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *py_zdirect(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "zdirect takes 6 arguments");
        return NULL;
    }
    ptrdiff_t v[3];
    for (int k = 0; k < 3; k++) {
        v[k] = PyNumber_AsSsize_t(args[3 + k], PyExc_OverflowError);
        if (v[k] == -1 && PyErr_Occurred()) return NULL;
    }
    Py_buffer bo, bx, bw;
    if (get_lines(args[0], &bo, 1, "out") < 0) return NULL;
    if (get_lines(args[1], &bx, 0, "x") < 0) {
        PyBuffer_Release(&bo);
        return NULL;
    }
    if (get_lines(args[2], &bw, 0, "w") < 0) {
        PyBuffer_Release(&bo);
        PyBuffer_Release(&bx);
        return NULL;
    }
    PyObject *result = Py_None;
    ptrdiff_t points = bo.shape[1] / 2;
    if (bx.shape[1] != bo.shape[1] || bw.shape[1] != bo.shape[1] || v[1] < 0 || v[1] > v[2] ||
        v[2] > points || bw.shape[0] < 1 || bx.shape[0] < 1) {
        PyErr_SetString(PyExc_ValueError, "zdirect: planes or shapes do not match");
        result = NULL;
    } else {
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = bridge_zdirect(bo.buf, bx.buf, bw.buf, bo.shape[0], bx.shape[0], bw.shape[0],
                                points, v[0], v[1], v[2]);
        Py_END_ALLOW_THREADS
        if (status < 0) result = PyErr_NoMemory();
    }
    return release3(&bo, &bx, &bw, result);
}


/* ---- sep2: imfilter's separable path, fused -------------------------------------------------
 * The two 1-D passes of bridge.filtering's separable path (the direct sum along the rows, then
 * along the columns of that result), for output rows r0..r1 of a 2-D image (or of each plane
 * of a 3-D one whose planes are interleaved), without the padded copy, the double copy of the
 * image, the intermediate array or the separate rounding pass:
 *
 *     t[p, c] = 0 + P[p, c + q1 - 1] * f1[0] + P[p, c + q1 - 2] * f1[1] + ...   (q1 taps)
 *     y[r, c] = 0 + t[r + q0 - 1, c] * f0[0] + t[r + q0 - 2, c] * f0[1] + ...   (q0 taps)
 *
 * P the padded image in double: padded row p is image row rowidx[p] (-1: every element is
 * ``fill``), padded column c image column colidx[c] (-1: fill), columns mid..mid + n1 being the
 * image's own. These are the products and the order of the direct loop above on the padded
 * array (each output 0 plus its taps in index order, each product rounded, then added; no
 * fused multiply-add), so the bits are those of the two passes. The direct loop skips zero taps
 * and taps outside an unpadded operand; here they are products with exact zeros, which leave
 * a sum that starts from +0 unchanged (it is never -0) where the data are finite. Where a
 * value of the image is NaN or Inf the call returns 1 and the caller computes the old way
 * (those values are scattered separately there).
 *
 * y goes to out (the image's class) as MATLAB converts: doubles as they are, singles rounded
 * to single, integers rounded half away from zero and saturated (NaN to 0), logical y >= 0.5.
 * The rows of t live in a ring of q0 + 3 rows per call and strip of columns (a band of outputs
 * recomputes the q0 - 1 rows it shares with the band before, a strip the q1 - 1 columns), in
 * cache while they are read; output rows are summed four at a time (column_quad), each ring
 * row loaded once for the four. */
enum { K_F64, K_F32, K_U8, K_I8, K_U16, K_I16, K_U32, K_I32, K_BOOL };

static const size_t KIND_SIZE[] = {8, 4, 1, 1, 2, 2, 4, 4, 1};

/* The fused loops' sums (row_pass, column_pass, column_quad, their float32 forms, tap_sum,
 * pair_sum) and
 * vector loops (all_finite, store_guarded), like
 * direct3, built once per vector width and called at simd_width()'s: 64-byte vectors split by
 * the compiler for AVX2 go through the stack, 5-12x slower (BENCHMARKS.md). The width changes
 * only how many outputs a block sums at once, never a sum: the same bits. */
#if HAVE_MASKED
#define SIMD_WIDTHS(DEFINE)                                                                       \
    DEFINE(_64, vec_f64, vec_f32, vec_i32x16, AVX512)                                             \
    DEFINE(_32, vec32_f64, vec32_f32, vec32_i32, AVX2)                                            \
    DEFINE(_16, vec16_f64, vec16_f32, vec16_i32, )
#define SIMD_CALL(NAME, ...)                                                                      \
    (simd_width() == 64   ? NAME##_64(__VA_ARGS__)                                               \
     : simd_width() == 32 ? NAME##_32(__VA_ARGS__)                                               \
                          : NAME##_16(__VA_ARGS__))
#else /* one build, of the compiler's target's width */
#if defined(__AVX512F__)
#define SIMD_WIDTHS(DEFINE) DEFINE(_1, vec_f64, vec_f32, vec_i32x16, CLONES)
#elif defined(__AVX__)
#define SIMD_WIDTHS(DEFINE) DEFINE(_1, vec32_f64, vec32_f32, vec32_i32, CLONES)
#else
#define SIMD_WIDTHS(DEFINE) DEFINE(_1, vec16_f64, vec16_f32, vec16_i32, CLONES)
#endif
#define SIMD_CALL(NAME, ...) NAME##_1(__VA_ARGS__)
#endif

/* Whether the n doubles at x are all finite: x * 0 is NaN exactly where x is NaN or Inf, and a
 * NaN stays in its lane's sum. */
#define DEFINE_ALL_FINITE(SUF, VD, VFL, VI, ATTR)                                                 \
    ATTR static int all_finite##SUF(const double *x, ptrdiff_t n) {                               \
        enum { W = sizeof(VD) / sizeof(double) };                                                 \
        VD chk = {0};                                                                             \
        ptrdiff_t i = 0;                                                                          \
        for (; i + W <= n; i += W) chk = chk + LOAD(VD, x + i) * 0.0;                             \
        double rest = 0;                                                                          \
        for (; i < n; i++) rest = rest + x[i] * 0.0;                                              \
        for (int v = 0; v < W; v++) rest = rest + chk[v];                                         \
        return rest == 0;                                                                         \
    }
SIMD_WIDTHS(DEFINE_ALL_FINITE)
#define all_finite(...) SIMD_CALL(all_finite, __VA_ARGS__)

/* n elements of an image row (kind) as doubles; returns 0 if one is NaN or Inf. */
CLONES static int load_row(double *restrict dst, const void *restrict src, int kind, ptrdiff_t n) {
    switch (kind) {
    case K_F64:
    case K_F32: {
        if (kind == K_F64) {
            memcpy(dst, src, sizeof(double) * (size_t)n);
        } else {
            const float *s = src;
            for (ptrdiff_t k = 0; k < n; k++) dst[k] = (double)s[k];
        }
        return all_finite(dst, n);
    }
#define LOAD_INT(K, T)                                                                            \
    case K: {                                                                                     \
        const T *s = src;                                                                         \
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = (double)s[i];                                  \
        return 1;                                                                                 \
    }
        LOAD_INT(K_U8, unsigned char)
        LOAD_INT(K_I8, signed char)
        LOAD_INT(K_U16, unsigned short)
        LOAD_INT(K_I16, short)
        LOAD_INT(K_U32, unsigned int)
        LOAD_INT(K_I32, int)
        LOAD_INT(K_BOOL, unsigned char)
#undef LOAD_INT
    }
    return 1;
}

/* One element of the image (kind) as a double. */
static double load_one(const void *src, int kind, ptrdiff_t i) {
    switch (kind) {
    case K_F64: return ((const double *)src)[i];
    case K_F32: return (double)((const float *)src)[i];
    case K_U8: case K_BOOL: return (double)((const unsigned char *)src)[i];
    case K_I8: return (double)((const signed char *)src)[i];
    case K_U16: return (double)((const unsigned short *)src)[i];
    case K_I16: return (double)((const short *)src)[i];
    case K_U32: return (double)((const unsigned int *)src)[i];
    default: return (double)((const int *)src)[i];
    }
}

/* n elements of an image row of interleaved planes (every stride-th element) as doubles;
 * returns 0 if one is NaN or Inf. */
static int load_strided(double *restrict dst, const void *restrict src, int kind, ptrdiff_t n,
                        ptrdiff_t stride) {
    double chk = 0;
    switch (kind) {
    case K_F64:
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = ((const double *)src)[i * stride];
        break;
    case K_F32:
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = (double)((const float *)src)[i * stride];
        break;
#define LOAD_INT(K, T)                                                                            \
    case K:                                                                                       \
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = (double)((const T *)src)[i * stride];         \
        return 1;
        LOAD_INT(K_U8, unsigned char)
        LOAD_INT(K_I8, signed char)
        LOAD_INT(K_U16, unsigned short)
        LOAD_INT(K_I16, short)
        LOAD_INT(K_U32, unsigned int)
        LOAD_INT(K_I32, int)
        LOAD_INT(K_BOOL, unsigned char)
#undef LOAD_INT
    }
    for (ptrdiff_t i = 0; i < n; i++) chk = chk + dst[i] * 0.0; /* NaN where one is NaN/Inf */
    return chk == 0;
}

/* The fused loops' strips: padded row src's columns c0 .. c0 + pw of plane k (np_ interleaved
 * planes of n1 columns, isz bytes an item), the image's own columns being prow's lo .. hi.
 * prefetch_strip asks for the part of such a row a few rows down: rows of an image are often a
 * page or more apart, where the hardware's prefetch does not follow. */
static inline void prefetch_strip(const void *image, long long src, ptrdiff_t n1, ptrdiff_t np_,
                                  size_t isz, ptrdiff_t c0, ptrdiff_t lo, ptrdiff_t hi,
                                  ptrdiff_t mid) {
    const char *ahead = (const char *)image +
                        ((size_t)src * (size_t)n1 + (size_t)(c0 + lo - mid)) * (size_t)np_ * isz;
    for (size_t b = 0; b < (size_t)((hi - lo) * np_) * isz; b += 64) __builtin_prefetch(ahead + b);
}

/* The fused loops' strip of output columns: elems (the ring's room per row and plane, less any
 * overlap) in whole blocks, at least two blocks, at most the L1 outputs of a row. */
static inline ptrdiff_t strip_width(ptrdiff_t elems, ptrdiff_t block, ptrdiff_t L1) {
    ptrdiff_t sw = elems / block * block;
    sw = sw < 2 * block ? 2 * block : sw;
    return sw > L1 ? L1 : sw;
}

/* Of the pw padded columns from c0 (the image's n1 columns start at padded column mid), those of
 * the image itself: *lo .. *hi, indices within the strip. */
static inline void strip_span(ptrdiff_t mid, ptrdiff_t n1, ptrdiff_t c0, ptrdiff_t pw,
                              ptrdiff_t *lo, ptrdiff_t *hi) {
    *lo = mid - c0 < 0 ? 0 : mid - c0 > pw ? pw : mid - c0;
    *hi = mid + n1 - c0 < *lo ? *lo : mid + n1 - c0 > pw ? pw : mid + n1 - c0;
}

/* load_strip: that row's strip in double into prow: fill where src < 0 (a row of the
 * constant), else the image's run by load_row (load_strided for planes) and the padding's
 * columns by colidx (-1: fill). 1 where the run holds NaN or Inf (load_row's answer), else 0. */
static inline int load_strip(double *restrict prow, const void *image, int kind, long long src,
                             ptrdiff_t k, ptrdiff_t n1, ptrdiff_t np_, size_t isz, ptrdiff_t c0,
                             ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t mid, ptrdiff_t pw,
                             const long long *colidx, double fill) {
    if (src < 0) {
        for (ptrdiff_t c = 0; c < pw; c++) prow[c] = fill;
        return 0;
    }
    const char *a = (const char *)image + ((size_t)src * (size_t)n1 * (size_t)np_ + (size_t)k) * isz;
    const char *at = a + (size_t)(c0 + lo - mid) * (size_t)np_ * isz;
    int bad = hi > lo && !(np_ == 1 ? load_row(prow + lo, at, kind, hi - lo)
                                    : load_strided(prow + lo, at, kind, hi - lo, np_));
    for (ptrdiff_t c = 0; c < lo; c++)
        prow[c] = colidx[c0 + c] < 0 ? fill : load_one(a, kind, (ptrdiff_t)colidx[c0 + c] * np_);
    for (ptrdiff_t c = hi; c < pw; c++)
        prow[c] = colidx[c0 + c] < 0 ? fill : load_one(a, kind, (ptrdiff_t)colidx[c0 + c] * np_);
    return bad;
}


/* x in an integer class whose range lies within int's: NaN to 0, clamped to [lo, hi], then
 * rounded half away from zero. Clamping first gives the same as rounding first (the bounds are
 * integers); within the range the truncation to an integer is exact, and so is the fraction
 * x - trunc(x). */
static inline int round_clamp(double x, double lo, double hi) {
    x = x == x ? x : 0.0;
    x = x < lo ? lo : x > hi ? hi : x;
    const long long t = (long long)x;
    const double f = x - (double)t;
    return (int)(t + (f >= 0.5) - (f <= -0.5));
}

/* The largest double below 0.5: for every double x, trunc(x + copysign(HALF_DOWN, x)) is x
 * rounded half away from zero. (Where frac|x| >= 0.5 the sum reaches the next integer, 1 - 2^-54
 * rounding to 1 by ties-to-even and higher integers being more than half an ulp away; where
 * frac|x| < 0.5, |x| <= floor|x| + 0.5 - ulp(x), and the sum stays at or below the double
 * floor|x| + 1 - ulp(x); beyond 2^52 the sum rounds back to x.) With the image's class bounds
 * (integers) applied first, the truncation is a plain conversion that the compiler vectorizes
 * for the clone's vectors. */
#define HALF_DOWN 0.49999999999999994
/* Compares that may meet NaN count as possible traps, which keeps GCC from turning the
   selects into vector blends; no result depends on the floating-point exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_TRAPS __attribute__((optimize("no-trapping-math")))
#else
#define NO_TRAPS
#endif

/* n doubles stored in the output's class (kind): doubles as they are, singles rounded to
 * single, integers rounded half away from zero and saturated (NaN to 0: round_clamp's results),
 * logical round(x) >= 1, which is x >= 0.5 (NaN: false). Each class is one loop without
 * branches (selects, copysign and conversions), which the compiler vectorizes. */
NO_TRAPS CLONES static void store_row(void *restrict dst, const double *restrict y, int kind, ptrdiff_t n) {
    enum { CHUNK = 256 };
    switch (kind) {
    case K_F64: memcpy(dst, y, sizeof(double) * (size_t)n); return;
    case K_F32: {
        float *d = dst;
        for (ptrdiff_t i = 0; i < n; i++) d[i] = (float)y[i];
        return;
    }
    case K_BOOL: {
        unsigned char *d = dst;
        for (ptrdiff_t i = 0; i < n; i++) d[i] = y[i] >= 0.5;
        return;
    }
#define ROUND_INT(x, LO, HI)                                                                      \
    __extension__({                                                                               \
        double x_ = (x);                                                                          \
        x_ = x_ == x_ ? x_ : 0.0;                                                                 \
        x_ = x_ < LO ? LO : x_;                                                                   \
        x_ = x_ > HI ? HI : x_;                                                                   \
        (int)(x_ + __builtin_copysign(HALF_DOWN, x_));                                            \
    })
/* ROUND_INT where LO is 0: x > 0 ? x : 0 sends NaN, -0 and the negatives to +0 in one select
   (a vector max), and x + HALF_DOWN truncates as x + copysign(HALF_DOWN, x) does for x >= +0
   (-0 went to +0, both round to 0): the same integers in fewer operations per vector */
#define ROUND_UINT(x, LO, HI)                                                                     \
    __extension__({                                                                               \
        double x_ = (x);                                                                          \
        x_ = x_ > 0.0 ? x_ : 0.0;                                                                 \
        x_ = x_ < HI ? x_ : HI;                                                                   \
        (int)(x_ + HALF_DOWN);                                                                    \
    })
#define STORE_INT(K, T, LO, HI, ROUND)                                                            \
    case K: {                                                                                     \
        /* through a chunk of ints: the conversions from double to a narrower integer are         \
           vectorized poorly, those to int and from int to it well */                              \
        T *d = dst;                                                                               \
        int chunk[CHUNK];                                                                         \
        for (ptrdiff_t c = 0; c < n; c += CHUNK) {                                                \
            const ptrdiff_t m = n - c < CHUNK ? n - c : CHUNK;                                    \
            for (ptrdiff_t i = 0; i < m; i++) chunk[i] = ROUND(y[c + i], LO, HI);                 \
            for (ptrdiff_t i = 0; i < m; i++) d[c + i] = (T)chunk[i];                             \
        }                                                                                         \
        return;                                                                                   \
    }
        STORE_INT(K_U8, unsigned char, 0.0, 255.0, ROUND_UINT)
        STORE_INT(K_I8, signed char, -128.0, 127.0, ROUND_INT)
        STORE_INT(K_U16, unsigned short, 0.0, 65535.0, ROUND_UINT)
        STORE_INT(K_I16, short, -32768.0, 32767.0, ROUND_INT)
    case K_I32: {
        int *d = dst;
        for (ptrdiff_t i = 0; i < n; i++) d[i] = ROUND_INT(y[i], -2147483648.0, 2147483647.0);
        return;
    }
#undef STORE_INT
#undef ROUND_UINT
    case K_U32: {
        /* through int (the conversion every clone has in vectors): the upper half less 2^31,
           exactly (Sterbenz) */
        unsigned int *d = dst;
        for (ptrdiff_t i = 0; i < n; i++) {
            double x = y[i];
            x = x == x ? x : 0.0;
            x = x < 0.0 ? 0.0 : x;
            x = x > 4294967295.0 ? 4294967295.0 : x;
            x = x + HALF_DOWN;
            const int up = x >= 2147483648.0;
            x = up ? x - 2147483648.0 : x;
            d[i] = (unsigned int)(int)x + (up ? 0x80000000u : 0u);
        }
        return;
    }
    }
}

/* store_row as it was (round_clamp element by element): the tests' reference. */
static void store_row_ref(void *restrict dst, const double *restrict y, int kind, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        const double x = y[i];
        switch (kind) {
        case K_F64: ((double *)dst)[i] = x; break;
        case K_F32: ((float *)dst)[i] = (float)x; break;
        case K_BOOL: ((unsigned char *)dst)[i] = x >= 0.5; break;
        case K_U8: ((unsigned char *)dst)[i] = (unsigned char)round_clamp(x, 0.0, 255.0); break;
        case K_I8: ((signed char *)dst)[i] = (signed char)round_clamp(x, -128.0, 127.0); break;
        case K_U16: ((unsigned short *)dst)[i] = (unsigned short)round_clamp(x, 0.0, 65535.0); break;
        case K_I16: ((short *)dst)[i] = (short)round_clamp(x, -32768.0, 32767.0); break;
        case K_I32: ((int *)dst)[i] = round_clamp(x, -2147483648.0, 2147483647.0); break;
        default: {
            double v = x == x ? x : 0.0;
            v = v < 0.0 ? 0.0 : v > 4294967295.0 ? 4294967295.0 : v;
            const long long t = (long long)v;
            const double f = v - (double)t;
            ((unsigned int *)dst)[i] = (unsigned int)(t + (f >= 0.5));
        }
        }
    }
}

/* The two passes' sum, in T (vectors VT, NV of them a block): out[c] = 0 + LINE(0)[c] * f[0] +
 * LINE(1)[c] * f[1] + ... for c < n, LINE(j) the line tap j reads. The double and float32
 * passes below are this one sum; only the float32 ones may contract it (CONTRACT). */
#define PASS_SUM(T, VT, NV, out, LINE)                                                             \
    enum { W = sizeof(VT) / sizeof(T), BLOCK = NV * W };                                           \
    ptrdiff_t c = 0;                                                                               \
    for (; c + BLOCK <= n; c += BLOCK) {                                                           \
        VT acc[NV];                                                                                \
        for (int v = 0; v < NV; v++) acc[v] = (VT){0};                                             \
        for (ptrdiff_t j = 0; j < q; j++) {                                                        \
            const T *x = LINE(j) + c;                                                              \
            const T w = f[j];                                                                      \
            for (int v = 0; v < NV; v++) acc[v] = acc[v] + LOAD(VT, x + v * W) * w;                \
        }                                                                                          \
        for (int v = 0; v < NV; v++) STORE(out + c + v * W, acc[v]);                               \
    }                                                                                              \
    for (; c < n; c++) {                                                                           \
        T a = 0;                                                                                   \
        for (ptrdiff_t j = 0; j < q; j++) a = a + LINE(j)[c] * f[j];                               \
        out[c] = a;                                                                                \
    }
/* PASS_SUM's blocks of NV vectors from c on, as far as whole blocks go (c and W in scope). */
#define PASS_BLOCKS(T, VT, NV, out, LINE)                                                          \
    for (; c + NV * W <= n; c += NV * W) {                                                         \
        VT acc[NV];                                                                                \
        for (int v = 0; v < NV; v++) acc[v] = (VT){0};                                             \
        for (ptrdiff_t j = 0; j < q; j++) {                                                        \
            const T *x = LINE(j) + c;                                                              \
            const T w = f[j];                                                                      \
            for (int v = 0; v < NV; v++) acc[v] = acc[v] + LOAD(VT, x + v * W) * w;                \
        }                                                                                          \
        for (int v = 0; v < NV; v++) STORE(out + c + v * W, acc[v]);                               \
    }
/* PASS_SUM with 8 vectors a block (8 chains of additions in flight: 4 wait on the addition's
 * latency), then blocks of 4 and 1 for the rest: the same sums, each output's alone. */
#define PASS_SUM_WIDE(T, VT, out, LINE)                                                            \
    enum { W = sizeof(VT) / sizeof(T) };                                                           \
    ptrdiff_t c = 0;                                                                               \
    PASS_BLOCKS(T, VT, 8, out, LINE)                                                               \
    PASS_BLOCKS(T, VT, 4, out, LINE)                                                               \
    PASS_BLOCKS(T, VT, 1, out, LINE)                                                               \
    for (; c < n; c++) {                                                                           \
        T a = 0;                                                                                   \
        for (ptrdiff_t j = 0; j < q; j++) a = a + LINE(j)[c] * f[j];                               \
        out[c] = a;                                                                                \
    }
#define ROW_LINE(j) (p + q - 1 - (j))
#define COLUMN_LINE(j) (rows[j])

/* t[c] = 0 + p[c + q - 1] * f[0] + p[c + q - 2] * f[1] + ... for c < n. */
#define DEFINE_ROW_PASS(SUF, VD, VFL, VI, ATTR)                                                    \
ATTR static void row_pass##SUF(double *restrict t, const double *restrict p,                       \
                               const double *restrict f, ptrdiff_t q, ptrdiff_t n) {               \
    PASS_SUM_WIDE(double, VD, t, ROW_LINE)                                                         \
}
SIMD_WIDTHS(DEFINE_ROW_PASS)
#define row_pass(...) SIMD_CALL(row_pass, __VA_ARGS__)

/* y[c] = 0 + rows[0][c] * f[0] + rows[1][c] * f[1] + ... for c < n. */
#define DEFINE_COLUMN_PASS(SUF, VD, VFL, VI, ATTR)                                                 \
ATTR static void column_pass##SUF(double *restrict y, const double *const *rows,                   \
                                  const double *restrict f, ptrdiff_t q, ptrdiff_t n) {            \
    PASS_SUM_WIDE(double, VD, y, COLUMN_LINE)                                                      \
}
SIMD_WIDTHS(DEFINE_COLUMN_PASS)
#define column_pass(...) SIMD_CALL(column_pass, __VA_ARGS__)

/* The column pass of four output rows at once: y[i][c] = 0 + rows[3 - i][c] * f[0] +
 * rows[4 - i][c] * f[1] + ... (q taps, i = 0..3), rows[k] the q + 3 lines the four rows read
 * between them. Each line is loaded once for the (up to) four rows that read it, where one row
 * at a time loads it once per row; each output's products are added in the same order from
 * the same +0 as column_pass's (line k is output i's tap k - 3 + i, k rising). QNV vectors of
 * each row a block (4 x QNV chains of additions in flight); QUAD_STEP's tap tests are only at
 * the first and last three lines, where some rows have no tap. */
#define QUAD_STEP(T, VT, NV, ALL)                                                                  \
    do {                                                                                           \
        VT xv[NV];                                                                                 \
        for (int v = 0; v < NV; v++) xv[v] = LOAD(VT, rows[k] + c + v * W);                         \
        for (int i = 0; i < 4; i++) {                                                              \
            const ptrdiff_t j = k - 3 + i;                                                         \
            if (ALL || (j >= 0 && j < q)) {                                                        \
                const T w = f[j];                                                                  \
                for (int v = 0; v < NV; v++) acc[i][v] = acc[i][v] + xv[v] * w;                    \
            }                                                                                      \
        }                                                                                          \
    } while (0)
#define QUAD_BLOCKS(T, VT, NV)                                                                     \
    for (; c + NV * W <= n; c += NV * W) {                                                         \
        VT acc[4][NV];                                                                             \
        for (int i = 0; i < 4; i++)                                                                \
            for (int v = 0; v < NV; v++) acc[i][v] = (VT){0};                                      \
        ptrdiff_t k = 0;                                                                           \
        for (; k < 3; k++) QUAD_STEP(T, VT, NV, 0);                                                \
        for (; k < q; k++) QUAD_STEP(T, VT, NV, 1);                                                \
        for (; k < q + 3; k++) QUAD_STEP(T, VT, NV, 0);                                            \
        for (int i = 0; i < 4; i++)                                                                \
            for (int v = 0; v < NV; v++) STORE(y[i] + c + v * W, acc[i][v]);                      \
    }
#define QUAD_SUM(T, VT)                                                                            \
    enum { W = sizeof(VT) / sizeof(T), QNV = sizeof(VT) == 64 ? 4 : 2 };                           \
    ptrdiff_t c = 0;                                                                               \
    QUAD_BLOCKS(T, VT, QNV)                                                                        \
    QUAD_BLOCKS(T, VT, 1)                                                                          \
    for (; c < n; c++)                                                                             \
        for (int i = 0; i < 4; i++) {                                                              \
            T a = 0;                                                                               \
            for (ptrdiff_t j = 0; j < q; j++) a = a + rows[3 - i + j][c] * f[j];                   \
            y[i][c] = a;                                                                           \
        }
#define DEFINE_COLUMN_QUAD(SUF, VD, VFL, VI, ATTR)                                                 \
ATTR static void column_quad##SUF(double *const *y, const double *const *rows,                     \
                                  const double *restrict f, ptrdiff_t q, ptrdiff_t n) {            \
    QUAD_SUM(double, VD)                                                                           \
}
SIMD_WIDTHS(DEFINE_COLUMN_QUAD)
#define column_quad(...) SIMD_CALL(column_quad, __VA_ARGS__)

/* The separable loops' ring (q0 + 3 rows of a strip per plane, np_ planes, isz-byte items), in
 * bytes: room for the strips of the former L1 ring of q0 rows (24 KiB) where those are at least
 * 256 doubles or 384 floats wide (the three more rows must not narrow the strips: a 4096-wide
 * double image lost 8-29% where they did), else a ring in L2 (48 KiB, float32: 96 KiB): read
 * once per four output rows (column_quad), it need not fit L1, and narrower strips cost more
 * than L2's reads (BENCHMARKS.md, issue 18's separable throughput). */
static inline ptrdiff_t sep2_ring_bytes(ptrdiff_t q0, ptrdiff_t np_, ptrdiff_t isz) {
    const ptrdiff_t l1 = 24 << 10, wide = isz == 4 ? 384 : 256;
    if (l1 / isz / (q0 * np_) >= wide) return l1 * (q0 + 3) / q0;
    return isz == 4 ? 96 << 10 : 48 << 10;
}

/* sep2_f64's outputs of a large call (double and single images) are written by streaming
 * stores, which do not read each line into the cache before writing it: an output larger than
 * the caches is otherwise read once for nothing (RFO), the time that made the four-row column
 * pass lose at 5x5 on 4096-wide images (BENCHMARKS.md, issue 18's sep2 after h-gs). Smaller
 * outputs are cached stores: through the API a 2048² double output (32 MiB, fresh pages each
 * call, which the kernel has just zeroed through the cache) was 1.3x slower streamed, while
 * 4096² double and single gained. SEP2_STREAM_BYTES: the whole output's size from which they
 * stream; sep2_stream (-1: by that size, 0: never, 1: always) forces it for the tests. */
#define SEP2_STREAM_BYTES ((ptrdiff_t)64 << 20)
static int sep2_stream = -1;

/* store_row for double (K_F64) and single (K_F32) outputs by streaming stores: the same
 * values ((float)y as store_row converts: round to nearest), the aligned part by 16 bytes.
 * The caller fences (_mm_sfence) before the outputs are read by another thread. */
static void store_row_stream(void *restrict dst, const double *restrict y, int kind,
                             ptrdiff_t n) {
#if HAVE_MASKED
    ptrdiff_t i = 0;
    if (kind == K_F64) {
        double *d = dst;
        for (; i < n && ((size_t)(d + i) & 15); i++) d[i] = y[i];
        for (; i + 2 <= n; i += 2) _mm_stream_pd(d + i, _mm_loadu_pd(y + i));
        for (; i < n; i++) d[i] = y[i];
        return;
    }
    float *d = dst;
    for (; i < n && ((size_t)(d + i) & 15); i++) d[i] = (float)y[i];
    for (; i + 4 <= n; i += 4)
        _mm_stream_ps(d + i, _mm_movelh_ps(_mm_cvtpd_ps(_mm_loadu_pd(y + i)),
                                           _mm_cvtpd_ps(_mm_loadu_pd(y + i + 2))));
    for (; i < n; i++) d[i] = (float)y[i];
#else
    store_row(dst, y, kind, n);
#endif
}

/* ---- sep2 in float32 for the small integer classes --------------------------------------------
 * The output of an integer or logical image is an integer: the double y above matters only
 * through round_clamp(y) (logical: y >= 0.5). For images whose values are exact in float32
 * (uint8, int8, logical, uint16, int16), the same two passes are summed in float32 (twice the
 * lanes per vector) with the taps rounded to float32, giving yf with |yf - y| <= B, B an a-priori
 * bound from the taps and the largest |value| M (f32_bound). Where no half-integer (for
 * logical, 0.5) lies within B of yf, every number within B of yf, y among them, rounds and
 * saturates to the same integer, and that integer is stored; elsewhere (near a half-integer) y
 * itself is computed as the double passes do it (the same products added in the same order:
 * exact_one) and stored as before. The bits are those
 * of the double loop for every input; only the time depends on how many outputs are near a
 * half-integer. Where too many are (a kernel with dyadic taps on an image of ties), the call is
 * redone by the double loop. */


#define VF 8
/* the float32 passes may contract a product and a sum to a fused multiply-add (the build's
   -ffp-contract=off is for the double loops, whose bits are the contract) */
#if defined(__GNUC__) && !defined(__clang__)
#define CONTRACT __attribute__((optimize("fp-contract=fast")))
#else
#define CONTRACT
#endif

/* The float32 sums' builds (row_pass_f32, column_pass_f32, column_quad_f32, tap_sum_f32), one
 * per width as
 * SIMD_WIDTHS's, the 32-byte one for AVX2 with FMA: target("avx2") alone has no fused
 * multiply-add, so that build rounded each product, then added (two vector operations a tap
 * where AVX-512's build does one). FMA is its own feature bit, so that build runs only where
 * the processor has it; elsewhere the 16-byte build does (the same bits: whether a step is
 * fused or not, the output's decision is the double loop's, f32_bound). */
#if HAVE_MASKED
#define AVX2FMA __attribute__((target("avx2,fma")))
#define F32_WIDTHS(DEFINE)                                                                        \
    DEFINE(_64, vec_f64, vec_f32, vec_i32x16, AVX512)                                             \
    DEFINE(_32, vec32_f64, vec32_f32, vec32_i32, AVX2FMA)                                         \
    DEFINE(_16, vec16_f64, vec16_f32, vec16_i32, )
static int fma_32 = -1; /* -1: not read yet */
static int has_fma_32(void) {
    if (fma_32 < 0) {
        __builtin_cpu_init();
        fma_32 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return fma_32;
}
#define F32_CALL(NAME, ...)                                                                       \
    (simd_width() == 64                  ? NAME##_64(__VA_ARGS__)                                \
     : simd_width() == 32 && has_fma_32() ? NAME##_32(__VA_ARGS__)                                \
                                          : NAME##_16(__VA_ARGS__))
#else
#define F32_WIDTHS(DEFINE) SIMD_WIDTHS(DEFINE)
#define F32_CALL(NAME, ...) SIMD_CALL(NAME, __VA_ARGS__)
#endif

/* M, the largest |value| of the classes whose values float32 holds exactly; 0 for the others. */
static double f32_class_max(int kind) {
    switch (kind) {
    case K_U8: return 255.0;
    case K_I8: return 128.0;
    case K_BOOL: return 1.0;
    case K_U16: return 65535.0;
    case K_I16: return 32768.0;
    default: return 0.0;
    }
}

/* The taps rounded to float32 (g), where each tap is 0 or of magnitude in [2^-100, 2^64]: else
 * 0. Then a tap and its product with a nonzero value (at least 1, at most 2^24) are normal
 * float32s, so the row pass neither underflows (a sum of such products below the normal range
 * is exact) nor overflows; the column pass's sums stay below 2^18 where the bound is accepted
 * (its part u S0 T is at most 2^-6), and its products below the normal range are counted in the
 * bound. */
static int taps_f32(float *g, const double *f, ptrdiff_t q, double *abs_sum) {
    double s = 0;
    for (ptrdiff_t j = 0; j < q; j++) {
        const double a = f[j] < 0 ? -f[j] : f[j];
        if (!(a == 0 || (a >= 0x1p-100 && a <= 0x1p64))) return 0;
        g[j] = (float)f[j];
        s += a;
    }
    *abs_sum = s;
    return 1;
}

static double gamma_n(ptrdiff_t n, double u) { return (double)n * u / (1.0 - (double)n * u); }

/* The rounding error of a float32 chain s = 0 + x_0 g_0 + ... + x_(q-1) g_(q-1), each term
 * added in turn in this order (g = f rounded to float32, x exact float32s, |x| <= M), against
 * the exact sum x_0 f_0 + ...: with u = 2^-24 and gamma_q = q u / (1 - q u), at most
 *   u M S + u (1 + u) M S + u (1 + u) (1 + gamma_q) M (C_2 + ... + C_q),
 * S = |f_0| + ... and C_k = |f_0| + ... + |f_(k-1)| (the first k taps' absolute sum): the taps'
 * rounding (|g - f| <= u |f|); each product's (an unfused step: |p_k e_k| <= u |x_k g_k|, |g| <=
 * (1 + u) |f|); each sum's, step k's at most u |s^_k|, s^_k = s_(k-1) + (rounded or exact)
 * product, the exact sum this step rounds (step 1's, 0 + a float32, is exact), |s^_k| <=
 * (1 + gamma_k) (the first k products' absolute sum) <= (1 + gamma_q) (1 + u) M C_k (Higham,
 * Accuracy and Stability, lemma 3.1's argument on the partial sums). A fused step (the product
 * and the sum rounded once) has only the sum's rounding: the bound holds whatever mix of steps
 * is fused. Where the large taps come last (a Gaussian's middle), the C_k are small and the bound
 * about half the lemma's gamma_q M S; at worst (the large taps first) it is that. The bound
 * depends on the order: the float32 sums must add each output's terms in the order of f (as
 * row_pass_f32, column_pass_f32, column_quad_f32 and tap_sum_f32 do: the double loops' order,
 * tap 0 first, from +0). Results below the normal range are counted apart (Eu). */
static double chain_f32_error(double M, const double *f, ptrdiff_t q) {
    const double u = 0x1p-24;
    double S = 0, C = 0;
    for (ptrdiff_t k = 0; k < q; k++) {
        S += f[k] < 0 ? -f[k] : f[k];
        if (k > 0) C += S;
    }
    return M * (u * S + u * (1 + u) * S + u * (1 + u) * (1 + gamma_n(q, u)) * C);
}

/* B, rounded up to a float32: |yf - y| <= B for the float32 output yf and the double loop's y,
 * for the q1 taps f1 (absolute sum S1) along the rows, the q0 taps f0 (S0) along the columns,
 * |values| <= M. With d = 2^-53, t the exact row pass with the double taps, y* = sum t f0
 * exactly:
 *   row pass in float32: |tf - t| <= chain_f32_error(M, f1) = E1, |tf| <= M S1 + E1 = T;
 *   column pass: |yf - y*| <= S0 E1 + chain_f32_error(T, f0) = Ef (tf exact float32 inputs of
 *     at most T, against sum tf f0; then |sum (tf - t) f0| <= S0 E1);
 *   the double loop: |y - y*| <= M S1 S0 (gamma'_q0 (1 + gamma'_q1) + gamma'_q1) = Ed (d);
 *   results below float32's normal range: at most 2^-150 absolute per operation, 2 q1 of them
 *     carried by S0 and 2 q0 more, twice over for safety: Eu;
 *   B = (Ef + Ed + Eu) (1 + 2^-20), the factor covering the rounding of this computation.
 * The column pass's inputs are the row pass's float32 outputs tf, however they were summed.
 * Below the normal range a fused step's result is rounded once (at most 2^-150 absolute) where
 * an unfused step has two (the product's and the sum's, both counted in Eu): Eu covers either.
 * (Before, E1 and Ef were the lemma's gamma_q1 M S1 and gamma_q0 T S0, whatever the order:
 * about twice as many outputs near a half-integer for a Gaussian; BENCHMARKS.md.) */
static float f32_bound(double M, const double *f1, ptrdiff_t q1, const double *f0,
                       ptrdiff_t q0) {
    const double d = 0x1p-53;
    double S1 = 0, S0 = 0;
    for (ptrdiff_t j = 0; j < q1; j++) S1 += f1[j] < 0 ? -f1[j] : f1[j];
    for (ptrdiff_t j = 0; j < q0; j++) S0 += f0[j] < 0 ? -f0[j] : f0[j];
    const double E1 = chain_f32_error(M, f1, q1);
    const double T = M * S1 + E1;
    const double Ef = S0 * E1 + chain_f32_error(T, f0, q0);
    const double Ed = M * S1 * S0 * (gamma_n(q0, d) * (1 + gamma_n(q1, d)) + gamma_n(q1, d));
    const double Eu = 2 * (2 * (double)q1 * S0 + 2 * (double)q0) * 0x1p-150;
    const double B = (Ef + Ed + Eu) * (1 + 0x1p-20);
    return (float)(B * (1 + 0x1p-20)); /* float32's rounding is within 2^-24 relative */
}

/* n elements of an image row (kind, one of f32_class_max's) as float32, exactly. */
CLONES static void load_row_f32(float *restrict dst, const void *restrict src, int kind,
                                ptrdiff_t n, ptrdiff_t stride) {
#define LOAD_F32(K, T)                                                                            \
    case K: {                                                                                     \
        const T *s = src;                                                                         \
        if (stride == 1)                                                                          \
            for (ptrdiff_t i = 0; i < n; i++) dst[i] = (float)s[i];                               \
        else                                                                                      \
            for (ptrdiff_t i = 0; i < n; i++) dst[i] = (float)s[i * stride];                      \
        return;                                                                                   \
    }
    switch (kind) {
        LOAD_F32(K_U8, unsigned char)
        LOAD_F32(K_BOOL, unsigned char)
        LOAD_F32(K_I8, signed char)
        LOAD_F32(K_U16, unsigned short)
        LOAD_F32(K_I16, short)
    }
#undef LOAD_F32
}

/* load_strip in float32 for the classes of load_row_f32: padded row src's strip of plane k into
 * prow (fill where src < 0 or colidx < 0). */
static inline void load_strip_f32(float *restrict prow, const void *image, int kind,
                                  long long src, ptrdiff_t k, ptrdiff_t n1, ptrdiff_t np_,
                                  size_t isz, ptrdiff_t c0, ptrdiff_t lo, ptrdiff_t hi,
                                  ptrdiff_t mid, ptrdiff_t pw, const long long *colidx,
                                  float fill) {
    if (src < 0) {
        for (ptrdiff_t c = 0; c < pw; c++) prow[c] = fill;
        return;
    }
    const char *a = (const char *)image + ((size_t)src * (size_t)n1 * (size_t)np_ + (size_t)k) * isz;
    const char *at = a + (size_t)(c0 + lo - mid) * (size_t)np_ * isz;
    if (hi > lo) load_row_f32(prow + lo, at, kind, hi - lo, np_);
    for (ptrdiff_t c = 0; c < lo; c++)
        prow[c] = colidx[c0 + c] < 0 ? fill
                                     : (float)load_one(a, kind, (ptrdiff_t)colidx[c0 + c] * np_);
    for (ptrdiff_t c = hi; c < pw; c++)
        prow[c] = colidx[c0 + c] < 0 ? fill
                                     : (float)load_one(a, kind, (ptrdiff_t)colidx[c0 + c] * np_);
}

/* Output i of o (kind, one of load_row_f32's) set to the recomputed double v, rounded and
 * saturated to [lo, hi] as the double loop's store does. */
static inline void put_recomputed(char *o, int kind, ptrdiff_t i, double v, double lo, double hi) {
    const int x = kind == K_BOOL ? v >= 0.5 : round_clamp(v, lo, hi);
    switch (kind) {
    case K_U8: case K_BOOL: ((unsigned char *)o)[i] = (unsigned char)x; break;
    case K_I8: ((signed char *)o)[i] = (signed char)x; break;
    case K_U16: ((unsigned short *)o)[i] = (unsigned short)x; break;
    case K_I16: ((short *)o)[i] = (short)x; break;
    }
}

/* row_pass in float32: t[c] = 0 + p[c + q - 1] * f[0] + ... for c < n. Products and sums may
 * be fused multiply-adds here (one rounding where there were two: the bound still holds, see
 * f32_bound; one vector operation a tap where the build has FMA, F32_WIDTHS). VF vectors
 * at a time: twice the double loop's, for the same bytes in flight. */
#define DEFINE_ROW_PASS_F32(SUF, VD, VFL, VI, ATTR)                                                \
CONTRACT ATTR static void row_pass_f32##SUF(float *restrict t, const float *restrict p,            \
                                            const float *restrict f, ptrdiff_t q, ptrdiff_t n) {   \
    PASS_SUM(float, VFL, VF, t, ROW_LINE)                                                          \
}
F32_WIDTHS(DEFINE_ROW_PASS_F32)
#define row_pass_f32(...) F32_CALL(row_pass_f32, __VA_ARGS__)

/* column_pass in float32: y[c] = 0 + rows[0][c] * f[0] + ... for c < n (fused multiply-adds
 * allowed, as in row_pass_f32). */
#define DEFINE_COLUMN_PASS_F32(SUF, VD, VFL, VI, ATTR)                                             \
CONTRACT ATTR static void column_pass_f32##SUF(float *restrict y, const float *const *rows,        \
                                               const float *restrict f, ptrdiff_t q,               \
                                               ptrdiff_t n) {                                      \
    PASS_SUM(float, VFL, VF, y, COLUMN_LINE)                                                       \
}
F32_WIDTHS(DEFINE_COLUMN_PASS_F32)
#define column_pass_f32(...) F32_CALL(column_pass_f32, __VA_ARGS__)

/* column_quad in float32 (fused multiply-adds allowed, as in row_pass_f32). */
#define DEFINE_COLUMN_QUAD_F32(SUF, VD, VFL, VI, ATTR)                                             \
CONTRACT ATTR static void column_quad_f32##SUF(float *const *y, const float *const *rows,          \
                                               const float *restrict f, ptrdiff_t q,               \
                                               ptrdiff_t n) {                                      \
    QUAD_SUM(float, VFL)                                                                           \
}
F32_WIDTHS(DEFINE_COLUMN_QUAD_F32)
#define column_quad_f32(...) F32_CALL(column_quad_f32, __VA_ARGS__)

/* round_clamp of 16 float32s (logical: x >= 0.5), and where that may differ from the value
 * of a number within G of x: the distance to the nearest half-integer (logical: to 0.5) at most
 * G. All exact: |x| < 2^18 where the bound is accepted, 0.5 - |x - r| is where |x - r| >= 0.25
 * (else it exceeds 0.25 > G), as x - 0.5 is where x >= 0.25. The clamp's ends are integers:
 * beyond them every number within G < 0.5 gives the same end. Through pointers, as
 * round_clamp8. */
static inline int decide1(float x, int kind, float lo, float hi, float G, int *near) {
    if (kind == K_BOOL) {
        const float d = x - 0.5f;
        *near = (d < 0 ? -d : d) <= G;
        return x >= 0.5f;
    }
    x = x < lo ? lo : x > hi ? hi : x;
    const int t = (int)x;
    const float f = x - (float)t;
    const float d = (f < 0 ? -f : f) - 0.5f;
    *near = (d < 0 ? -d : d) <= G;
    return t + (f >= 0.5f) - (f <= -0.5f);
}

/* store_guarded's loop for the class K (stored as T, bounds LO..HI): its kind and bounds
 * constants in the loop, which the compiler folds into it. */
#define GUARDED_CASE(SUF, VI, K, T, LO, HI)                                                        \
    case K: {                                                                                      \
        while (i + W <= n) {                                                                       \
            VI acc = {0};                                                                          \
            for (int v = 0; v < GUARD_BLOCK && i + W <= n; v++, i += W) {                         \
                VI a, differ;                                                                      \
                decide16##SUF(&a, &differ, yf + i, G, K, LO, HI);                                  \
                put##SUF((T *)dst + i, a, sizeof(T));                                              \
                acc |= differ;                                                                     \
            }                                                                                      \
            STORE(bany + nb * W, acc);                                                             \
            nb++;                                                                                  \
            anyv |= acc;                                                                           \
        }                                                                                          \
        break;                                                                                     \
    }

/* store_guarded's stores at 16 bytes (put##SUF): SSE2's packs, x86-64 only */
typedef int v4si_ __attribute__((vector_size(16)));
#if HAVE_MASKED
static inline void put_packed16(void *p, v4si_ x, int size) {
    typedef short v8hi_ __attribute__((vector_size(16)));
    typedef char v16qi_ __attribute__((vector_size(16)));
    if (size == 1) {
        x &= 0xff;
        const v8hi_ w = __builtin_ia32_packssdw128(x, x);
        const v16qi_ b = __builtin_ia32_packuswb128(w, w);
        memcpy(p, &b, 4);
    } else {
        x = (x << 16) >> 16;
        const v8hi_ w = __builtin_ia32_packssdw128(x, x);
        memcpy(p, &w, 8);
    }
}
#else
static inline void put_packed16(void *p, v4si_ x, int size) { (void)p, (void)x, (void)size; }
#endif

/* The n float32 outputs yf stored in the class (kind) where every number within G of them
 * gives the same value; the indices of the others go to miss, in increasing order (flag: n
 * bytes of room, 4-byte aligned). Returns how many. */
/* vectors a block: store_guarded keeps whether any lane of a block is near (one vector store a
   block, in flag's room), and looks again only at those blocks */
#define GUARD_BLOCK 8
#define DEFINE_STORE_GUARDED(SUF, VD, VFL, VI, ATTR)                                               \
ATTR static inline void decide16##SUF(VI *out, VI *near, const float *y, float G, int kind,        \
                            float lo, float hi) {                                                  \
    VFL x = LOAD(VFL, y);                                                                          \
    const VI absmask = (VI){0} + 0x7fffffff;                                                       \
    if (kind == K_BOOL) {                                                                          \
        *out = -(x >= 0.5f);                                                                       \
        *near = (VFL)((VI)(x - 0.5f) & absmask) <= G;                                              \
        return;                                                                                    \
    }                                                                                              \
    /* r: x rounded to the nearest integer, ties to even (adding and removing 1.5 * 2^23 rounds    \
       to an integer exactly where |x| < 2^22), d = x - r exactly, |d| <= 0.5; half away from      \
       zero differs only at a tie, where |d| = 0.5: near. Then clamped (integers); beyond the      \
       ends every number within G < 0.5 saturates alike, so an x outside lo..hi is not near, as    \
       in decide1 (which clamps x first) */                                                        \
    const float magic = 0x1.8p23f;                                                                 \
    const VFL r = (x + magic) - magic;                                                             \
    const VFL d = (VFL)((VI)(x - r) & absmask);                                                    \
    const VFL vlo = (VFL){0} + lo, vhi = (VFL){0} + hi;                                            \
    *near = (0.5f - d <= G) & (x >= vlo) & (x <= vhi);                                             \
    VI m = r < vlo; /* -1 where true */                                                            \
    VFL c = (VFL)(((VI)r & ~m) | ((VI)vlo & m));                                                   \
    m = c > vhi;                                                                                   \
    c = (VFL)(((VI)c & ~m) | ((VI)vhi & m));                                                       \
    *out = __builtin_convertvector(c, VI);                                                         \
}                                                                                                  \
                                                                                                   \
/* the low size bytes (1 or 2) of each lane of a to p: a conversion, but at 32 bytes (AVX2,       \
   which has no narrowing conversion) a byte shuffle and at 16 (SSE2) two packs, where the         \
   conversion was a lane at a time (extract, shift, or: nearly half of a uint8 3x3 call's time     \
   there; BENCHMARKS.md) */                                                                        \
ATTR static inline void put##SUF(void *p, VI a, int size) {                                        \
    if (sizeof(VI) == 16 && HAVE_MASKED) {                                                         \
        /* the low byte (word) of each lane, as a value the packs' saturation keeps: 0..255       \
           masked, or the low word sign-extended */                                                \
        v4si_ x;                                                                                   \
        memcpy(&x, &a, sizeof(VI) < 16 ? sizeof(VI) : 16);                                         \
        put_packed16(p, x, size);                                                                  \
        return;                                                                                    \
    }                                                                                              \
    if (sizeof(VI) != 32) {                                                                        \
        typedef unsigned char n1 __attribute__((vector_size(sizeof(VI) / 4)));                     \
        typedef unsigned short n2 __attribute__((vector_size(sizeof(VI) / 2)));                    \
        if (size == 1)                                                                             \
            STORE((unsigned char *)p, __builtin_convertvector(a, n1));                             \
        else                                                                                       \
            STORE((unsigned short *)p, __builtin_convertvector(a, n2));                            \
        return;                                                                                    \
    }                                                                                              \
    typedef unsigned char b32 __attribute__((vector_size(32)));                                    \
    b32 b;                                                                                         \
    memcpy(&b, &a, sizeof(VI) < 32 ? sizeof(VI) : 32);                                             \
    if (size == 1) {                                                                               \
        b = __builtin_shuffle(b, (b32){0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28,   \
                                       0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28});  \
        memcpy(p, &b, 8);                                                                          \
    } else {                                                                                       \
        b = __builtin_shuffle(b, (b32){0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29,   \
                                       0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29});  \
        memcpy(p, &b, 16);                                                                         \
    }                                                                                              \
}                                                                                                  \
                                                                                                   \
ATTR static ptrdiff_t store_guarded##SUF(void *restrict dst, const float *restrict yf, int kind,   \
                                      ptrdiff_t n, float G, float lo, float hi,                    \
                                      unsigned char *restrict flag, int *restrict miss) {          \
    enum { W = sizeof(VFL) / sizeof(float) };                                                      \
    ptrdiff_t nm = 0, i = 0, nb = 0;                                                               \
    VI anyv = {0};                                                                                 \
    /* a vector per block: at most n / 2 + 3.5 W ints' bytes, in flag's room where n >= 8 W     \
       (below, one block: one_) */                                                                 \
    VI one_;                                                                                       \
    int *const bany = n >= GUARD_BLOCK * W ? (int *)(void *)flag : (int *)(void *)&one_;          \
    /* a loop per class: its kind and bounds constants in the loop */                              \
    switch (kind) {                                                                                \
        GUARDED_CASE(SUF, VI, K_U8, unsigned char, 0.0f, 255.0f)                                   \
        GUARDED_CASE(SUF, VI, K_BOOL, unsigned char, 0.0f, 1.0f)                                   \
        GUARDED_CASE(SUF, VI, K_I8, signed char, -128.0f, 127.0f)                                  \
        GUARDED_CASE(SUF, VI, K_U16, unsigned short, 0.0f, 65535.0f)                               \
        GUARDED_CASE(SUF, VI, K_I16, short, -32768.0f, 32767.0f)                                   \
    }                                                                                              \
    /* the lanes that differ, found only where one does (a test per vector is a chain of           \
       shuffles the loop waits for), by deciding again the vectors of the blocks that have one:   \
       most rows have none, a store of each vector's flags cost more than this second pass, and   \
       a second pass over the whole row where one output is near cost a quarter of this store      \
       for 3x3 kernels (BENCHMARKS.md) */                                                          \
    int any = 0;                                                                                   \
    for (int v = 0; v < W; v++) any |= anyv[v];                                                    \
    for (ptrdiff_t b = 0; any && b < nb; b++) {                                                    \
        const VI acc = LOAD(VI, bany + b * W);                                                     \
        int hit = 0;                                                                               \
        for (int v = 0; v < W; v++) hit |= acc[v];                                                 \
        if (!hit) continue;                                                                        \
        unsigned char fl[GUARD_BLOCK * W];                                                         \
        const ptrdiff_t j0 = b * GUARD_BLOCK * W;                                                  \
        const ptrdiff_t j1 = j0 + GUARD_BLOCK * W < i ? j0 + GUARD_BLOCK * W : i;                  \
        for (ptrdiff_t j = j0; j < j1; j += W) {                                                   \
            VI a, differ;                                                                          \
            decide16##SUF(&a, &differ, yf + j, G, kind, lo, hi);                                   \
            put##SUF(fl + (j - j0), differ, 1);                                                    \
        }                                                                                          \
        for (ptrdiff_t j = j0; j < j1; j++)                                                        \
            if (fl[j - j0]) miss[nm++] = (int)j;                                                   \
    }                                                                                              \
    for (; i < n; i++) {                                                                           \
        int near;                                                                                  \
        const int a = decide1(yf[i], kind, lo, hi, G, &near);                                      \
        switch (kind) {                                                                            \
        case K_U8: case K_BOOL: ((unsigned char *)dst)[i] = (unsigned char)a; break;               \
        case K_I8: ((signed char *)dst)[i] = (signed char)a; break;                                \
        case K_U16: ((unsigned short *)dst)[i] = (unsigned short)a; break;                         \
        case K_I16: ((short *)dst)[i] = (short)a; break;                                           \
        }                                                                                          \
        if (near) miss[nm++] = (int)i;                                                             \
    }                                                                                              \
    return nm;                                                                                     \
}
SIMD_WIDTHS(DEFINE_STORE_GUARDED)
#define store_guarded(...) SIMD_CALL(store_guarded, __VA_ARGS__)

/* y of output (r, c) in plane k, as the double loop computes it: padded row p's row pass
 * t = 0 + P[p, c + q1 - 1] * f1[0] + ..., then y = 0 + t(r + q0 - 1) * f0[0] + .... The window's
 * values go first, converted, to v (tap i's values of the q0 rows contiguous, EXACT_ROWS(q0)
 * apart: room for q1 of them), then the q0 row sums (t, room for EXACT_ROWS(q0) doubles)
 * advance together, tap by tap, as vectors: each is the same chain of operations in the same
 * order, and the chains overlap instead of waiting on each other (a product took a conversion,
 * a test and a load of its own before). ci: room for q1 column offsets. */
#define EXACT_ROWS(q0) (((q0) + 7) / 8 * 8)
CLONES static double exact_one(const void *image, int kind, ptrdiff_t n1, ptrdiff_t np_,
                               const long long *rowidx, const long long *colidx,
                               const double *f1, ptrdiff_t q1, const double *f0, ptrdiff_t q0,
                               double fill, ptrdiff_t r, ptrdiff_t c, ptrdiff_t k,
                               double *restrict t, double *restrict v, ptrdiff_t *restrict ci) {
    const size_t isz = KIND_SIZE[kind];
    const ptrdiff_t Q = EXACT_ROWS(q0);
    int run = 1; /* the window's columns one run of the image's: no tests in the copy */
    for (ptrdiff_t i = 0; i < q1; i++) {
        const long long col = colidx[c + q1 - 1 - i];
        ci[i] = col < 0 ? -1 : (ptrdiff_t)col * np_;
        run = run && ci[i] >= 0 && ci[i] == ci[0] - i * np_;
    }
    for (ptrdiff_t j = 0; j < q0; j++) {
        const long long src = rowidx[r + q0 - 1 - j];
        if (src < 0) {
            for (ptrdiff_t i = 0; i < q1; i++) v[i * Q + j] = fill;
            continue;
        }
        const char *a =
            (const char *)image + ((size_t)src * (size_t)n1 * (size_t)np_ + (size_t)k) * isz;
        switch (kind) { /* a loop per class: no switch per value */
#define TAPS(K, T)                                                                                \
    case K:                                                                                       \
        if (run) {                                                                                \
            const T *x = (const T *)a + ci[0];                                                    \
            for (ptrdiff_t i = 0; i < q1; i++) v[i * Q + j] = (double)x[-i * np_];                \
        } else {                                                                                  \
            for (ptrdiff_t i = 0; i < q1; i++)                                                    \
                v[i * Q + j] = ci[i] < 0 ? fill : (double)((const T *)a)[ci[i]];                  \
        }                                                                                         \
        break;
            TAPS(K_U8, unsigned char)
            TAPS(K_BOOL, unsigned char)
            TAPS(K_I8, signed char)
            TAPS(K_U16, unsigned short)
            TAPS(K_I16, short)
#undef TAPS
        }
    }
    for (ptrdiff_t j = q0; j < Q; j++) /* the last vector's unused lanes: any finite value */
        for (ptrdiff_t i = 0; i < q1; i++) v[i * Q + j] = 0;
    for (ptrdiff_t j = 0; j < Q; j++) t[j] = 0;
    for (ptrdiff_t i = 0; i < q1; i++) {
        const double w = f1[i];
        const double *vi = v + i * Q;
        for (ptrdiff_t j = 0; j < Q; j++) t[j] = t[j] + vi[j] * w;
    }
    double y = 0;
    for (ptrdiff_t j = 0; j < q0; j++) y = y + t[j] * f0[j];
    return y;
}

/* bridge_sep2 for the classes of f32_class_max: 0 done, -1 no memory, 2 not taken (taps or
 * fill outside float32's reach, a bound too wide for the outputs to be decided mostly in
 * float32, or too many outputs near a half-integer: the rows it wrote are rewritten by the
 * double loop with the same values; unlimited: however many). */
static int sep2_f32(void *out, const void *image, int kind, ptrdiff_t n1, ptrdiff_t L1,
                    ptrdiff_t np_, const long long *rowidx, const long long *colidx,
                    ptrdiff_t mid, const double *f1, ptrdiff_t q1, const double *f0,
                    ptrdiff_t q0, double fill, ptrdiff_t r0, ptrdiff_t r1, int unlimited) {
    enum { BLOCK = VF * (sizeof(vec_f32) / sizeof(float)), AHEAD = 4 };
    double M = f32_class_max(kind);
    const double afill = fill < 0 ? -fill : fill;
    if (M == 0 || !((double)(float)fill == fill) || afill > 0x1p24) return 2;
    M = afill > M ? afill : M;
    float *g = malloc(sizeof(float) * (size_t)(q0 + q1));
    if (g == NULL) return -1;
    double S0, S1;
    if (!taps_f32(g, f1, q1, &S1) || !taps_f32(g + q1, f0, q0, &S0)) {
        free(g);
        return 2;
    }
    const float *g1 = g, *g0 = g + q1;
    const float G = f32_bound(M, f1, q1, f0, q0);
    const float ffill = (float)fill;
    /* the class's range (logical: unused, its outputs are y >= 0.5) */
    const float lo = kind == K_I8 ? -128.0f : kind == K_I16 ? -32768.0f : 0.0f;
    const float hi = kind == K_U8 ? 255.0f : kind == K_I8 ? 127.0f : kind == K_U16 ? 65535.0f
                     : kind == K_I16 ? 32767.0f : 1.0f;
    /* outputs near a half-integer are about 2 G of all; each costs q0 q1 scalar products */
    if (!(G <= 0x1p-6f) || 2.0 * G * (double)q0 * (double)q1 > 4.0) {
        free(g);
        return 2;
    }
    const ptrdiff_t R = q0 + 3; /* ring rows per plane, as sep2_f64's */
    const ptrdiff_t SW =
        strip_width(sep2_ring_bytes(q0, np_, 4) / 4 / (R * np_), BLOCK, L1);
    const size_t isz = KIND_SIZE[kind];
    const ptrdiff_t PW = SW + q1 - 1;
    /* the ring, prow, four output rows per plane (y), one interleaved (yi) */
    float *ring = malloc(sizeof(float) * (size_t)(np_ * R * SW + PW + 4 * np_ * SW + np_ * SW));
    const float **rows = malloc(sizeof(float *) * (size_t)R);
    int *miss = malloc((sizeof(int) + 1) * (size_t)(np_ * SW));
    double *tsum = malloc(sizeof(double) * (size_t)(EXACT_ROWS(q0) * (q1 + 1)));
    ptrdiff_t *tat = malloc(sizeof(ptrdiff_t) * (size_t)q1);
    if (ring == NULL || rows == NULL || miss == NULL || tsum == NULL || tat == NULL) {
        free(g);
        free(ring);
        free(rows);
        free(miss);
        free(tsum);
        free(tat);
        return -1;
    }
    float *prow = ring + np_ * R * SW, *y = prow + PW, *yi = y + 4 * np_ * SW;
    int status = 0;
    /* misses allowed: about 2 scalar products per output on average, after a start */
    double budget = 65536, cost = 0;
    for (ptrdiff_t c0 = 0; c0 < L1 && status == 0; c0 += SW) {
        const ptrdiff_t w = L1 - c0 < SW ? L1 - c0 : SW, pw = w + q1 - 1;
        ptrdiff_t lo_c, hi_c;
        strip_span(mid, n1, c0, pw, &lo_c, &hi_c);
        ptrdiff_t p = r0; /* the next padded row to pass along its row */
        for (ptrdiff_t r = r0; r < r1 && status == 0; r += 4) {
            const ptrdiff_t gr = r1 - r < 4 ? r1 - r : 4; /* output rows r..r + gr */
            for (; p < r + gr + q0 - 1; p++) {
                const long long src = rowidx[p];
                if (p + AHEAD < r1 + q0 - 1 && rowidx[p + AHEAD] >= 0 && hi_c > lo_c)
                    prefetch_strip(image, rowidx[p + AHEAD], n1, np_, isz, c0, lo_c, hi_c, mid);
                for (ptrdiff_t k = 0; k < np_; k++) {
                    load_strip_f32(prow, image, kind, src, k, n1, np_, isz, c0, lo_c, hi_c, mid,
                                   pw, colidx, ffill);
                    row_pass_f32(ring + (k * R + p % R) * SW, prow, g1, q1, w);
                }
            }
            for (ptrdiff_t k = 0; k < np_; k++) {
                float *yk[4];
                for (ptrdiff_t i = 0; i < 4; i++) yk[i] = y + (i * np_ + k) * SW;
                if (gr == 4) {
                    /* rows[m]: padded row r + q0 + 2 - m, slots stepped down (a division per
                       tap costs as much as the taps of a narrow strip) */
                    ptrdiff_t slot = (r + q0 + 2) % R;
                    for (ptrdiff_t m = 0; m < R; m++) {
                        rows[m] = ring + (k * R + slot) * SW;
                        slot = slot == 0 ? R - 1 : slot - 1;
                    }
                    column_quad_f32(yk, rows, g0, q0, w);
                } else {
                    for (ptrdiff_t i = 0; i < gr; i++) {
                        ptrdiff_t slot = (r + i + q0 - 1) % R;
                        for (ptrdiff_t j = 0; j < q0; j++) {
                            rows[j] = ring + (k * R + slot) * SW;
                            slot = slot == 0 ? R - 1 : slot - 1;
                        }
                        column_pass_f32(yk[i], rows, g0, q0, w);
                    }
                }
            }
            for (ptrdiff_t i = 0; i < gr; i++) {
                char *o = (char *)out +
                          ((size_t)(r + i) * (size_t)L1 + (size_t)c0) * (size_t)np_ * isz;
                const float *yo = y + i * np_ * SW;
                if (np_ > 1) {
                    for (ptrdiff_t c = 0; c < w; c++)
                        for (ptrdiff_t k = 0; k < np_; k++) yi[c * np_ + k] = yo[k * SW + c];
                    yo = yi;
                }
                const ptrdiff_t nm = store_guarded(o, yo, kind, w * np_, G, lo, hi,
                                                   (unsigned char *)(miss + np_ * SW), miss);
                for (ptrdiff_t m = 0; m < nm; m++) {
                    const ptrdiff_t c = miss[m] / np_, k = miss[m] % np_;
                    const double v = exact_one(image, kind, n1, np_, rowidx, colidx, f1, q1, f0,
                                               q0, fill, r + i, c0 + c, k, tsum,
                                               tsum + EXACT_ROWS(q0), tat);
                    put_recomputed(o, kind, miss[m], v, lo, hi);
                }
                cost += (double)nm * (double)(q0 * q1);
                budget += 2.0 * (double)(w * np_);
            }
            if (cost > budget && !unlimited) status = 2;
        }
    }
    free(g);
    free(ring);
    free(rows);
    free(miss);
    free(tsum);
    free(tat);
    return status;
}

/* The double loop: output rows r0..r1 (of L0 x L1; the image n0 x n1): 0 done, 1 a NaN/Inf in
 * the image, -1 no memory. stream: the outputs by streaming stores (double and single images;
 * SEP2_STREAM_BYTES). */
static int sep2_f64(void *out, const void *image, int kind, ptrdiff_t n1, ptrdiff_t L1,
                       ptrdiff_t np_, const long long *rowidx, const long long *colidx,
                       ptrdiff_t mid, const double *f1, ptrdiff_t q1, const double *f0,
                       ptrdiff_t q0, double fill, ptrdiff_t r0, ptrdiff_t r1, int stream) {
    /* Strips of SW output columns, the rings of a strip (R = q0 + 3 rows per plane: the padded
       rows four output rows read) in cache (sep2_ring_bytes): output rows are summed four at a
       time (column_quad), each ring row loaded once per four rows, so the strips can be wider
       than an L1 ring allows (narrow strips cost more than the passes' sums). Planes
       (np_ > 1) are interleaved in the image and the output (MATLAB's RGB as a C-ordered
       array): each is filtered on its own, its ring apart, and the outputs interleaved again
       before the conversion. */
    enum { BLOCK = VECTORS * (sizeof(vec_f64) / sizeof(double)), AHEAD = 4 };
    const ptrdiff_t R = q0 + 3;
    const ptrdiff_t SW =
        strip_width(sep2_ring_bytes(q0, np_, 8) / 8 / (R * np_), BLOCK, L1);
    const size_t isz = KIND_SIZE[kind];
    const ptrdiff_t PW = SW + q1 - 1;
    /* the ring, prow, then four output rows per plane (y) and four interleaved (yi) */
    double *ring = malloc(sizeof(double) * (size_t)(np_ * R * SW + PW + 8 * np_ * SW));
    const double **rows = malloc(sizeof(double *) * (size_t)R);
    if (ring == NULL || rows == NULL) {
        free(ring);
        free(rows);
        return -1;
    }
    double *prow = ring + np_ * R * SW, *y = prow + PW, *yi = y + 4 * np_ * SW;
    int status = 0;
    for (ptrdiff_t c0 = 0; c0 < L1 && status == 0; c0 += SW) {
        const ptrdiff_t w = L1 - c0 < SW ? L1 - c0 : SW, pw = w + q1 - 1;
        /* padded columns c0..c0 + pw; those of the image itself: lo..hi (prow's indices) */
        ptrdiff_t lo, hi;
        strip_span(mid, n1, c0, pw, &lo, &hi);
        ptrdiff_t p = r0; /* the next padded row to pass along its row */
        for (ptrdiff_t r = r0; r < r1 && status == 0; r += 4) {
            const ptrdiff_t g = r1 - r < 4 ? r1 - r : 4; /* output rows r..r + g */
            /* output row r + i reads padded rows r + i + q0 - 1 - j for taps j */
            for (; p < r + g + q0 - 1; p++) {
                const long long src = rowidx[p];
                if (p + AHEAD < r1 + q0 - 1 && rowidx[p + AHEAD] >= 0 && hi > lo)
                    prefetch_strip(image, rowidx[p + AHEAD], n1, np_, isz, c0, lo, hi, mid);
                for (ptrdiff_t k = 0; k < np_; k++) {
                    /* padded row p's columns of the strip in plane k: to prow, then the row
                       pass to the plane's ring */
                    if (load_strip(prow, image, kind, src, k, n1, np_, isz, c0, lo, hi, mid, pw,
                                   colidx, fill))
                        status = 1;
                    row_pass(ring + (k * R + p % R) * SW, prow, f1, q1, w);
                }
            }
            const size_t orow = (size_t)L1 * (size_t)np_ * isz;
            char *o = (char *)out + ((size_t)r * (size_t)L1 + (size_t)c0) * (size_t)np_ * isz;
            /* sums straight to out, unless streamed */
            const int direct = np_ == 1 && kind == K_F64 && !stream;
            for (ptrdiff_t k = 0; k < np_; k++) {
                double *yk[4];
                for (ptrdiff_t i = 0; i < 4; i++)
                    yk[i] = !direct ? y + (i * np_ + k) * SW
                            : i < g ? (double *)(o + (size_t)i * orow)
                                    : NULL;
                if (g == 4) {
                    /* rows[m]: padded row r + q0 + 2 - m, slots stepped down (a division per
                       tap costs as much as the taps of a narrow strip) */
                    ptrdiff_t slot = (r + q0 + 2) % R;
                    for (ptrdiff_t m = 0; m < R; m++) {
                        rows[m] = ring + (k * R + slot) * SW;
                        slot = slot == 0 ? R - 1 : slot - 1;
                    }
                    column_quad(yk, rows, f0, q0, w);
                } else {
                    for (ptrdiff_t i = 0; i < g; i++) {
                        ptrdiff_t slot = (r + i + q0 - 1) % R;
                        for (ptrdiff_t j = 0; j < q0; j++) {
                            rows[j] = ring + (k * R + slot) * SW;
                            slot = slot == 0 ? R - 1 : slot - 1;
                        }
                        column_pass(yk[i], rows, f0, q0, w);
                    }
                }
            }
            if (direct) continue;
            for (ptrdiff_t i = 0; i < g; i++) {
                const double *yr = y + i * np_ * SW;
                if (np_ > 1) {
                    for (ptrdiff_t c = 0; c < w; c++)
                        for (ptrdiff_t k = 0; k < np_; k++) yi[c * np_ + k] = yr[k * SW + c];
                    yr = yi;
                }
                if (stream)
                    store_row_stream(o + (size_t)i * orow, yr, kind, w * np_);
                else
                    store_row(o + (size_t)i * orow, yr, kind, w * np_);
            }
        }
    }
#if HAVE_MASKED
    if (stream) _mm_sfence(); /* the streamed stores seen before the caller's next ones */
#endif
    free(ring);
    free(rows);
    return status;
}

/* Output rows r0..r1 (of L0 x L1; the image n0 x n1): 0 done, 1 a NaN/Inf in the image, -1 no
 * memory, 2 (mode 2 only) not computed. mode 0: the double loop; 1: sep2_f32 where it is taken,
 * else the double loop; 2: sep2_f32 only, every output near a half-integer computed exactly
 * however many (tests). out_bytes: the whole output's size (sep2_stream). */
static int bridge_sep2(void *out, const void *image, int kind, ptrdiff_t n1, ptrdiff_t L1,
                       ptrdiff_t np_, const long long *rowidx, const long long *colidx,
                       ptrdiff_t mid, const double *f1, ptrdiff_t q1, const double *f0,
                       ptrdiff_t q0, double fill, ptrdiff_t r0, ptrdiff_t r1, int mode,
                       ptrdiff_t out_bytes) {
    if (mode != 0) {
        const int s = sep2_f32(out, image, kind, n1, L1, np_, rowidx, colidx, mid, f1, q1, f0,
                               q0, fill, r0, r1, mode == 2);
        if (s != 2 || mode == 2) return s;
    }
    const int stream = (kind == K_F64 || kind == K_F32) &&
                       (sep2_stream < 0 ? out_bytes >= SEP2_STREAM_BYTES : sep2_stream);
    return sep2_f64(out, image, kind, n1, L1, np_, rowidx, colidx, mid, f1, q1, f0, q0, fill, r0,
                    r1, stream);
}

static PyObject *py_sep2(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    /* sep2(out, image, kind, rowidx, colidx, mid, f1, f0, fill, r0, r1, mode=1) */
    if (nargs != 11 && nargs != 12) {
        PyErr_SetString(PyExc_TypeError, "sep2 takes 11 or 12 arguments");
        return NULL;
    }
    ptrdiff_t mode = nargs == 12 ? PyNumber_AsSsize_t(args[11], PyExc_OverflowError) : 1;
    ptrdiff_t kind = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    ptrdiff_t mid = PyNumber_AsSsize_t(args[5], PyExc_OverflowError);
    double fill = PyFloat_AsDouble(args[8]);
    ptrdiff_t r0 = PyNumber_AsSsize_t(args[9], PyExc_OverflowError);
    ptrdiff_t r1 = PyNumber_AsSsize_t(args[10], PyExc_OverflowError);
    if (PyErr_Occurred()) return NULL;
    if (kind < 0 || kind > K_BOOL || mode < 0 || mode > 2) {
        PyErr_SetString(PyExc_ValueError, "sep2: unknown kind or mode");
        return NULL;
    }
    Py_buffer b[6];
    const int writable[6] = {1, 0, 0, 0, 0, 0};
    PyObject *const objs[6] = {args[0], args[1], args[3], args[4], args[6], args[7]};
    int got = 0;
    PyObject *result = NULL;
    for (; got < 6; got++)
        if (PyObject_GetBuffer(objs[got], &b[got],
                               PyBUF_C_CONTIGUOUS | PyBUF_FORMAT |
                                   (writable[got] ? PyBUF_WRITABLE : 0)) < 0)
            goto done;
    {
        const Py_buffer *bo = &b[0], *bi = &b[1], *br = &b[2], *bc = &b[3], *b1 = &b[4],
                        *b0 = &b[5];
        const size_t isz = KIND_SIZE[kind];
        const ptrdiff_t planes = bi->ndim == 3 ? bi->shape[2] : 1;
        if (bo->ndim != bi->ndim || bi->ndim < 2 || bi->ndim > 3 ||
            (bo->ndim == 3 && bo->shape[2] != planes) || planes < 1 ||
            bo->itemsize != (Py_ssize_t)isz ||
            bi->itemsize != (Py_ssize_t)isz || br->itemsize != 8 || bc->itemsize != 8 ||
            kind_of(b1) != 'd' || kind_of(b0) != 'd') {
            PyErr_SetString(PyExc_ValueError, "sep2: arrays of the wrong kind");
            goto done;
        }
        const ptrdiff_t L0 = bo->shape[0], L1 = bo->shape[1], n0 = bi->shape[0],
                        n1 = bi->shape[1];
        const ptrdiff_t q1 = b1->len / 8, q0 = b0->len / 8;
        const ptrdiff_t nr = br->len / 8, nc = bc->len / 8;
        const long long *ri = br->buf, *ci = bc->buf;
        int ok = q0 >= 1 && q1 >= 1 && nr == L0 + q0 - 1 && nc == L1 + q1 - 1 && mid >= 0 &&
                 mid + n1 <= nc && 0 <= r0 && r0 <= r1 && r1 <= L0 && n0 >= 1 && n1 >= 1;
        for (ptrdiff_t i = 0; ok && i < nr; i++) ok = ri[i] >= -1 && ri[i] < n0;
        for (ptrdiff_t i = 0; ok && i < nc; i++) ok = ci[i] >= -1 && ci[i] < n1;
        for (ptrdiff_t i = 0; ok && i < n1; i++) ok = ci[mid + i] == i;
        if (!ok) {
            PyErr_SetString(PyExc_ValueError, "sep2: shapes or indices do not match");
            goto done;
        }
        int status = 0;
        if (r0 < r1) {
            Py_BEGIN_ALLOW_THREADS
            status = bridge_sep2(bo->buf, bi->buf, (int)kind, n1, L1, planes, ri, ci, mid,
                                 b1->buf, q1, b0->buf, q0, fill, r0, r1, (int)mode,
                                 (ptrdiff_t)bo->len);
            Py_END_ALLOW_THREADS
        }
        result = status < 0 ? PyErr_NoMemory() : PyBool_FromLong(status);
    }
done:
    for (int k = 0; k < got; k++) PyBuffer_Release(&b[k]);
    return result;
}

/* ---- nonsep2: imfilter's one direct pass of a non-separable kernel, fused -------------------
 * For output rows r0..r1 of a 2-D image (or of each plane of a 3-D one whose planes are
 * interleaved), without the padded copy, the double copy of the image or the separate rounding
 * pass:
 *
 *     y[r, c] = 0 + P[r + ta[0], c + tb[0]] * tw[0] + P[r + ta[1], c + tb[1]] * tw[1] + ...
 *
 * over the nt taps in the order given (the caller lists the direct loop's order: the kernel's
 * taps in index order, zero taps left out), P the padded image in double read through rowidx
 * and colidx as sep2 reads it. Each product is rounded, then added to a sum that starts from
 * +0, so the bits are those of the direct loop on the padded array where the image is finite;
 * where it holds NaN or Inf the call returns 1 (the caller computes the old way). y goes to out
 * (the image's class) as sep2 converts it.
 *
 * Two output rows r, r + 1 are summed at once where their taps share positions (pair_steps):
 * step s loads P[r + srow[s], c + scol[s]] once and adds its product with sw[2s] to row r's
 * sum (skind[s] 0 or 1) and with sw[2s + 1] to row r + 1's (skind 0 or 2); the steps are the
 * union of the two rows' taps, each row's in its own order, so the sums are the same. The
 * rows of P live in a ring of q0 + 1 rows per plane and strip of columns (a band of outputs
 * reloads the q0 rows it shares with the band before, a strip the q1 - 1 columns it shares),
 * in L1 cache while they are read. */
/* The body of tap_sum and of its float32 twin tap_sum_f32 (below): PRE is CONTRACT for the
 * float32 sums, which may fuse multiply-adds, and empty for double's, which may not. */
#define TAP_SUM(PRE, ATTR, NAME, T, VT, NV)                                                        \
PRE ATTR static void NAME(T *restrict y, const T *const *at, const T *restrict tw, ptrdiff_t nt,   \
                          ptrdiff_t n) {                                                           \
    enum { W = sizeof(VT) / sizeof(T), BLOCK = NV * W };                                           \
    ptrdiff_t c = 0;                                                                               \
    for (; c + BLOCK <= n; c += BLOCK) {                                                           \
        VT acc[NV];                                                                                \
        for (int v = 0; v < NV; v++) acc[v] = (VT){0};                                             \
        for (ptrdiff_t t = 0; t < nt; t++) {                                                       \
            const T *x = at[t] + c;                                                                \
            const T w = tw[t];                                                                     \
            for (int v = 0; v < NV; v++) acc[v] = acc[v] + LOAD(VT, x + v * W) * w;               \
        }                                                                                          \
        for (int v = 0; v < NV; v++) STORE(y + c + v * W, acc[v]);                                 \
    }                                                                                              \
    for (; c < n; c++) {                                                                           \
        T a = 0;                                                                                   \
        for (ptrdiff_t t = 0; t < nt; t++) a = a + at[t][c] * tw[t];                               \
        y[c] = a;                                                                                  \
    }                                                                                              \
}
#define DEFINE_TAP_SUM(SUF, VD, VFL, VI, ATTR) TAP_SUM(, ATTR, tap_sum##SUF, double, VD, VECTORS)
SIMD_WIDTHS(DEFINE_TAP_SUM)
#define tap_sum(...) SIMD_CALL(tap_sum, __VA_ARGS__)

/* ---- single images through fused multiply-adds ------------------------------------------------
 * A single image is filtered in double and each output rounded to single at the store
 * (MATLAB's rule): bridge_nonsep2's sum S, then (float)S. Summed with fused multiply-adds (one
 * rounding per tap instead of two; only at the 64- and 32-byte widths, on processors with FMA,
 * for kernels of FMA_DIRECT_TAPS taps or more), the same taps in the same order give S' with
 * |S' - S| <= B, B an a-priori bound per output row from the largest |value| M of the padded
 * rows it reads and the taps (single_bound). Rounding
 * to single is monotone, so where (float)(S' - B) and (float)(S' + B) (each difference rounded
 * to a double: to the nearest, so at or beyond the last double within B of S' - no double
 * between S' - B and S' + B escapes) have the same bits, every double within B of S', S among
 * them, rounds to those bits, and they are stored. That covers the midpoints between singles
 * at every scale (the spacing halving below a power of two, the subnormals' fixed spacing, the
 * overflow to Inf at the midpoint beyond the largest single) and the sign of a zero (-0 and +0
 * differ in bits: a sum straddling 0 is recomputed). The others are recomputed as the double
 * loop sums them (exact_direct_one) and stored. The bits are the double loop's for
 * every input; where too many outputs are recomputed (a zero-sum kernel on a flat region: sums
 * near 0, where B is wide against the spacing of singles) the strip is redone by the double
 * loop, and so is the rest of the call, so the time stays bounded. */

/* The kernels that pay (BENCHMARKS.md): of at least this many taps, at 64 and 32 bytes. Not
 * sep2's passes: their sums gained less than the bound's check and the largest values cost. */
#define FMA_DIRECT_TAPS 36
#define FMA_DIRECT_TAPS_32 64
#if HAVE_MASKED
#define FMA_WIDTHS(DEFINE)                                                                        \
    DEFINE(_64, vec_f64, vec_f32, vec_i32x16, AVX512)                                             \
    DEFINE(_32, vec32_f64, vec32_f32, vec32_i32, __attribute__((target("avx2,fma"))))
#define FMA_CALL(NAME, ...)                                                                       \
    (simd_width() == 64 ? NAME##_64(__VA_ARGS__) : NAME##_32(__VA_ARGS__))
#else /* never called (single_fma is 0): the one build's, for the calls to compile */
#define FMA_WIDTHS(DEFINE) SIMD_WIDTHS(DEFINE)
#define FMA_CALL(NAME, ...) NAME##_1(__VA_ARGS__)
#endif

/* Whether the fused multiply-adds run here (mode as nonsep2's, 3: forced; taps the kernel's
 * count, S their absolute sum): 2 forced, 1 with the fallback, 0 the double loop. Not at 16
 * bytes, nor where the sums could overflow double (the bound assumes they do not). */
static int single_fma(int mode, ptrdiff_t taps, double S) {
    if (mode != 1 && mode != 3) return 0;
    int ok = S < 0x1p800;
#if HAVE_MASKED
    __builtin_cpu_init();
    ok = ok && simd_width() >= 32 && __builtin_cpu_supports("fma");
#else
    ok = 0;
#endif
    if (!ok) return 0;
    return mode == 3 ? 2 : taps >= (simd_width() == 64 ? FMA_DIRECT_TAPS : FMA_DIRECT_TAPS_32);
}

static double abs_sum(const double *f, ptrdiff_t q) {
    double s = 0;
    for (ptrdiff_t j = 0; j < q; j++) s += f[j] < 0 ? -f[j] : f[j];
    return s;
}

/* B with |S' - S| <= B for the sums of nt taps of absolute sum S, |values| <= M: with
 * d = 2^-53 and gamma_n = n d / (1 - n d), each way |sum - exact| <= gamma_nt M S (nt products
 * summed from 0 are nt roundings at most, fused or not), so |S' - S| <= 2 gamma_nt M S = M K;
 * results below double's normal range add at most 2^-1075 per product each way: Eu, counted
 * four times over (none where M = 0: every product is then 0). B = (M K + Eu) (1 + 2^-20), the
 * factor covering the rounding of this computation (K's own and the rest). single_bound sets
 * K and Eu once a call, bound_of gives B for M. */
typedef struct {
    double K, Eu;
} bound_t;

static bound_t single_bound(double S, ptrdiff_t nt) {
    bound_t b;
    b.K = 2 * gamma_n(nt, 0x1p-53) * S * (1 + 0x1p-20);
    b.Eu = (double)nt * 0x1p-1072;
    return b;
}

/* B for the largest |value| among the n of ring_max (the rows' abs_max). */
static inline double bound_of(bound_t b, const double *ring_max, ptrdiff_t n) {
    double M = 0;
    for (ptrdiff_t i = 0; i < n; i++) M = ring_max[i] > M ? ring_max[i] : M;
    return M == 0 ? 0 : (M * b.K + b.Eu) * (1 + 0x1p-20);
}

/* The sums with fused multiply-adds: out[c] = 0 + LINE(0)[c] * f[0] + ... for c < n, as
 * tap_sum, FMA_NV vectors a block (a fused multiply-add waits for the one before in its lane:
 * twice the double loop's sums in flight keep both units busy). */
#define FMA_NV 8
#define FMA_BLOCK(VT, NV, out, LINE)                                                               \
    for (; c + (NV) * W <= n; c += (NV) * W) {                                                     \
        VT acc[NV];                                                                                \
        for (int v = 0; v < (NV); v++) acc[v] = (VT){0};                                           \
        for (ptrdiff_t j = 0; j < q; j++) {                                                        \
            const double *x = LINE(j) + c;                                                         \
            const double w = f[j];                                                                 \
            for (int v = 0; v < (NV); v++) acc[v] = acc[v] + LOAD(VT, x + v * W) * w;             \
        }                                                                                          \
        for (int v = 0; v < (NV); v++) STORE(out + c + v * W, acc[v]);                             \
    }
#define FMA_SUM(VT, out, LINE)                                                                     \
    enum { W = sizeof(VT) / sizeof(double) };                                                      \
    ptrdiff_t c = 0;                                                                               \
    FMA_BLOCK(VT, FMA_NV, out, LINE)                                                               \
    FMA_BLOCK(VT, FMA_NV / 2, out, LINE)                                                           \
    FMA_BLOCK(VT, 1, out, LINE)                                                                    \
    for (; c < n; c++) {                                                                           \
        double a = 0;                                                                              \
        for (ptrdiff_t j = 0; j < q; j++) a = a + LINE(j)[c] * f[j];                               \
        out[c] = a;                                                                                \
    }
#define TAP_LINE(j) (at[j])
#define DEFINE_FMA_PASSES(SUF, VD, VFL, VI, ATTR)                                                  \
CONTRACT ATTR static void tap_sum_fma##SUF(double *restrict y, const double *const *at,            \
                                           const double *restrict f, ptrdiff_t q, ptrdiff_t n) {   \
    FMA_SUM(VD, y, TAP_LINE)                                                                       \
}                                                                                                  \
/* the largest |x[i]|, i < n (NaN: one; the loops discard the rows then), by the bits: those of  \
   doubles without their signs are in the order of the magnitudes, and an integer maximum is a  \
   vector loop */                                                                                 \
ATTR static double abs_max##SUF(const double *restrict x, ptrdiff_t n) {                           \
    unsigned long long m = 0;                                                                      \
    for (ptrdiff_t i = 0; i < n; i++) {                                                            \
        unsigned long long b;                                                                      \
        memcpy(&b, x + i, sizeof b);                                                               \
        b &= 0x7fffffffffffffffull;                                                                \
        m = b > m ? b : m;                                                                         \
    }                                                                                              \
    double a;                                                                                      \
    memcpy(&a, &m, sizeof a);                                                                      \
    return a;                                                                                      \
}                                                                                                  \
/* The n sums S' (y) stored to d as singles where S' - B and S' + B round alike (see above);    \
 * the indices of the others go to miss. Returns how many. */                                    \
ATTR static ptrdiff_t store_single##SUF(float *restrict d, const double *restrict y, ptrdiff_t n, \
                                        double B, int *restrict miss) {                           \
    enum { W = sizeof(VD) / sizeof(double) };                                                      \
    typedef float VS __attribute__((vector_size(sizeof(VD) / 2)));                                 \
    typedef int VB __attribute__((vector_size(sizeof(VD) / 2)));                                   \
    VB differ = {0};                                                                               \
    ptrdiff_t i = 0;                                                                               \
    for (; i + W <= n; i += W) {                                                                   \
        const VD v = LOAD(VD, y + i);                                                              \
        const VS a = __builtin_convertvector(v - B, VS), b = __builtin_convertvector(v + B, VS);  \
        STORE(d + i, a);                                                                           \
        differ |= (VB)a ^ (VB)b;                                                                   \
    }                                                                                              \
    int any = 0;                                                                                   \
    for (int v = 0; v < W; v++) any |= differ[v];                                                  \
    for (; i < n; i++) {                                                                           \
        const float a = (float)(y[i] - B), b = (float)(y[i] + B);                                  \
        d[i] = a;                                                                                  \
        any |= memcmp(&a, &b, sizeof a) != 0;                                                      \
    }                                                                                              \
    ptrdiff_t nm = 0;                                                                              \
    for (i = 0; any && i < n; i++) { /* rare: found again one by one */                            \
        const float a = (float)(y[i] - B), b = (float)(y[i] + B);                                  \
        if (memcmp(&a, &b, sizeof a) != 0) miss[nm++] = (int)i;                                    \
    }                                                                                              \
    return nm;                                                                                     \
}
FMA_WIDTHS(DEFINE_FMA_PASSES)
#define tap_sum_fma(...) FMA_CALL(tap_sum_fma, __VA_ARGS__)
#define abs_max(...) FMA_CALL(abs_max, __VA_ARGS__)
#define store_single(...) FMA_CALL(store_single, __VA_ARGS__)

/* recomputations allowed before a strip is redone by the double loop, in products: a start,
 * then FMA_BUDGET per output (a recomputed product costs about 30 times a vector one) */
#define FMA_START 16384.0
#define FMA_BUDGET 0.25

/* The steps of two output rows at once (see above): the positions row r's taps read, (ta, tb),
 * and row r + 1's, (ta + 1, tb), merged in an order of positions (by rows, or by columns) in
 * which the taps are listed, so that each row keeps its taps' order. Returns their number, or 0
 * where the taps follow neither order or no position is shared (then one row at a time). */
static ptrdiff_t pair_steps(const long long *ta, const long long *tb, const double *tw,
                            ptrdiff_t nt, ptrdiff_t q0, ptrdiff_t q1, long long *steps,
                            double *sw) {
    if (q0 < 2 || nt < 2) return 0;
    for (int by_rows = 1; by_rows >= 0; by_rows--) {
#define KEY(r, c) (by_rows ? (r) * q1 + (c) : (c) * (q0 + 1) + (r))
        int sorted = 1;
        for (ptrdiff_t t = 1; t < nt && sorted; t++)
            sorted = KEY(ta[t], tb[t]) < KEY(ta[t - 1], tb[t - 1]);
        if (!sorted) continue;
        ptrdiff_t i = 0, j = 0, n = 0;
        while (i < nt || j < nt) {
            const long long ka = i < nt ? KEY(ta[i], tb[i]) : -1;
            const long long kb = j < nt ? KEY(ta[j] + 1, tb[j]) : -1;
            const int kind = ka == kb ? 0 : ka > kb ? 1 : 2;
            steps[3 * n] = kind == 2 ? ta[j] + 1 : ta[i];
            steps[3 * n + 1] = kind == 2 ? tb[j] : tb[i];
            steps[3 * n + 2] = kind;
            sw[2 * n] = kind == 2 ? 0.0 : tw[i];
            sw[2 * n + 1] = kind == 1 ? 0.0 : tw[j];
            i += kind != 2;
            j += kind != 1;
            n++;
        }
#undef KEY
        return n < 2 * nt ? n : 0;
    }
    return 0;
}

/* y0[c], y1[c]: the two rows' sums of the steps (see above) for c < n. */
#define PAIR_SUM(PRE, ATTR, NAME, VD)                                                              \
PRE ATTR static void NAME(double *restrict y0, double *restrict y1, const double *const *at,       \
                            const double *restrict sw, const long long *skind, ptrdiff_t ns,       \
                            ptrdiff_t n) {                                                         \
    enum { W = sizeof(VD) / sizeof(double), BLOCK = VECTORS * W };                                 \
    ptrdiff_t c = 0;                                                                               \
    for (; c + BLOCK <= n; c += BLOCK) {                                                           \
        VD a[VECTORS], b[VECTORS];                                                                 \
        for (int v = 0; v < VECTORS; v++) a[v] = b[v] = (VD){0};                                   \
        for (ptrdiff_t s = 0; s < ns; s++) {                                                       \
            const double *x = at[s] + c;                                                           \
            const double wa = sw[2 * s], wb = sw[2 * s + 1];                                       \
            switch (skind[s]) {                                                                    \
            case 0:                                                                                \
                for (int v = 0; v < VECTORS; v++) {                                                \
                    const VD xv = LOAD(VD, x + v * W);                                             \
                    a[v] = a[v] + xv * wa;                                                         \
                    b[v] = b[v] + xv * wb;                                                         \
                }                                                                                  \
                break;                                                                             \
            case 1:                                                                                \
                for (int v = 0; v < VECTORS; v++) a[v] = a[v] + LOAD(VD, x + v * W) * wa;          \
                break;                                                                             \
            default:                                                                               \
                for (int v = 0; v < VECTORS; v++) b[v] = b[v] + LOAD(VD, x + v * W) * wb;          \
            }                                                                                      \
        }                                                                                          \
        for (int v = 0; v < VECTORS; v++) {                                                        \
            STORE(y0 + c + v * W, a[v]);                                                           \
            STORE(y1 + c + v * W, b[v]);                                                           \
        }                                                                                          \
    }                                                                                              \
    for (; c < n; c++) {                                                                           \
        double a = 0, b = 0;                                                                       \
        for (ptrdiff_t s = 0; s < ns; s++) {                                                       \
            if (skind[s] != 2) a = a + at[s][c] * sw[2 * s];                                       \
            if (skind[s] != 1) b = b + at[s][c] * sw[2 * s + 1];                                   \
        }                                                                                          \
        y0[c] = a;                                                                                 \
        y1[c] = b;                                                                                 \
    }                                                                                              \
}
#define DEFINE_PAIR_SUM(SUF, VD, VFL, VI, ATTR) PAIR_SUM(, ATTR, pair_sum##SUF, VD)
SIMD_WIDTHS(DEFINE_PAIR_SUM)
#define pair_sum(...) SIMD_CALL(pair_sum, __VA_ARGS__)
/* pair_sum with fused multiply-adds, for single images (see above): its VECTORS vectors of
 * two rows are as many sums in flight as tap_sum_fma's FMA_NV */
#define DEFINE_PAIR_SUM_FMA(SUF, VD, VFL, VI, ATTR) PAIR_SUM(CONTRACT, ATTR, pair_sum_fma##SUF, VD)
FMA_WIDTHS(DEFINE_PAIR_SUM_FMA)
#define pair_sum_fma(...) FMA_CALL(pair_sum_fma, __VA_ARGS__)

/* Four output rows at once with fused multiply-adds (single images): step s loads the padded
 * values at at[s] once and adds their products with qw[4s + i] to row i's sums (y + i stride),
 * a weight 0 where row i has no tap there. The steps are every position the four rows' taps
 * read; a product with 0 adds an exact zero, and the order of the terms does not matter to the
 * bound (see above), so the sums are within B of the double loop's. Each load serves four
 * fused multiply-adds, twice pair_sum's: the double loop is bound by its loads, these by the
 * multiply-adds. */
#define QUAD_BLOCK(VD, NV)                                                                         \
    for (; c + (NV) * W <= n; c += (NV) * W) {                                                     \
        VD a0[NV], a1[NV], a2[NV], a3[NV];                                                         \
        for (int v = 0; v < (NV); v++) a0[v] = a1[v] = a2[v] = a3[v] = (VD){0};                    \
        for (ptrdiff_t s = 0; s < ns; s++) {                                                       \
            const double *x = at[s] + c, *wq = qw + 4 * s;                                         \
            const double w0 = wq[0], w1 = wq[1], w2 = wq[2], w3 = wq[3];                           \
            for (int v = 0; v < (NV); v++) {                                                       \
                const VD xv = LOAD(VD, x + v * W);                                                 \
                a0[v] = a0[v] + xv * w0;                                                           \
                a1[v] = a1[v] + xv * w1;                                                           \
                a2[v] = a2[v] + xv * w2;                                                           \
                a3[v] = a3[v] + xv * w3;                                                           \
            }                                                                                      \
        }                                                                                          \
        for (int v = 0; v < (NV); v++) {                                                           \
            STORE(y + c + v * W, a0[v]);                                                           \
            STORE(y + stride + c + v * W, a1[v]);                                                  \
            STORE(y + 2 * stride + c + v * W, a2[v]);                                              \
            STORE(y + 3 * stride + c + v * W, a3[v]);                                              \
        }                                                                                          \
    }
#define DEFINE_QUAD_SUM_FMA(SUF, VD, VFL, VI, ATTR)                                                \
CONTRACT ATTR static void quad_sum_fma##SUF(double *restrict y, ptrdiff_t stride,                  \
                                            const double *const *at, const double *restrict qw,    \
                                            ptrdiff_t ns, ptrdiff_t n) {                           \
    enum { W = sizeof(VD) / sizeof(double) };                                                      \
    ptrdiff_t c = 0;                                                                               \
    QUAD_BLOCK(VD, W == 8 ? 3 : 2) /* 32 registers of AVX-512 hold 12 sums, 16 of AVX2 8 */ \
    QUAD_BLOCK(VD, 1)                                                                              \
    for (; c < n; c++) {                                                                           \
        double a[4] = {0, 0, 0, 0};                                                                \
        for (ptrdiff_t s = 0; s < ns; s++)                                                         \
            for (int i = 0; i < 4; i++) a[i] = a[i] + at[s][c] * qw[4 * s + i];                   \
        for (int i = 0; i < 4; i++) y[i * stride + c] = a[i];                                      \
    }                                                                                              \
}
FMA_WIDTHS(DEFINE_QUAD_SUM_FMA)
#define quad_sum_fma(...) FMA_CALL(quad_sum_fma, __VA_ARGS__)

/* quad_sum_fma's steps of the taps (ta, tb, tw): positions (row, column) into qstep, the four
 * rows' weights into qw; returns their number (0: a position listed twice, not taken). */
static ptrdiff_t quad_steps(const long long *ta, const long long *tb, const double *tw,
                            ptrdiff_t nt, ptrdiff_t q0, ptrdiff_t q1, long long *qstep,
                            double *qw, double *grid) {
    for (ptrdiff_t i = 0; i < q0 * q1; i++) grid[i] = 0;
    for (ptrdiff_t t = 0; t < nt; t++) {
        if (grid[ta[t] * q1 + tb[t]] != 0) return 0;
        grid[ta[t] * q1 + tb[t]] = tw[t];
    }
    ptrdiff_t n = 0;
    for (ptrdiff_t a = 0; a < q0 + 3; a++)
        for (ptrdiff_t b = 0; b < q1; b++) {
            int any = 0;
            for (ptrdiff_t i = 0; i < 4; i++) {
                const double v = a - i >= 0 && a - i < q0 ? grid[(a - i) * q1 + b] : 0.0;
                qw[4 * n + i] = v;
                any |= v != 0;
            }
            if (!any) continue;
            qstep[2 * n] = a, qstep[2 * n + 1] = b;
            n++;
        }
    return n;
}

static double exact_direct_one(const void *image, int kind, ptrdiff_t n1, ptrdiff_t np_,
                               const long long *rowidx, const long long *colidx,
                               const long long *ta, const long long *tb, const double *tw,
                               ptrdiff_t nt, double fill, ptrdiff_t r, ptrdiff_t c, ptrdiff_t k);

/* Output rows r0..r1 (of L0 x L1; the image n0 x n1): 0 done, 1 a NaN/Inf in the image, -1 no
 * memory. fma (single images: single_fma's answer): the sums with fused multiply-adds, each
 * output decided or recomputed by exact_direct_one (see above); 1: a strip that recomputes too
 * many is redone by the double loop, as is the rest of the call. */
static int bridge_nonsep2(void *out, const void *image, int kind, ptrdiff_t n1, ptrdiff_t L1,
                          ptrdiff_t np_, const long long *rowidx, const long long *colidx,
                          ptrdiff_t mid, ptrdiff_t q0, ptrdiff_t q1, const long long *ta,
                          const long long *tb, const double *tw, ptrdiff_t nt, double fill,
                          ptrdiff_t r0, ptrdiff_t r1, int fma) {
    /* no prefetch_strip of the rows ahead (as sep2 has): here it only cost (BENCHMARKS.md) */
    enum { RING_BYTES = 40 << 10, BLOCK = VECTORS * (sizeof(vec_f64) / sizeof(double)) };
    const ptrdiff_t R = q0 + (fma ? 3 : 1); /* rows in the ring: for four output rows, two */
    const ptrdiff_t SW =
        strip_width((ptrdiff_t)(RING_BYTES / sizeof(double)) / (R * np_) - (q1 - 1), BLOCK, L1);
    const size_t isz = KIND_SIZE[kind];
    const ptrdiff_t PW = SW + q1 - 1;
    const ptrdiff_t NQ = fma ? (q0 + 3) * q1 : 0; /* quad_steps' room */
    double *ring = malloc(sizeof(double) * (size_t)(np_ * R * PW + 5 * np_ * SW + 4 * nt +
                                                    2 * np_ * R + 5 * NQ));
    const double **at = malloc(sizeof(double *) * (size_t)(3 * nt + R + NQ));
    long long *steps = malloc(sizeof(long long) * (size_t)(8 * nt + 1 + 2 * NQ));
    int *miss = fma ? malloc(sizeof(int) * (size_t)(np_ * SW)) : NULL;
    if (ring == NULL || at == NULL || steps == NULL || (fma && miss == NULL)) {
        free(ring);
        free(at);
        free(steps);
        free(miss);
        return -1;
    }
    double *sw = ring + np_ * R * PW + 5 * np_ * SW;
    /* fma: the largest |value| of each ring row, and of those an output row reads */
    double *ring_max = sw + 4 * nt, *row_max = ring_max + np_ * R;
    const bound_t bound = single_bound(abs_sum(tw, nt), nt);
    double cost = 0, budget = FMA_START;
    long long *skind = steps + 6 * nt;
    const ptrdiff_t ns = pair_steps(ta, tb, tw, nt, q0, q1, steps, sw);
    for (ptrdiff_t s = 0; s < ns; s++) skind[s] = steps[3 * s + 2];
    const double **at2 = at + nt, **rows = at2 + 2 * nt; /* rows: the padded rows from r on */
    /* fma: four rows at once, by quad_sum_fma's nq steps */
    const double **at4 = rows + R;
    double *qw = row_max + np_ * R;
    long long *qstep = steps + 8 * nt + 1;
    const ptrdiff_t nq =
        fma ? quad_steps(ta, tb, tw, nt, q0, q1, qstep, qw, qw + 4 * NQ) : 0;
    /* the sums of rows r .. r + 3 (planes apart), then one row's interleaved */
    double *y = ring + np_ * R * PW, *yi = y + 4 * np_ * SW;
    int status = 0;
    for (ptrdiff_t c0 = 0; c0 < L1 && status == 0; c0 += SW) {
        const ptrdiff_t w = L1 - c0 < SW ? L1 - c0 : SW, pw = w + q1 - 1;
        /* padded columns c0..c0 + pw; those of the image itself: lo..hi (a ring row's indices) */
        ptrdiff_t lo, hi;
        strip_span(mid, n1, c0, pw, &lo, &hi);
    strip:;
        ptrdiff_t next_p = r0; /* the next padded row to load */
        for (ptrdiff_t r = r0; r < r1 && status == 0;) {
            const int quad = fma && nq > 0 && r + 3 < r1;
            const int pair = !quad && ns > 0 && r + 1 < r1;
            const int g = quad ? 4 : 1 + pair; /* output rows this step */
            for (; next_p < r + q0 + g - 1; next_p++) {
                const ptrdiff_t p = next_p;
                const long long src = rowidx[p];
                for (ptrdiff_t k = 0; k < np_; k++) {
                    /* padded row p's columns of the strip in plane k, to its place in the ring */
                    double *ring_row = ring + (k * R + p % R) * PW;
                    if (load_strip(ring_row, image, kind, src, k, n1, np_, isz, c0, lo, hi, mid,
                                   pw, colidx, fill))
                        status = 1;
                    if (fma) ring_max[k * R + p % R] = abs_max(ring_row, pw);
                }
            }
            /* output rows r (and r + 1) read padded rows r .. r + q0 - 1 (+ 1) */
            char *o = (char *)out + ((size_t)r * (size_t)L1 + (size_t)c0) * (size_t)np_ * isz;
            char *o1 = o + (size_t)L1 * (size_t)np_ * isz;
            const int direct_out = np_ == 1 && kind == K_F64;
            for (ptrdiff_t k = 0; k < np_; k++) {
                for (ptrdiff_t a = 0; a < q0 + g - 1; a++) {
                    rows[a] = ring + (k * R + (r + a) % R) * PW;
                    if (fma) row_max[k * R + a] = ring_max[k * R + (r + a) % R];
                }
                double *y0 = direct_out ? (double *)o : y + k * SW;
                double *y1 = direct_out ? (double *)o1 : y + (np_ + k) * SW;
                if (quad) {
                    for (ptrdiff_t s = 0; s < nq; s++)
                        at4[s] = rows[qstep[2 * s]] + qstep[2 * s + 1];
                    quad_sum_fma(y0, np_ * SW, at4, qw, nq, w);
                } else if (pair) {
                    for (ptrdiff_t s = 0; s < ns; s++)
                        at2[s] = rows[steps[3 * s]] + steps[3 * s + 1];
                    if (fma)
                        pair_sum_fma(y0, y1, at2, sw, skind, ns, w);
                    else
                        pair_sum(y0, y1, at2, sw, skind, ns, w);
                } else {
                    for (ptrdiff_t t = 0; t < nt; t++) at[t] = rows[ta[t]] + tb[t];
                    if (fma)
                        tap_sum_fma(y0, at, tw, nt, w);
                    else
                        tap_sum(y0, at, tw, nt, w);
                }
            }
            if (fma && !status) {
                for (ptrdiff_t k = 0; k < np_; k++) /* the slots of rows not read */
                    for (ptrdiff_t a = q0 + g - 1; a < R; a++) row_max[k * R + a] = 0;
                const double B = bound_of(bound, row_max, np_ * R);
                budget += FMA_BUDGET * (double)(g * w * np_);
                for (int half = 0; half < g; half++) {
                    char *dst = o + (size_t)half * (size_t)L1 * (size_t)np_ * isz;
                    const double *yr = y + half * np_ * SW;
                    if (np_ > 1) {
                        for (ptrdiff_t c = 0; c < w; c++)
                            for (ptrdiff_t k = 0; k < np_; k++) yi[c * np_ + k] = yr[k * SW + c];
                        yr = yi;
                    }
                    const ptrdiff_t m1 = store_single((float *)dst, yr, w * np_, B, miss);
                    cost += (double)m1 * (double)nt;
                    if (cost > budget && fma == 1) {
                        fma = 0; /* this strip again and the rest by the double loop */
                        goto strip;
                    }
                    for (ptrdiff_t m = 0; m < m1; m++) {
                        const ptrdiff_t c = miss[m] / np_, k = miss[m] % np_;
                        ((float *)dst)[miss[m]] =
                            (float)exact_direct_one(image, kind, n1, np_, rowidx, colidx, ta, tb,
                                                    tw, nt, fill, r + half, c0 + c, k);
                    }
                }
            }
            for (int half = 0; half <= pair && !direct_out && !fma; half++) {
                char *dst = half ? o1 : o;
                const double *yr = y + half * np_ * SW;
                if (np_ == 1) {
                    store_row(dst, yr, kind, w);
                } else {
                    for (ptrdiff_t c = 0; c < w; c++)
                        for (ptrdiff_t k = 0; k < np_; k++) yi[c * np_ + k] = yr[k * SW + c];
                    store_row(dst, yi, kind, w * np_);
                }
            }
            r += g;
        }
    }
    free(ring);
    free(at);
    free(steps);
    free(miss);
    return status;
}

/* ---- nonsep2 in float32 for the small integer classes ------------------------------------------
 * As sep2_f32 for the separable passes: for images whose values float32 holds exactly (uint8,
 * int8, logical, uint16, int16), the nt nonzero taps are summed in float32 (twice the lanes,
 * fused multiply-adds allowed) with the taps rounded to float32, giving yf with |yf - y| <= B
 * for the double loop's y. The sum is one pass of nt products, as sep2's row pass is: its
 * bound is f32_bound's with a column pass of the one tap 1 (which only adds to it), and
 * its conditions those of sep2_f32 (taps_f32, a fill exact in float32, B <= 2^-6 and 2 B nt
 * <= 4). store_guarded stores the outputs every number within B of which rounds and saturates
 * alike; the others are recomputed as the double loop sums them (exact_direct_one). */

/* tap_sum in float32: y[c] = 0 + at[0][c] * tw[0] + ... for c < n (fused multiply-adds
 * allowed, as in row_pass_f32). */
#define DEFINE_TAP_SUM_F32(SUF, VD, VFL, VI, ATTR)                                                 \
    TAP_SUM(CONTRACT, ATTR, tap_sum_f32##SUF, float, VFL, VF)
F32_WIDTHS(DEFINE_TAP_SUM_F32)
#define tap_sum_f32(...) F32_CALL(tap_sum_f32, __VA_ARGS__)

/* y of output (r, c) in plane k as the double loop (tap_sum, pair_sum) computes it: 0 + the
 * padded value at (r + ta[t], c + tb[t]) times tw[t], t = 0, 1, ... in order. */
static double exact_direct_one(const void *image, int kind, ptrdiff_t n1, ptrdiff_t np_,
                               const long long *rowidx, const long long *colidx,
                               const long long *ta, const long long *tb, const double *tw,
                               ptrdiff_t nt, double fill, ptrdiff_t r, ptrdiff_t c, ptrdiff_t k) {
    double y = 0;
    for (ptrdiff_t t = 0; t < nt; t++) {
        const long long src = rowidx[r + ta[t]], col = colidx[c + tb[t]];
        const double v = src < 0 || col < 0
                             ? fill
                             : load_one(image, kind,
                                        ((ptrdiff_t)src * n1 + (ptrdiff_t)col) * np_ + k);
        y = y + v * tw[t];
    }
    return y;
}

/* bridge_nonsep2 for the classes of f32_class_max: 0 done, -1 no memory, 2 not taken (as
 * sep2_f32: the rows it wrote are then rewritten by the double loop; unlimited: however many
 * outputs are recomputed). */
static int nonsep2_f32(void *out, const void *image, int kind, ptrdiff_t n1, ptrdiff_t L1,
                       ptrdiff_t np_, const long long *rowidx, const long long *colidx,
                       ptrdiff_t mid, ptrdiff_t q0, ptrdiff_t q1, const long long *ta,
                       const long long *tb, const double *tw, ptrdiff_t nt, double fill,
                       ptrdiff_t r0, ptrdiff_t r1, int unlimited) {
    /* no prefetch_strip, as bridge_nonsep2 */
    enum { RING_BYTES = 24 << 10, BLOCK = VF * (sizeof(vec_f32) / sizeof(float)) };
    double M = f32_class_max(kind);
    const double afill = fill < 0 ? -fill : fill;
    if (M == 0 || !((double)(float)fill == fill) || afill > 0x1p24 || nt < 1) return 2;
    M = afill > M ? afill : M;
    float *g = malloc(sizeof(float) * (size_t)nt);
    if (g == NULL) return -1;
    double S;
    if (!taps_f32(g, tw, nt, &S)) {
        free(g);
        return 2;
    }
    const double one = 1.0;
    const float G = f32_bound(M, tw, nt, &one, 1);
    const float ffill = (float)fill;
    const float lo = kind == K_I8 ? -128.0f : kind == K_I16 ? -32768.0f : 0.0f;
    const float hi = kind == K_U8 ? 255.0f : kind == K_I8 ? 127.0f : kind == K_U16 ? 65535.0f
                     : kind == K_I16 ? 32767.0f : 1.0f;
    /* outputs near a half-integer are about 2 G of all; each costs nt scalar products */
    if (!(G <= 0x1p-6f) || 2.0 * G * (double)nt > 4.0) {
        free(g);
        return 2;
    }
    const ptrdiff_t SW =
        strip_width((ptrdiff_t)(RING_BYTES / sizeof(float)) / (q0 * np_) - (q1 - 1), BLOCK, L1);
    const size_t isz = KIND_SIZE[kind];
    const ptrdiff_t PW = SW + q1 - 1;
    float *ring = malloc(sizeof(float) * (size_t)(np_ * q0 * PW + 2 * np_ * SW));
    const float **at = malloc(sizeof(float *) * (size_t)(nt + q0));
    int *miss = malloc((sizeof(int) + 1) * (size_t)(np_ * SW));
    if (ring == NULL || at == NULL || miss == NULL) {
        free(g);
        free(ring);
        free(at);
        free(miss);
        return -1;
    }
    const float **rows = at + nt;
    float *y = ring + np_ * q0 * PW, *yi = y + np_ * SW;
    int status = 0;
    double budget = 65536, cost = 0;
    for (ptrdiff_t c0 = 0; c0 < L1 && status == 0; c0 += SW) {
        const ptrdiff_t w = L1 - c0 < SW ? L1 - c0 : SW, pw = w + q1 - 1;
        ptrdiff_t lo_c, hi_c;
        strip_span(mid, n1, c0, pw, &lo_c, &hi_c);
        for (ptrdiff_t p = r0; p < r1 + q0 - 1 && status == 0; p++) {
            /* padded row p's strip in each plane, to ring slot p % q0 */
            const long long src = rowidx[p];
            for (ptrdiff_t k = 0; k < np_; k++)
                load_strip_f32(ring + (k * q0 + p % q0) * PW, image, kind, src, k, n1, np_, isz,
                               c0, lo_c, hi_c, mid, pw, colidx, ffill);
            if (p < r0 + q0 - 1) continue;
            /* output row r reads padded rows r .. r + q0 - 1 */
            const ptrdiff_t r = p - (q0 - 1);
            char *o = (char *)out + ((size_t)r * (size_t)L1 + (size_t)c0) * (size_t)np_ * isz;
            for (ptrdiff_t k = 0; k < np_; k++) {
                ptrdiff_t slot = r % q0;
                for (ptrdiff_t j = 0; j < q0; j++) {
                    rows[j] = ring + (k * q0 + slot) * PW;
                    slot = slot == q0 - 1 ? 0 : slot + 1;
                }
                for (ptrdiff_t t = 0; t < nt; t++) at[t] = rows[ta[t]] + tb[t];
                tap_sum_f32(y + k * SW, at, g, nt, w);
            }
            const float *yo = y;
            if (np_ > 1) {
                for (ptrdiff_t c = 0; c < w; c++)
                    for (ptrdiff_t k = 0; k < np_; k++) yi[c * np_ + k] = y[k * SW + c];
                yo = yi;
            }
            const ptrdiff_t nm = store_guarded(o, yo, kind, w * np_, G, lo, hi,
                                               (unsigned char *)(miss + np_ * SW), miss);
            for (ptrdiff_t m = 0; m < nm; m++) {
                const ptrdiff_t c = miss[m] / np_, k = miss[m] % np_;
                const double v = exact_direct_one(image, kind, n1, np_, rowidx, colidx, ta, tb,
                                                  tw, nt, fill, r, c0 + c, k);
                put_recomputed(o, kind, miss[m], v, lo, hi);
            }
            cost += (double)nm * (double)nt;
            budget += 2.0 * (double)(w * np_);
            if (cost > budget && !unlimited) status = 2;
        }
    }
    free(g);
    free(ring);
    free(at);
    free(miss);
    return status;
}

static PyObject *py_nonsep2(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    /* nonsep2(out, image, kind, rowidx, colidx, mid, ta, tb, tw, q0, q1, fill, r0, r1,
     * mode=1): mode as sep2's (0 the double loop; 1 nonsep2_f32 where it is taken, single
     * images' fused multiply-adds where they pay, else the double loop; 2 nonsep2_f32 only,
     * however many outputs it recomputes: tests; 3 the fused multiply-adds only, any kernel,
     * however many outputs they recompute: tests) */
    if (nargs != 14 && nargs != 15) {
        PyErr_SetString(PyExc_TypeError, "nonsep2 takes 14 or 15 arguments");
        return NULL;
    }
    ptrdiff_t mode = nargs == 15 ? PyNumber_AsSsize_t(args[14], PyExc_OverflowError) : 1;
    ptrdiff_t kind = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    ptrdiff_t mid = PyNumber_AsSsize_t(args[5], PyExc_OverflowError);
    ptrdiff_t q0 = PyNumber_AsSsize_t(args[9], PyExc_OverflowError);
    ptrdiff_t q1 = PyNumber_AsSsize_t(args[10], PyExc_OverflowError);
    double fill = PyFloat_AsDouble(args[11]);
    ptrdiff_t r0 = PyNumber_AsSsize_t(args[12], PyExc_OverflowError);
    ptrdiff_t r1 = PyNumber_AsSsize_t(args[13], PyExc_OverflowError);
    if (PyErr_Occurred()) return NULL;
    if (kind < 0 || kind > K_BOOL || mode < 0 || mode > 3) {
        PyErr_SetString(PyExc_ValueError, "nonsep2: unknown kind or mode");
        return NULL;
    }
    enum { NB = 7 };
    Py_buffer b[NB];
    PyObject *const objs[NB] = {args[0], args[1], args[3], args[4], args[6], args[7], args[8]};
    int got = 0;
    PyObject *result = NULL;
    for (; got < NB; got++)
        if (PyObject_GetBuffer(objs[got], &b[got],
                               PyBUF_C_CONTIGUOUS | PyBUF_FORMAT |
                                   (got == 0 ? PyBUF_WRITABLE : 0)) < 0)
            goto done;
    {
        const Py_buffer *bo = &b[0], *bi = &b[1], *br = &b[2], *bc = &b[3], *ba = &b[4],
                        *bb = &b[5], *bw = &b[6];
        const size_t isz = KIND_SIZE[kind];
        const ptrdiff_t planes = bi->ndim == 3 ? bi->shape[2] : 1;
        if (bo->ndim != bi->ndim || bi->ndim < 2 || bi->ndim > 3 ||
            (bo->ndim == 3 && bo->shape[2] != planes) || planes < 1 ||
            bo->itemsize != (Py_ssize_t)isz || bi->itemsize != (Py_ssize_t)isz ||
            br->itemsize != 8 || bc->itemsize != 8 || ba->itemsize != 8 || bb->itemsize != 8 ||
            kind_of(bw) != 'd') {
            PyErr_SetString(PyExc_ValueError, "nonsep2: arrays of the wrong kind");
            goto done;
        }
        const ptrdiff_t L0 = bo->shape[0], L1 = bo->shape[1], n0 = bi->shape[0],
                        n1 = bi->shape[1];
        const ptrdiff_t nt = bw->len / 8, nr = br->len / 8, nc = bc->len / 8;
        const long long *ri = br->buf, *ci = bc->buf, *ta = ba->buf, *tb = bb->buf;
        int ok = q0 >= 1 && q1 >= 1 && ba->len / 8 == nt && bb->len / 8 == nt &&
                 nr == L0 + q0 - 1 && nc == L1 + q1 - 1 && mid >= 0 && mid + n1 <= nc &&
                 0 <= r0 && r0 <= r1 && r1 <= L0 && n0 >= 1 && n1 >= 1;
        for (ptrdiff_t i = 0; ok && i < nr; i++) ok = ri[i] >= -1 && ri[i] < n0;
        for (ptrdiff_t i = 0; ok && i < nc; i++) ok = ci[i] >= -1 && ci[i] < n1;
        for (ptrdiff_t i = 0; ok && i < n1; i++) ok = ci[mid + i] == i;
        for (ptrdiff_t t = 0; ok && t < nt; t++)
            ok = ta[t] >= 0 && ta[t] < q0 && tb[t] >= 0 && tb[t] < q1;
        if (!ok) {
            PyErr_SetString(PyExc_ValueError, "nonsep2: shapes or indices do not match");
            goto done;
        }
        int status = 0;
        if (r0 < r1) {
            Py_BEGIN_ALLOW_THREADS
            /* single images: fused multiply-adds where they pay (mode 3: forced) */
            const int fma = kind == K_F32 ? single_fma((int)mode, nt, abs_sum(bw->buf, nt)) : 0;
            status = mode == 0 || mode == 3 || fma
                         ? 2
                         : nonsep2_f32(bo->buf, bi->buf, (int)kind, n1, L1, planes, ri, ci, mid,
                                       q0, q1, ta, tb, bw->buf, nt, fill, r0, r1, mode == 2);
            if (status == 2 && mode != 2 && (mode != 3 || fma))
                status = bridge_nonsep2(bo->buf, bi->buf, (int)kind, n1, L1, planes, ri, ci, mid,
                                        q0, q1, ta, tb, bw->buf, nt, fill, r0, r1, fma);
            Py_END_ALLOW_THREADS
        }
        result = status < 0 ? PyErr_NoMemory() : PyBool_FromLong(status);
    }
done:
    for (int k = 0; k < got; k++) PyBuffer_Release(&b[k]);
    return result;
}

/* store(out, y, kind, reference=False): y (1-D float64) converted to out (1-D, the class of
 * kind, as long) by store_row, or by store_row_ref (reference). For tests. */
static PyObject *py_store(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs < 3 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "store takes 3 or 4 arguments");
        return NULL;
    }
    const long kind = PyLong_AsLong(args[2]);
    if (kind == -1 && PyErr_Occurred()) return NULL;
    const int ref = nargs == 4 ? PyObject_IsTrue(args[3]) : 0;
    if (ref < 0) return NULL;
    if (kind < K_F64 || kind > K_BOOL) {
        PyErr_SetString(PyExc_ValueError, "store: unknown kind");
        return NULL;
    }
    Py_buffer o, y;
    if (PyObject_GetBuffer(args[0], &o, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &y, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&o);
        return NULL;
    }
    const ptrdiff_t n = y.len / 8;
    if (kind_of(&y) != 'd' || o.len != n * (ptrdiff_t)KIND_SIZE[kind]) {
        PyBuffer_Release(&o);
        PyBuffer_Release(&y);
        PyErr_SetString(PyExc_ValueError, "store: y must be float64, out as long in kind's class");
        return NULL;
    }
    (ref ? store_row_ref : store_row)(o.buf, y.buf, (int)kind, n);
    PyBuffer_Release(&o);
    PyBuffer_Release(&y);
    Py_RETURN_NONE;
}

/* ---- flat: the defining sum over a flattened, zero-gapped operand ---------------------------
 * out[m] = 0 + x[m + off[0]] * w[0] + x[m + off[1]] * w[1] + ... for m in m0..m1, the taps in
 * the order given, each product rounded, then added (no fused multiply-add): the sums of the
 * direct loop above, for an operand of any number of dimensions laid out by the caller
 * (method_direct._flat_nd) with zeros wherever a tap would reach outside it, so every output
 * is one long line of blocks with no edges. Blocks of FLAT_VECTORS vectors summed in
 * registers over every tap; where the range does not end on a block, the last block ends at
 * m1 and overlaps the one before (outputs summed twice, alike); a range shorter than a block,
 * one output at a time. With a grid, the line's places are those of an array of shape P
 * (grid[0..nd]) and out is the part of it of shape L (grid[nd..2nd], C order): each block's
 * sums go to the places inside L, the others (the gaps between the rows) are dropped. With a
 * distance D (64-byte vectors; D at least a block), the line goes in stripes of 2D places, each
 * block of a stripe's first D summed together with the block D places on (a step of the pairs'
 * program, flat_pairs): where the two blocks' next runs read the same places (the kernel's
 * taps a slab of an axis apart, D its stride), each vector loaded or shifted serves both; each
 * sum still takes every tap in the order given. The rest of the line, block by block. */
#define FLAT_VECTORS 8
#define FLAT_MAXD 64

/* c: the place m of the line as an index of the grid's P (axis 0 unbounded) */
static void flat_coords(ptrdiff_t *c, ptrdiff_t m, int nd, const ptrdiff_t *P) {
    for (int d = nd - 1; d >= 1; d--) {
        c[d] = m % P[d];
        m /= P[d];
    }
    c[0] = m;
}

/* count sums of the line from the place c (flat_coords) on to their places in out (see flat);
 * c left at the place after them. Each run of places to a row's end goes to out's row where
 * the row lies inside L; the row's place in out and whether it lies inside are worked out
 * again only where the index of an axis before the row's changes. */
static void put_runs(char *restrict out, const char *restrict sums, size_t item, ptrdiff_t *c,
                     ptrdiff_t count, int nd, const ptrdiff_t *P, const ptrdiff_t *L) {
    const int last = nd - 1, row = nd - 2;
    int outer = 1;     /* the axes before the row's inside L */
    ptrdiff_t at = 0;  /* out's place of the row's first element */
    int fresh = 1;
    for (ptrdiff_t e = 0; e < count;) {
        if (fresh) {
            outer = 1, at = 0;
            for (int d = 0; d < row; d++) outer &= c[d] < L[d], at = at * L[d] + c[d];
            at = (at * L[row] + c[row]) * L[last];
            fresh = 0;
        }
        const ptrdiff_t run = min_p(count - e, P[last] - c[last]); /* to the row's end */
        if (outer && c[row] < L[row] && c[last] < L[last]) {
            const size_t k = (size_t)min_p(run, L[last] - c[last]);
            const size_t dst = (size_t)(at + c[last]) * item, src = (size_t)e * item;
            if (item == 8) { /* short copies, inlined (runs of a few elements) */
                double *to = (double *)(void *)(out + dst);
                const double *from = (const double *)(const void *)(sums + src);
                for (size_t i = 0; i < k; i++) to[i] = from[i];
            } else {
                float *to = (float *)(void *)(out + dst);
                const float *from = (const float *)(const void *)(sums + src);
                for (size_t i = 0; i < k; i++) to[i] = from[i];
            }
        }
        e += run;
        c[last] += run;
        if (c[last] >= P[last]) { /* the next row */
            c[last] = 0;
            c[row]++;
            at += L[last];
            if (c[row] >= P[row]) {
                for (int d = row; d >= 1 && c[d] >= P[d]; d--) c[d] = 0, c[d - 1]++;
                fresh = 1;
            }
        }
    }
}

/* A run of K taps (K <= 8, and at most W) whose offsets fall by one from tap to tap (o, o - 1, ...:
 * a kernel row along the last axis, as convolution reads it) added to the block's sums, each
 * tap in turn. With p = o - (K - 1), the run's lowest offset, tap d reads for the block's vector
 * v the W values from p + m + v * W + s, s = K - 1 - d: lanes s.. of the pair of vectors at
 * p + m + v * W and p + m + (v + 1) * W. So each vector is loaded once and the taps' vectors
 * are shifted out of the pair (one shuffle each) instead of loaded again at offsets of which
 * all but one in W span two cache lines (such loads cost the loop more than the shuffles).
 * The last vector loads its taps, as the pair would read past the run's reach. The same values
 * in the same lanes, multiplied and added in the same order: the same bits. */
#define FLAT_RUN(K, T, V, IOTA) FLAT_RUN_TO(K, T, V, IOTA, acc, t)
#define FLAT_RUN_TO(K, T, V, IOTA, acc, t)                                                        \
    do {                                                                                          \
        const T *xp = xt - (K - 1);                                                               \
        T wk[K];                                                                                  \
        for (int d = 0; d < K; d++) wk[d] = w[t + d];                                             \
        V a = LOAD(V, xp);                                                                        \
        _Pragma("GCC unroll 8") for (int v = 0; v < FLAT_VECTORS - 1; v++) {                      \
            const V b = LOAD(V, xp + (v + 1) * W);                                                \
            _Pragma("GCC unroll 8") for (int d = 0; d < K - 1; d++)                               \
                acc[v] = acc[v] + __builtin_shuffle(a, b, IOTA + (K - 1 - d)) * wk[d];            \
            acc[v] = acc[v] + a * wk[K - 1];                                                      \
            a = b;                                                                                \
        }                                                                                         \
        _Pragma("GCC unroll 8") for (int d = 0; d < K - 1; d++) acc[FLAT_VECTORS - 1] =           \
            acc[FLAT_VECTORS - 1] + LOAD(V, xt + (FLAT_VECTORS - 1) * W - d) * wk[d];             \
        acc[FLAT_VECTORS - 1] = acc[FLAT_VECTORS - 1] + a * wk[K - 1];                            \
    } while (0)

/* The same run summed into two blocks' sums at once: accA with the taps from ta, accB with
 * those from tb, both reading the places from xt (the block at m with taps ta.., the block at
 * m + D with taps tb.. whose offsets are D less): each vector loaded or shifted once serves
 * both, each sum taking its taps in the order FLAT_RUN gives them. */
#define FLAT_RUN2(K, T, V, IOTA)                                                                  \
    do {                                                                                          \
        const T *xp = xt - (K - 1);                                                               \
        T wa[K], wb[K];                                                                           \
        for (int d = 0; d < K; d++) wa[d] = w[ta + d], wb[d] = w[tb + d];                         \
        V a = LOAD(V, xp);                                                                        \
        _Pragma("GCC unroll 8") for (int v = 0; v < FLAT_VECTORS - 1; v++) {                      \
            const V b = LOAD(V, xp + (v + 1) * W);                                                \
            _Pragma("GCC unroll 8") for (int d = 0; d < K - 1; d++) {                             \
                const V sh = __builtin_shuffle(a, b, IOTA + (K - 1 - d));                         \
                accA[v] = accA[v] + sh * wa[d];                                                   \
                accB[v] = accB[v] + sh * wb[d];                                                   \
            }                                                                                     \
            accA[v] = accA[v] + a * wa[K - 1];                                                    \
            accB[v] = accB[v] + a * wb[K - 1];                                                    \
            a = b;                                                                                \
        }                                                                                         \
        _Pragma("GCC unroll 8") for (int d = 0; d < K - 1; d++) {                                 \
            const V ld = LOAD(V, xt + (FLAT_VECTORS - 1) * W - d);                                \
            accA[FLAT_VECTORS - 1] = accA[FLAT_VECTORS - 1] + ld * wa[d];                         \
            accB[FLAT_VECTORS - 1] = accB[FLAT_VECTORS - 1] + ld * wb[d];                         \
        }                                                                                         \
        accA[FLAT_VECTORS - 1] = accA[FLAT_VECTORS - 1] + a * wa[K - 1];                          \
        accB[FLAT_VECTORS - 1] = accB[FLAT_VECTORS - 1] + a * wb[K - 1];                          \
    } while (0)

/* runs 1..8 of FLAT_RUN_TO / FLAT_RUN2 by the run's length k */
#define FLAT_SWITCH(RUN, ...)                                                                     \
    switch (k) {                                                                                  \
    case 1: RUN(1, __VA_ARGS__); break;                                                           \
    case 2: RUN(2, __VA_ARGS__); break;                                                           \
    case 3: RUN(3, __VA_ARGS__); break;                                                           \
    case 4: RUN(4, __VA_ARGS__); break;                                                           \
    case 5: RUN(5, __VA_ARGS__); break;                                                           \
    case 6: RUN(6, __VA_ARGS__); break;                                                           \
    case 7: RUN(7, __VA_ARGS__); break;                                                           \
    default: RUN(8, __VA_ARGS__); break;                                                          \
    }

/* runs 1..4 (the pairs': 16 sums, their weights and the vectors shifted in registers) */
#define FLAT_SWITCH4(RUN, ...)                                                                    \
    switch (k) {                                                                                  \
    case 1: RUN(1, __VA_ARGS__); break;                                                           \
    case 2: RUN(2, __VA_ARGS__); break;                                                           \
    case 3: RUN(3, __VA_ARGS__); break;                                                           \
    default: RUN(4, __VA_ARGS__); break;                                                          \
    }

/* The pairs' program (flat with a distance D): the runs of taps (as flat finds them) of the
 * block at m (A) and of the block at m + D (B) merged into one sequence of steps, A's runs in
 * their order and B's in theirs; a step of both where B's next run reads the places of A's
 * next (offsets D apart, the same length), else the one whose next run has no partner to wait
 * for. step[3s..3s+2]: A's first tap or -1, B's or -1, the run's length. Returns the steps. */
static ptrdiff_t flat_pairs(ptrdiff_t *step, const ptrdiff_t *off, ptrdiff_t nt, int runs,
                            ptrdiff_t D) {
    ptrdiff_t *first = step + 3 * 2 * nt, *len = first + nt; /* the runs */
    ptrdiff_t G = 0;
    for (ptrdiff_t t = 0; t < nt; G++) {
        ptrdiff_t k = 1;
        while (k < runs && t + k < nt && off[t + k] == off[t] - k) k++;
        first[G] = t, len[G] = k;
        t += k;
    }
    ptrdiff_t n = 0, ia = 0, ib = 0;
    while (ia < G || ib < G) {
        int a = 0, b = 0;
        if (ib < G) {
            /* A's run that B's next reads the places of (offsets fall from run to run) */
            const ptrdiff_t want = off[first[ib]] + D;
            ptrdiff_t j = ia;
            while (j < G && off[first[j]] > want) j++;
            const int partner = j < G && off[first[j]] == want && len[j] == len[ib];
            if (partner && j == ia)
                a = b = 1;
            else if (partner)
                a = 1;
            else
                b = 1;
        } else {
            a = 1;
        }
        step[3 * n] = a ? first[ia] : -1;
        step[3 * n + 1] = b ? first[ib] : -1;
        step[3 * n + 2] = a ? len[ia] : len[ib];
        ia += a, ib += b, n++;
    }
    return n;
}

/* whether the count places of the line from the place c (flat_coords) all lie in one gap:
 * the index of an axis d >= 1 past L[d], and the places to that gap's end at least count */
static int flat_in_gap(const ptrdiff_t *c, ptrdiff_t count, int nd, const ptrdiff_t *P,
                       const ptrdiff_t *L) {
    ptrdiff_t inner = 0, size = 1; /* the place within axis d's index; places per index */
    for (int d = nd - 1; d >= 1; d--) {
        if (c[d] >= L[d] && (P[d] - c[d]) * size - inner >= count) return 1;
        inner += c[d] * size;
        size *= P[d];
    }
    return 0;
}

/* IOTA: the lanes' indices 0, 1, ..., W - 1 (integers of T's size); RUNS: the longest run of
 * taps summed by shifts (FLAT_RUN, at most 8 and W; 1: every tap loaded, where the shuffles
 * cost more than the loads they save: floats at 32 and 16 bytes, BENCHMARKS.md) */
#define DEFINE_FLAT(NAME, T, V, ATTR, IOTA, RUNS)                                                 \
    ATTR static void NAME(T *restrict out, const T *restrict x, const ptrdiff_t *restrict off,  \
                          const T *restrict w, ptrdiff_t nt, ptrdiff_t m0, ptrdiff_t m1,        \
                          int nd, const ptrdiff_t *grid, ptrdiff_t D,                           \
                          const ptrdiff_t *restrict step, ptrdiff_t nsteps) {                   \
        enum { W = sizeof(V) / sizeof(T), BLOCK = FLAT_VECTORS * W };                             \
        T sums[BLOCK];                                                                            \
        ptrdiff_t c[FLAT_MAXD]; /* with a grid: the block's place as an index of P */             \
        if (grid != NULL) flat_coords(c, m0, nd, grid);                                           \
        if (m1 - m0 < BLOCK) {                                                                    \
            for (ptrdiff_t m = m0; m < m1; m++) {                                                 \
                T s = 0;                                                                          \
                for (ptrdiff_t t = 0; t < nt; t++) s = s + x[off[t] + m] * w[t];                  \
                sums[m - m0] = s;                                                                 \
            }                                                                                     \
            if (grid == NULL)                                                                     \
                memcpy(out + m0, sums, sizeof(T) * (size_t)(m1 - m0));                            \
            else                                                                                  \
                put_runs((char *)out, (const char *)sums, sizeof(T), c, m1 - m0, nd, grid,       \
                         grid + nd);                                                              \
            return;                                                                               \
        }                                                                                         \
        ptrdiff_t start = m0; /* the first place not summed by pairs */                         \
        if (sizeof(V) == 64 && step != NULL && D >= BLOCK && m1 - m0 >= 2 * D) {                   \
            /* stripes of 2D places: the blocks of the first D paired with those D on */          \
            ptrdiff_t cA[FLAT_MAXD], cB[FLAT_MAXD];                                               \
            for (; start + 2 * D <= m1; start += 2 * D) {                                         \
                for (ptrdiff_t m = start;; m += BLOCK) {                                          \
                    const int back = m + BLOCK > start + D;                                       \
                    if (back) m = start + D - BLOCK; /* the stripe's last: overlaps */            \
                    if (grid != NULL && (m == start || back)) {                                   \
                        flat_coords(cA, m, nd, grid);                                             \
                        flat_coords(cB, m + D, nd, grid);                                         \
                    }                                                                             \
                    const int doA = grid == NULL || !flat_in_gap(cA, BLOCK, nd, grid, grid + nd); \
                    const int doB = grid == NULL || !flat_in_gap(cB, BLOCK, nd, grid, grid + nd); \
                    V accA[FLAT_VECTORS], accB[FLAT_VECTORS];                                     \
                    for (int v = 0; v < FLAT_VECTORS; v++) accA[v] = accB[v] = (V){0};           \
                    for (ptrdiff_t s = 0; s < nsteps && (doA || doB); s++) {                      \
                        const ptrdiff_t ta = step[3 * s], tb = step[3 * s + 1];                   \
                        const int k = (int)step[3 * s + 2];                                       \
                        if (ta >= 0 && tb >= 0 && doA && doB) {                                   \
                            const T *xt = x + off[ta] + m;                                        \
                            FLAT_SWITCH4(FLAT_RUN2, T, V, IOTA)                                    \
                        } else {                                                                  \
                            if (ta >= 0 && doA) {                                                 \
                                const T *xt = x + off[ta] + m;                                    \
                                FLAT_SWITCH4(FLAT_RUN_TO, T, V, IOTA, accA, ta)                    \
                            }                                                                     \
                            if (tb >= 0 && doB) {                                                 \
                                const T *xt = x + off[tb] + m + D;                                \
                                FLAT_SWITCH4(FLAT_RUN_TO, T, V, IOTA, accB, tb)                    \
                            }                                                                     \
                        }                                                                         \
                    }                                                                             \
                    if (grid == NULL) {                                                           \
                        for (int v = 0; v < FLAT_VECTORS; v++) STORE(out + m + v * W, accA[v]);   \
                        for (int v = 0; v < FLAT_VECTORS; v++)                                    \
                            STORE(out + m + D + v * W, accB[v]);                                  \
                    } else {                                                                      \
                        if (doA) {                                                                \
                            for (int v = 0; v < FLAT_VECTORS; v++) STORE(sums + v * W, accA[v]);  \
                            put_runs((char *)out, (const char *)sums, sizeof(T), cA, BLOCK, nd,  \
                                     grid, grid + nd);                                            \
                        } else {                                                                  \
                            flat_coords(cA, m + BLOCK, nd, grid);                                 \
                        }                                                                         \
                        if (doB) {                                                                \
                            for (int v = 0; v < FLAT_VECTORS; v++) STORE(sums + v * W, accB[v]);  \
                            put_runs((char *)out, (const char *)sums, sizeof(T), cB, BLOCK, nd,  \
                                     grid, grid + nd);                                            \
                        } else {                                                                  \
                            flat_coords(cB, m + D + BLOCK, nd, grid);                             \
                        }                                                                         \
                    }                                                                             \
                    if (m + BLOCK >= start + D) break;                                            \
                }                                                                                 \
            }                                                                                     \
            if (start >= m1) return;                                                              \
            if (grid != NULL) flat_coords(c, start, nd, grid);                                    \
        }                                                                                         \
        for (ptrdiff_t m = start;; m += BLOCK) {                                                  \
            if (m + BLOCK > m1) {                                                                 \
                m = m1 - BLOCK; /* back: the place found again */                                 \
                if (grid != NULL) flat_coords(c, m, nd, grid);                                    \
            }                                                                                     \
            if (grid != NULL && flat_in_gap(c, BLOCK, nd, grid, grid + nd)) { /* no sum kept */  \
                if (m + BLOCK >= m1) break;                                                       \
                flat_coords(c, m + BLOCK, nd, grid);                                              \
                continue;                                                                         \
            }                                                                                     \
            V acc[FLAT_VECTORS];                                                                  \
            for (int v = 0; v < FLAT_VECTORS; v++) acc[v] = (V){0};                               \
            for (ptrdiff_t t = 0; t < nt;) {                                                      \
                const T *xt = x + off[t] + m;                                                     \
                int k = 1; /* the run of taps from t */                                           \
                while (k < RUNS && t + k < nt && off[t + k] == off[t] - k) k++;                   \
                switch (k) {                                                                      \
                case 1: FLAT_RUN(1, T, V, IOTA); break;                                           \
                case 2: FLAT_RUN(2, T, V, IOTA); break;                                           \
                case 3: FLAT_RUN(3, T, V, IOTA); break;                                           \
                case 4: FLAT_RUN(4, T, V, IOTA); break;                                           \
                case 5: FLAT_RUN(5, T, V, IOTA); break;                                           \
                case 6: FLAT_RUN(6, T, V, IOTA); break;                                           \
                case 7: FLAT_RUN(7, T, V, IOTA); break;                                           \
                default: FLAT_RUN(8, T, V, IOTA); break;                                          \
                }                                                                                 \
                t += k;                                                                           \
            }                                                                                     \
            if (grid == NULL) {                                                                   \
                for (int v = 0; v < FLAT_VECTORS; v++) STORE(out + m + v * W, acc[v]);            \
            } else {                                                                              \
                for (int v = 0; v < FLAT_VECTORS; v++) STORE(sums + v * W, acc[v]);               \
                put_runs((char *)out, (const char *)sums, sizeof(T), c, BLOCK, nd, grid,         \
                         grid + nd);                                                              \
            }                                                                                     \
            if (m + BLOCK >= m1) break;                                                           \
        }                                                                                         \
    }
typedef long long flat_m8 __attribute__((vector_size(64)));
typedef int flat_m16 __attribute__((vector_size(64)));
typedef long long flat_m4 __attribute__((vector_size(32)));
typedef int flat_m8f __attribute__((vector_size(32)));
typedef long long flat_m2 __attribute__((vector_size(16)));
typedef int flat_m4f __attribute__((vector_size(16)));
#define IOTA8 ((flat_m8){0, 1, 2, 3, 4, 5, 6, 7})
#define IOTA16 ((flat_m16){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
#define IOTA4 ((flat_m4){0, 1, 2, 3})
#define IOTA8F ((flat_m8f){0, 1, 2, 3, 4, 5, 6, 7})
#define IOTA2 ((flat_m2){0, 1})
#define IOTA4F ((flat_m4f){0, 1, 2, 3})
#if HAVE_MASKED
DEFINE_FLAT(flat_f64_64, double, vec_f64, AVX512, IOTA8, 8)
DEFINE_FLAT(flat_f32_64, float, vec_f32, AVX512, IOTA16, 8)
DEFINE_FLAT(flat_f64_32, double, vec32_f64, AVX2, IOTA4, 4)
DEFINE_FLAT(flat_f32_32, float, vec32_f32, AVX2, IOTA8F, 1)
DEFINE_FLAT(flat_f64_16, double, vec16_f64, , IOTA2, 2)
DEFINE_FLAT(flat_f32_16, float, vec16_f32, , IOTA4F, 1)
#define FLAT(T, ...)                                                                              \
    (simd_width() == 64   ? flat_##T##_64(__VA_ARGS__)                                           \
     : simd_width() == 32 ? flat_##T##_32(__VA_ARGS__)                                           \
                          : flat_##T##_16(__VA_ARGS__))
#else
#if defined(__AVX512F__)
DEFINE_FLAT(flat_f64, double, vec_f64, CLONES, IOTA8, 8)
DEFINE_FLAT(flat_f32, float, vec_f32, CLONES, IOTA16, 8)
#elif defined(__AVX__)
DEFINE_FLAT(flat_f64, double, vec32_f64, CLONES, IOTA4, 4)
DEFINE_FLAT(flat_f32, float, vec32_f32, CLONES, IOTA8F, 1)
#else
DEFINE_FLAT(flat_f64, double, vec16_f64, CLONES, IOTA2, 2)
DEFINE_FLAT(flat_f32, float, vec16_f32, CLONES, IOTA4F, 1)
#endif
#define FLAT(T, ...) flat_##T(__VA_ARGS__)
#endif

/* an int64 buffer (format q, or l where long is 8 bytes) */
static int is_int64(const Py_buffer *view) {
    const char *f = view->format ? view->format : "B";
    const char c = f[strlen(f) - 1];
    return view->itemsize == 8 && (c == 'q' || c == 'l');
}

static PyObject *py_flat(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs < 6 || nargs > 8) {
        PyErr_SetString(PyExc_TypeError, "flat takes 6 to 8 arguments");
        return NULL;
    }
    ptrdiff_t m0 = PyNumber_AsSsize_t(args[4], PyExc_OverflowError);
    if (m0 == -1 && PyErr_Occurred()) return NULL;
    ptrdiff_t m1 = PyNumber_AsSsize_t(args[5], PyExc_OverflowError);
    if (m1 == -1 && PyErr_Occurred()) return NULL;
    const int has_grid = nargs >= 7 && args[6] != Py_None;
    ptrdiff_t D = 0;
    if (nargs == 8) {
        D = PyNumber_AsSsize_t(args[7], PyExc_OverflowError);
        if (D == -1 && PyErr_Occurred()) return NULL;
    }
    Py_buffer bo, bx, bf, bw, bg;
    const int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
    if (PyObject_GetBuffer(args[0], &bo, flags | PyBUF_WRITABLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &bx, flags) < 0) {
        PyBuffer_Release(&bo);
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &bf, flags) < 0) {
        PyBuffer_Release(&bo);
        PyBuffer_Release(&bx);
        return NULL;
    }
    if (PyObject_GetBuffer(args[3], &bw, flags) < 0) {
        release3(&bo, &bx, &bf, NULL);
        return NULL;
    }
    if (has_grid && PyObject_GetBuffer(args[6], &bg, flags) < 0) {
        PyBuffer_Release(&bw);
        release3(&bo, &bx, &bf, NULL);
        return NULL;
    }
    PyObject *result = Py_None;
    const char kind = kind_of(&bo);
    const ptrdiff_t nt = bw.itemsize ? bw.len / bw.itemsize : 0;
    if (kind == 0 || kind_of(&bx) != kind || kind_of(&bw) != kind || !is_int64(&bf) ||
        bf.len / 8 != nt || (has_grid && (!is_int64(&bg) || bg.len / 8 < 4 ||
                                          bg.len / 8 > 2 * FLAT_MAXD || bg.len / 8 % 2))) {
        PyErr_SetString(PyExc_TypeError,
                        "flat: out, x and weights one of float64 or float32, offsets int64 "
                        "(one per weight), grid int64 (P and L, 2 to 64 dimensions)");
        result = NULL;
    } else {
        const ptrdiff_t n_out = bo.len / bo.itemsize, n_x = bx.len / bx.itemsize;
        const ptrdiff_t *off = bf.buf, *grid = has_grid ? bg.buf : NULL;
        const int nd = has_grid ? (int)(bg.len / 16) : 0;
        /* the line's places: out's own, or those of the grid's P (out: its part L) */
        ptrdiff_t places = n_out;
        int ok = 1;
        if (grid != NULL) {
            ptrdiff_t inner = 1, size = 1;
            for (int d = 0; d < nd; d++) {
                ok &= grid[d] >= 1 && grid[nd + d] >= 0 && (d == 0 || grid[nd + d] <= grid[d]);
                size *= grid[nd + d];
                if (d > 0) inner *= grid[d];
            }
            ok &= size == n_out;
            places = grid[nd] * inner; /* L[0] slabs of P */
        }
        ok &= 0 <= m0 && m0 <= m1 && m1 <= places;
        for (ptrdiff_t t = 0; ok && m0 < m1 && t < nt; t++)
            ok = off[t] + m0 >= 0 && off[t] + m1 <= n_x;
        if (!ok) {
            PyErr_SetString(PyExc_ValueError, "flat: a read or write outside the arrays");
            result = NULL;
        } else {
            /* the pairs' program; reads stay inside x as each pair's places lie in m0..m1 */
            ptrdiff_t *step = NULL, nsteps = 0;
            if (D > 0 && nt > 0) {
                step = PyMem_RawMalloc(sizeof(ptrdiff_t) * 8 * (size_t)nt);
                if (step == NULL) {
                    PyBuffer_Release(&bw);
                    if (has_grid) PyBuffer_Release(&bg);
                    release3(&bo, &bx, &bf, NULL);
                    return PyErr_NoMemory();
                }
            }
            Py_BEGIN_ALLOW_THREADS
            if (step != NULL)
                nsteps = flat_pairs(step, off, nt, 4, D); /* runs up to 4 (FLAT_SWITCH4) */
            if (kind == 'd')
                FLAT(f64, bo.buf, bx.buf, off, bw.buf, nt, m0, m1, nd, grid, D, step, nsteps);
            else
                FLAT(f32, bo.buf, bx.buf, off, bw.buf, nt, m0, m1, nd, grid, D, step, nsteps);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(step);
        }
    }
    PyBuffer_Release(&bw);
    if (has_grid) PyBuffer_Release(&bg);
    return release3(&bo, &bx, &bf, result);
}

/* ---- flat_fill: the flat loop's zero-gapped copy (method_direct._flat_nd) -------------------
 * Axis d >= 1 of x (C order, shape P) holds big's indices lo[d] .. lo[d] + ln[d] at 0 .. ln[d],
 * then zeros to P[d]; each row written once, its data then its zeros (no pass of zeros over
 * the whole copy first), big read through its strides (any layout). */
static void fill_axis(char *restrict dst, const char *restrict src, int d, int nd,
                      const ptrdiff_t *P, const ptrdiff_t *ln, const Py_ssize_t *sstr,
                      const ptrdiff_t *xstr, size_t item) {
    if (d == nd - 2) { /* the rows: each its data, then its zeros */
        const ptrdiff_t n = ln[d + 1], rows = ln[d];
        const Py_ssize_t step = sstr[d + 1];
        const size_t zeros = (size_t)(P[d + 1] - n) * item;
        for (ptrdiff_t j = 0; j < rows; j++) {
            char *to = dst + j * xstr[d];
            const char *from = src + j * sstr[d];
            if (step == (Py_ssize_t)item)
                memcpy(to, from, (size_t)n * item);
            else if (item == 8)
                for (ptrdiff_t i = 0; i < n; i++) memcpy(to + i * 8, from + i * step, 8);
            else
                for (ptrdiff_t i = 0; i < n; i++) memcpy(to + i * 4, from + i * step, 4);
            memset(to + n * item, 0, zeros);
        }
    } else {
        for (ptrdiff_t j = 0; j < ln[d]; j++)
            fill_axis(dst + j * xstr[d], src + j * sstr[d], d + 1, nd, P, ln, sstr, xstr, item);
    }
    memset(dst + ln[d] * xstr[d], 0, (size_t)((P[d] - ln[d]) * xstr[d]));
}

static PyObject *py_flat_fill(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "flat_fill takes 7 arguments");
        return NULL;
    }
    ptrdiff_t ints[3];
    for (int k = 0; k < 3; k++) {
        ints[k] = PyNumber_AsSsize_t(args[4 + k], PyExc_OverflowError);
        if (ints[k] == -1 && PyErr_Occurred()) return NULL;
    }
    const ptrdiff_t first = ints[0], s0 = ints[1], s1 = ints[2];
    Py_buffer bx, bb, bl, bn;
    if (PyObject_GetBuffer(args[0], &bx, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &bb, PyBUF_RECORDS_RO) < 0) {
        PyBuffer_Release(&bx);
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &bl, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&bx);
        PyBuffer_Release(&bb);
        return NULL;
    }
    if (PyObject_GetBuffer(args[3], &bn, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        release3(&bx, &bb, &bl, NULL);
        return NULL;
    }
    PyObject *result = Py_None;
    const int nd = bx.ndim;
    const char kind = kind_of(&bx);
    if (kind == 0 || kind_of(&bb) != kind || bb.ndim != nd || nd < 3 || nd > FLAT_MAXD ||
        !is_int64(&bl) || !is_int64(&bn) || bl.len / 8 != nd || bn.len / 8 != nd) {
        PyErr_SetString(PyExc_TypeError,
                        "flat_fill: x and big of one class (float64 or float32) and of 3 to 64 "
                        "dimensions, lo and ln int64 (one per dimension)");
        result = NULL;
    } else {
        const ptrdiff_t *lo = bl.buf, *ln = bn.buf;
        ptrdiff_t P[FLAT_MAXD], xstr[FLAT_MAXD];
        const size_t item = (size_t)bx.itemsize;
        int ok = 0 <= first && 0 <= s0 && s0 <= s1 && s1 <= bx.shape[0];
        for (int d = nd - 1; d >= 0; d--) {
            P[d] = bx.shape[d];
            xstr[d] = d == nd - 1 ? (ptrdiff_t)item : xstr[d + 1] * P[d + 1];
            ok &= 0 <= lo[d] && 0 <= ln[d] && ln[d] <= bb.shape[d] && lo[d] <= bb.shape[d] - ln[d];
            ok &= d == 0 ? ok && first <= P[0] - ln[0] : ln[d] <= P[d];
        }
        if (!ok) {
            PyErr_SetString(PyExc_ValueError, "flat_fill: a read or write outside the arrays");
            result = NULL;
        } else {
            const char *base = bb.buf;
            for (int d = 0; d < nd; d++) base += lo[d] * bb.strides[d];
            Py_BEGIN_ALLOW_THREADS
            for (ptrdiff_t i = s0; i < s1; i++) {
                char *dst = (char *)bx.buf + i * xstr[0];
                if (i >= first && i < first + ln[0])
                    fill_axis(dst, base + (i - first) * bb.strides[0], 1, nd, P, ln, bb.strides,
                              xstr, item);
                else
                    memset(dst, 0, (size_t)xstr[0]);
            }
            Py_END_ALLOW_THREADS
        }
    }
    PyBuffer_Release(&bn);
    return release3(&bx, &bb, &bl, result);
}

/* ---- guard2: an FFT's sums rounded to an integer class where a bound decides them ------------
 * For imfilter's guarded FFT path (bridge.filtering._guarded_fft): y holds sums computed by an
 * FFT for outputs r0.., c0.. of out, each within B of the sum S the double loop (nonsep2 mode 0,
 * exact_direct_one) gives. Where no half-integer lies within B of y (B < 0.25: the nearest one,
 * floor(y) + 0.5, is farther than B; the others are 0.5 or more away), every number within B of
 * y, S among them, rounds half away from zero to the same integer, and saturates alike: y is
 * stored by round_clamp (logical: y >= 0.5, whose one boundary 0.5 is a half-integer). The
 * others are recomputed by exact_direct_one and stored as the double loop stores them. All
 * exact: y - floor(y) for |y| < 2^52 (beyond, it is 0: 0.5 from a half-integer, and the clamp
 * decides), its difference with 0.5 where it is 0.25 or more (Sterbenz), and below 0.25 the
 * rounded difference is above 0.25 > B. */
/* Whether one of the n doubles at y lies within B of a half-integer (as guard2 tests it; a
 * loop without branches, vectorized by each clone). */
NO_TRAPS CLONES static int near_half(const double *restrict y, ptrdiff_t n, double B) {
    int any = 0;
    for (ptrdiff_t j = 0; j < n; j++) {
        const double d = y[j] - __builtin_floor(y[j]) - 0.5;
        any |= __builtin_fabs(d) <= B;
    }
    return any;
}

/* The places j < n where near_half's test holds, to idx; returns how many. */
NO_TRAPS CLONES static ptrdiff_t near_half_list(const double *restrict y, ptrdiff_t n, double B,
                                                ptrdiff_t *restrict idx) {
    ptrdiff_t m = 0;
    for (ptrdiff_t j = 0; j < n; j++) {
        const double d = y[j] - __builtin_floor(y[j]) - 0.5;
        idx[m] = j;
        m += __builtin_fabs(d) <= B;
    }
    return m;
}

static PyObject *py_guard2(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    /* guard2(out, image, kind, rowidx, colidx, ta, tb, tw, fill, y, B, r0, c0, limit) */
    if (nargs != 14) {
        PyErr_SetString(PyExc_TypeError, "guard2 takes 14 arguments");
        return NULL;
    }
    const ptrdiff_t kind = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    const double fill = PyFloat_AsDouble(args[8]);
    const double B = PyFloat_AsDouble(args[10]);
    const ptrdiff_t r0 = PyNumber_AsSsize_t(args[11], PyExc_OverflowError);
    const ptrdiff_t c0 = PyNumber_AsSsize_t(args[12], PyExc_OverflowError);
    const ptrdiff_t limit = PyNumber_AsSsize_t(args[13], PyExc_OverflowError);
    if (PyErr_Occurred()) return NULL;
    if ((kind != K_U8 && kind != K_I8 && kind != K_U16 && kind != K_I16 && kind != K_BOOL) ||
        !(B >= 0 && B < 0.25)) {
        PyErr_SetString(PyExc_ValueError, "guard2: an integer kind of nonsep2_f32, 0 <= B < 0.25");
        return NULL;
    }
    enum { NB = 7 };
    Py_buffer b[NB];
    PyObject *const objs[NB] = {args[0], args[1], args[3], args[4], args[5], args[6], args[9]};
    int got = 0;
    PyObject *result = NULL;
    for (; got < NB; got++)
        if (PyObject_GetBuffer(objs[got], &b[got],
                               PyBUF_C_CONTIGUOUS | PyBUF_FORMAT |
                                   (got == 0 ? PyBUF_WRITABLE : 0)) < 0)
            goto done;
    {
        const Py_buffer *bo = &b[0], *bi = &b[1], *br = &b[2], *bc = &b[3], *ba = &b[4],
                        *bb = &b[5], *bw = &b[6];
        const size_t isz = KIND_SIZE[kind];
        if (bo->ndim != 2 || bi->ndim != 2 || bw->ndim != 2 || bo->itemsize != (Py_ssize_t)isz ||
            bi->itemsize != (Py_ssize_t)isz || br->itemsize != 8 || bc->itemsize != 8 ||
            ba->itemsize != 8 || bb->itemsize != 8 || kind_of(bw) != 'd') {
            PyErr_SetString(PyExc_ValueError, "guard2: arrays of the wrong kind");
            goto done;
        }
        Py_buffer tw_view;
        if (PyObject_GetBuffer(args[7], &tw_view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
        const ptrdiff_t L0 = bo->shape[0], L1 = bo->shape[1], n0 = bi->shape[0],
                        n1 = bi->shape[1], h = bw->shape[0], w = bw->shape[1];
        const ptrdiff_t nt = tw_view.len / 8, nr = br->len / 8, nc = bc->len / 8;
        const long long *ri = br->buf, *ci = bc->buf, *ta = ba->buf, *tb = bb->buf;
        const double *tw = tw_view.buf, *y = bw->buf;
        int ok = kind_of(&tw_view) == 'd' && ba->len / 8 == nt && bb->len / 8 == nt && r0 >= 0 &&
                 c0 >= 0 && r0 + h <= L0 && c0 + w <= L1 && n0 >= 1 && n1 >= 1;
        ptrdiff_t ma = 0, mb = 0;
        for (ptrdiff_t t = 0; ok && t < nt; t++) {
            ok = ta[t] >= 0 && tb[t] >= 0;
            ma = ta[t] > ma ? ta[t] : ma;
            mb = tb[t] > mb ? tb[t] : mb;
        }
        ok = ok && nr >= L0 + ma && nc >= L1 + mb;
        for (ptrdiff_t i = 0; ok && i < nr; i++) ok = ri[i] >= -1 && ri[i] < n0;
        for (ptrdiff_t i = 0; ok && i < nc; i++) ok = ci[i] >= -1 && ci[i] < n1;
        if (!ok) {
            PyBuffer_Release(&tw_view);
            PyErr_SetString(PyExc_ValueError, "guard2: shapes or indices do not match");
            goto done;
        }
        const double lo = kind == K_I8 ? -128.0 : kind == K_I16 ? -32768.0 : 0.0;
        const double hi = kind == K_U8 ? 255.0 : kind == K_I8 ? 127.0 : kind == K_U16 ? 65535.0
                          : kind == K_I16 ? 32767.0 : 1.0;
        ptrdiff_t count = 0;
        ptrdiff_t *miss = malloc(sizeof(ptrdiff_t) * (size_t)(w + 1));
        if (miss == NULL) {
            PyBuffer_Release(&tw_view);
            PyErr_NoMemory();
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        for (ptrdiff_t i = 0; i < h && count >= 0; i++) {
            char *o = (char *)bo->buf + ((size_t)(r0 + i) * (size_t)L1 + (size_t)c0) * isz;
            const double *yr = y + i * w;
            /* the row stored as nonsep2 stores its sums, then the few near a half-integer
               found again and recomputed */
            store_row(o, yr, (int)kind, w);
            if (!near_half(yr, w, B)) continue;
            const ptrdiff_t m = near_half_list(yr, w, B, miss);
            for (ptrdiff_t k = 0; k < m; k++) {
                const ptrdiff_t j = miss[k];
                if (++count > limit) {
                    count = -1;
                    break;
                }
                const double v = exact_direct_one(bi->buf, (int)kind, n1, 1, ri, ci, ta, tb, tw,
                                                  nt, fill, r0 + i, c0 + j, 0);
                put_recomputed(o, (int)kind, j, v, lo, hi);
            }
        }
        Py_END_ALLOW_THREADS
        free(miss);
        PyBuffer_Release(&tw_view);
        result = PyLong_FromSsize_t(count);
    }
done:
    for (int k = 0; k < got; k++) PyBuffer_Release(&b[k]);
    return result;
}

/* sep2_stream(on=None): whether sep2 writes double and single outputs by streaming stores
 * (None: by the output's size, SEP2_STREAM_BYTES; True/False: always/never); with on, set it
 * and return the old setting. For tests and benchmarks: the same bits either way. */
static PyObject *py_sep2_stream(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    const int old = sep2_stream;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "sep2_stream takes at most 1 argument");
        return NULL;
    }
    if (nargs == 1) {
        if (args[0] == Py_None) {
            sep2_stream = -1;
        } else {
            const int on = PyObject_IsTrue(args[0]);
            if (on < 0) return NULL;
            sep2_stream = on;
        }
    }
    if (old < 0) Py_RETURN_NONE;
    return PyBool_FromLong(old);
}

static PyMethodDef methods[] = {
    {"direct3", (PyCFunction)(void (*)(void))py_direct3, METH_FASTCALL,
     "direct3(out, x, w, s0, s1, s2, l0, l1, c0, c1, skip_zero, reverse=0, accumulate=False): "
     "sets lines l0..l1, columns c0..c1 of out to their sums (numba's direct3 adds them to out's "
     "zeros). reverse 1: the arrays are the transposes of the operands and result, the taps "
     "summed in the operands' order; 2: the same, given the column-major arrays themselves. "
     "accumulate: each sum starts from out's value (the taps added to it in order) instead of "
     "0."},
    {"simd_width", (PyCFunction)(void (*)(void))py_simd_width, METH_FASTCALL,
     "simd_width(width=None): the vector width in bytes of direct3's and the fused loops' sums "
     "(64: AVX-512, 32: AVX2, 16); width: set it (one this processor runs), returning the old "
     "one."},
    {"masked_edges", (PyCFunction)(void (*)(void))py_masked_edges, METH_FASTCALL,
     "masked_edges(on=None): whether direct3's edge blocks use masked loads (AVX-512) instead "
     "of zero-padded copies (the same bits); on: set it, returning the old value."},
    {"zdirect", (PyCFunction)(void (*)(void))py_zdirect, METH_FASTCALL,
     "zdirect(out, x, w, s, p0, p1): columns p0..p1 of out (planes of complex numbers, as "
     "float64 pairs) set to the direct sum across the planes: out[j, p] = sum over the k "
     "where s + j - k is a plane of x of x[s + j - k, p] * w[k, p]."},
    {"sep2", (PyCFunction)(void (*)(void))py_sep2, METH_FASTCALL,
     "sep2(out, image, kind, rowidx, colidx, mid, f1, f0, fill, r0, r1, mode=1): rows r0..r1 of out "
     "(the image's class; 2-D, or 3-D: interleaved planes, each filtered alone) set to the "
     "separable path's two direct passes over the padded image (f1 along the rows, then f0 "
     "along the columns), converted as MATLAB converts; True "
     "(nothing to trust) where the image holds NaN or Inf. mode 0: summed in double only; 1: "
     "integer classes summed in float32 where the bound decides the rounding (the same "
     "result); 2: float32 only, True where it does not apply (tests)."},
    {"nonsep2", (PyCFunction)(void (*)(void))py_nonsep2, METH_FASTCALL,
     "nonsep2(out, image, kind, rowidx, colidx, mid, ta, tb, tw, q0, q1, fill, r0, r1, mode=1): "
     "rows r0..r1 of out (the image's class; 2-D, or 3-D: interleaved planes, each filtered "
     "alone) set to 0 + P[r + ta[t], c + tb[t]] * tw[t] summed over the taps t in order, P the "
     "padded image (as sep2 reads it), converted as MATLAB converts; True (nothing to trust) "
     "where the image holds NaN or Inf. mode as sep2's: 0 the double loop, 1 the float32 sum "
     "with its guard where taken (single images: fused multiply-adds with theirs, kernels of "
     "36 taps or more), 2 (tests) the float32 path only, 3 (tests) the fused multiply-adds "
     "only, any kernel; True where the path is not taken."},
    {"store", (PyCFunction)(void (*)(void))py_store, METH_FASTCALL,
     "store(out, y, kind, reference=False): y (float64) converted to out in kind's class as "
     "sep2 and nonsep2 store their sums; reference: by the scalar loop the tests compare with."},
    {"flat", (PyCFunction)(void (*)(void))py_flat, METH_FASTCALL,
     "flat(out, x, offsets, weights, m0, m1, grid=None, D=0): out[m] (out and x read flat, "
     "C-contiguous) set to 0 + x[m + offsets[0]] * weights[0] + x[m + offsets[1]] * "
     "weights[1] + ... for m in m0..m1, the taps in the order given (each product rounded, "
     "then added). grid (int64 P and L): m is a place of an array of shape P, out the part of "
     "it of shape L; sums at places outside L are dropped. D: blocks D places apart summed "
     "together (64-byte vectors), a vector serving the taps of both whose offsets are D apart "
     "(the same bits)."},
    {"flat_fill", (PyCFunction)(void (*)(void))py_flat_fill, METH_FASTCALL,
     "flat_fill(x, big, lo, ln, first, s0, s1): slabs s0..s1 (along axis 0) of x (C order) set "
     "to the flat loop's zero-gapped copy of big: x[first + i, j1, ...] = big[lo[0] + i, lo[1] + "
     "j1, ...] for i < ln[0] and each j[d] < ln[d], zeros elsewhere."},
    {"guard2", (PyCFunction)(void (*)(void))py_guard2, METH_FASTCALL,
     "guard2(out, image, kind, rowidx, colidx, ta, tb, tw, fill, y, B, r0, c0, limit): outputs "
     "r0.., c0.. of out (2-D, an integer class of nonsep2's float32 path) set from y (float64, "
     "2-D: sums within B < 0.25 of nonsep2's) rounded and saturated where no half-integer lies "
     "within B of y, else to nonsep2's own sum of that output; the number recomputed, or -1 "
     "once more than limit would be (the rest of y then unstored)."},
    {"sep2_stream", (PyCFunction)(void (*)(void))py_sep2_stream, METH_FASTCALL,
     "sep2_stream(on=None): whether sep2 writes double and single outputs by streaming stores "
     "(None: from 64 MiB of output; True/False: always/never), returning the old setting; on: "
     "set it (the same bits either way)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_direct_c",
                                    "The compiled loop of direct.", -1, methods};

PyMODINIT_FUNC PyInit__direct_c(void) { return PyModule_Create(&module); }
