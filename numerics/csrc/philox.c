/* Standard normal and uniform float32 draws from the counter-based generator Philox4x32-10 (Salmon, Moraes, Dror,
 * Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011), used by numerics.rng.Philox.
 *
 * Stream: block i of a stream with 64-bit key K is Philox4x32-10 of the counter (i mod 2^32, i >> 32, 0, 0) under the
 * key (K mod 2^32, K >> 32): four 32-bit words w0..w3. Blocks come in groups of NB = 16, whose 64 numbers are
 * written word-major (number 16 t + j from word t of block j, so every store is a whole vector). A fill of n floats
 * from block c (a multiple of 16) uses the ceil(n / 64) groups from c on and discards the numbers past n.
 *
 * Uniforms: u = (w >> 8) 2^-24 in [0, 1), one per word.
 * Normals, Box-Muller per word pair (w0, w1) and (w2, w3) of a block, giving (r cos t, r sin t):
 *   u1 = ((w0 >> 8) + 1) 2^-24 in (0, 1]      r = sqrt(-2 ln u1)      (so |z| <= sqrt(48 ln 2) = 5.77)
 *   t  = 2 pi (o + f) / 8, octant o = w1 >> 29, f = ((w1 >> 5) & (2^24 - 1)) 2^-24
 * ln is Cephes' logf (mantissa in [sqrt(1/2), sqrt(2)), degree-8 polynomial); sin and cos of the angle
 * psi = pi/4 f (even octant) or pi/4 (1 - f) (odd octant) in [0, pi/4] are Cephes' sinf/cosf polynomials, and the
 * octant's symmetry gives (cos t, sin t) by a swap and signs. Every step is one IEEE float32 operation in the order
 * written (built with -ffp-contract=off, no fast-math): numerics/rng.py repeats it in numpy and gets the same bits.
 *
 * The loops run over VW blocks at a time in the lanes of vectors (GCC/Clang vector extensions); every VW gives the
 * same numbers. Philox's 32 x 32 -> 64-bit products use pmuludq where the target has it (integer arithmetic: exact).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#define NB 16   /* blocks per group: the stream's layout */
#ifndef VW                 /* blocks per vector pass: a divisor of NB; every choice gives the same numbers */
#if defined(__AVX2__)
#define VW 16              /* fastest measured with AVX-512 and AVX2 builds (1.5 and 1.9 ns per normal) */
#else
#define VW 8               /* SSE2: 4.2 ns per normal, against 6.4 with 16 */
#endif
#endif

typedef uint32_t vu __attribute__((vector_size(4 * VW)));
typedef uint64_t vq __attribute__((vector_size(8 * VW)));    /* a 32-bit word per 64-bit lane (see philox_blocks) */
typedef int32_t vi __attribute__((vector_size(4 * VW)));
typedef float vf __attribute__((vector_size(4 * VW)));

/* (a mod 2^32) * m lane-wise, as 64-bit products: exact integer arithmetic, so the instruction used (pmuludq where
 * the compiler targets it, else a 64-bit multiply of the masked lanes) does not change the result */
static inline vq mul_lo32(vq a, uint32_t m) {
#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#if defined(__AVX512F__)
    typedef __m512i reg;
#define MUL(x) _mm512_mul_epu32((x), _mm512_set1_epi64((long long)m))
#elif defined(__AVX2__)
    typedef __m256i reg;
#define MUL(x) _mm256_mul_epu32((x), _mm256_set1_epi64x((long long)m))
#else
    typedef __m128i reg;
#define MUL(x) _mm_mul_epu32((x), _mm_set1_epi64x((long long)m))
#endif
    enum { NR = sizeof(vq) / sizeof(reg) };
    reg r[NR];
    memcpy(r, &a, sizeof r);
    for (int i = 0; i < NR; i++)
        r[i] = MUL(r[i]);
#undef MUL
    memcpy(&a, r, sizeof a);
    return a;
#else
    return (a & 0xffffffffu) * (uint64_t)m;
#endif
}

/* w[0..3] <- Philox4x32-10 of counters (c + j mod 2^32, (c + j) >> 32, 0, 0), j = 0 .. VW-1, under key (k0, k1).
 * Each word rides in the low half of a 64-bit lane; the high halves may hold garbage (xor of a product's high half
 * into a word), which only ever reaches a multiplication (that reads the low half) or the final truncation. */
static inline void philox_blocks(uint64_t c, uint32_t k0, uint32_t k1, vu w[4]) {
    vq x0, x1, x2 = {0}, x3 = {0};
    for (int j = 0; j < VW; j++) {
        const uint64_t i = c + (uint64_t)j;
        x0[j] = (uint32_t)i;
        x1[j] = i >> 32;
    }
    uint64_t a = k0, b = k1;
    for (int r = 0; r < 10; r++) {
        const vq p0 = mul_lo32(x0, 0xD2511F53u), p1 = mul_lo32(x2, 0xCD9E8D57u);
        x0 = (p1 >> 32) ^ x1 ^ a;
        x1 = p1;
        x2 = (p0 >> 32) ^ x3 ^ b;
        x3 = p0;
        a = (uint32_t)(a + 0x9E3779B9u);
        b = (uint32_t)(b + 0xBB67AE85u);
    }
    w[0] = __builtin_convertvector(x0, vu);    /* truncation to the low halves */
    w[1] = __builtin_convertvector(x1, vu);
    w[2] = __builtin_convertvector(x2, vu);
    w[3] = __builtin_convertvector(x3, vu);
}

static inline vf as_vf(vi x) { vf y; memcpy(&y, &x, sizeof y); return y; }
static inline vi as_vi(vf x) { vi y; memcpy(&y, &x, sizeof y); return y; }

/* natural log lane-wise for x in (0, 1] (Cephes logf) */
static inline vf log_unit(vf x) {
    const vi bits = as_vi(x);
    vi e = ((bits >> 23) & 0xff) - 126;                             /* x = m 2^e, m in [1/2, 1) */
    vf m = as_vf((bits & 0x807fffff) | 0x3f000000);
    /* m < sqrt(1/2) (float 0x3F3504F3), as an integer test on the mantissa: lane-wise comparisons of wide vectors
     * compile to scalar code on narrower hardware */
    const vi small = ((bits & 0x7fffff) - 0x3504f3) >> 31;          /* -1 where m < sqrt(1/2), else 0 */
    e = e + small;                                                  /* small: e - 1, m -> 2m */
    m = as_vf((as_vi(m + m) & small) | (as_vi(m) & ~small)) - 1.0f;
    const vf z = m * m;
    vf y = (vf){0} + 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    const vf fe = __builtin_convertvector(e, vf);
    y = y + fe * -2.12194440e-4f;
    y = y - z * 0.5f;
    return (m + y) + fe * 0.693359375f;
}

/* 4 VW normals from the blocks' words into out[NB t + j] (word t of block j; a word pair gives a cos and a sin) */
static inline void normals(const vu w[4], float *out) {
    vf z[4];
    for (int p = 0; p < 2; p++) {
        const vu w0 = w[2 * p], w1 = w[2 * p + 1];
        const vf u1 = __builtin_convertvector((vi)(w0 >> 8) + 1, vf) * 5.9604644775390625e-8f;
        const vf r2 = (vf){0} - 2.0f * log_unit(u1);
        vf r;
        for (int j = 0; j < VW; j++)                                /* correctly rounded: vsqrtps, or sqrtf */
            r[j] = sqrtf(r2[j]);
        const vi o = (vi)(w1 >> 29);
        const vi odd = -(o & 1);                                    /* all ones in odd octants */
        const vf f = __builtin_convertvector((vi)((w1 >> 5) & 0xffffffu), vf) * 5.9604644775390625e-8f;
        const vf g = as_vf((as_vi(1.0f - f) & odd) | (as_vi(f) & ~odd));
        const vf psi = g * 0.785398163397448310f;
        const vf s2 = psi * psi;
        vf sn = (vf){0} - 1.9515295891e-4f;
        sn = sn * s2 + 8.3321608736e-3f;
        sn = sn * s2 - 1.6666654611e-1f;
        sn = sn * s2 * psi + psi;
        vf cs = (vf){0} + 2.443315711809948e-5f;
        cs = cs * s2 - 1.388731625493765e-3f;
        cs = cs * s2 + 4.166664568298827e-2f;
        cs = cs * s2 * s2 - s2 * 0.5f + 1.0f;
        const vi sgn = (vi){0} + (int32_t)0x80000000;
        sn = as_vf(as_vi(sn) ^ (odd & sgn));                      /* (c, s') with s' = -s in odd octants */
        const vi q = ((o + 1) >> 1) & 3;                            /* rotate (c, s') by q quarter turns */
        const vi swap = -(q & 1);
        const vf A = as_vf((as_vi(sn) & swap) | (as_vi(cs) & ~swap));
        const vf B = as_vf((as_vi(cs) & swap) | (as_vi(sn) & ~swap));
        const vi negc = ((q + 1) << 30) & sgn;                      /* q in {1, 2}: cos t = -A */
        const vi negs = (q << 30) & sgn;                            /* q in {2, 3}: sin t = -B */
        z[2 * p] = r * as_vf(as_vi(A) ^ negc);
        z[2 * p + 1] = r * as_vf(as_vi(B) ^ negs);
    }
    for (int t = 0; t < 4; t++)
        memcpy(out + NB * t, &z[t], sizeof z[t]);
}

static inline void uniforms(const vu w[4], float *out) {
    vf u[4];
    for (int t = 0; t < 4; t++)
        u[t] = __builtin_convertvector((vi)(w[t] >> 8), vf) * 5.9604644775390625e-8f;
    for (int t = 0; t < 4; t++)
        memcpy(out + NB * t, &u[t], sizeof u[t]);
}

/* n draws (normal: law 0, uniform: law 1) of the stream with key `key`, from block `ctr` on, into out[0..n-1] */
void philox_fill(int law, uint64_t key, uint64_t ctr, int64_t n, float *out) {
    const uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    float tmp[4 * NB];
    vu w[4];
    for (int64_t i = 0; i < n; i += 4 * NB, ctr += NB) {
        float *dst = n - i >= 4 * NB ? out + i : tmp;
        for (int h = 0; h < NB; h += VW) {
            philox_blocks(ctr + (uint64_t)h, k0, k1, w);
            if (law == 0)
                normals(w, dst + h);
            else
                uniforms(w, dst + h);
        }
        if (dst == tmp)
            memcpy(out + i, tmp, sizeof(float) * (size_t)(n - i));
    }
}
