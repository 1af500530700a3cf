/* The attention step's loss and gradient (numerics.attention.loss_and_grads), fused, in float32 on one CPU core.
 *
 * Same mathematics as the torch kernel, per member e and prompt b (numerics/attention.py):
 *   a_h = K_h^T Q_h[:, :d] / sqrt(D)      u_h = a_h x_q          s_hl = u_h . z_l      p_h = softmax_l(s_h)
 *   w_nh = (O_h V_h)_n                    yv_nhl = w_nh . z_l    t_nh = sum_l p_hl yv_nhl
 *   yhat_n = sum_h t_nh                   r_n = yhat_n - y_n     loss = mean_{b,n} r_n^2
 * and the backward pass of that forward (gs = p * (gp - sum_l p gp) for the softmax).
 *
 * Layout: 16 prompts ride in the 16 lanes of a vector (vf), so every operation is lane-wise and the only
 * reductions across lanes happen once per member, pairwise in a fixed order. Built without -ffast-math and with
 * -ffp-contract=off, the arithmetic is IEEE single precision in the order written here: the same numbers on any
 * x86-64 vector width. exp is evaluated by exp_neg (Cody-Waite reduction, degree-7 Taylor polynomial: relative
 * error at most 1.1e-7 on [-87, 0], checked on a 1e-6 grid); lanes past the batch's end are zero prompts, whose
 * residual is 0, so they add nothing.
 *
 * kind: 0 softmax, 1 linear, 2 linear-normalised (s / L).
 * q, k, v (E, H, D, D), o (E, H, N, D), ctx (E, B, D, L) = the tokens transposed, yq (E, B, N), all C-contiguous;
 * xq (E, B, d) with rows xs floats apart (xs >= d: the query covariates may be a slice of a wider draw buffer).
 * Writes loss (E,), gq, gk, gv (E, H, D, D) (gq zero on the query's slots d..D-1), go (E, H, N, D).
 * Returns 0, or 1 when scratch memory could not be allocated. Reentrant: no global state.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define W 16   /* prompts per vector */

/* GCC/Clang vector extensions: 16 floats, every operation lane-wise (one AVX-512 register, or 2-4 narrower ones) */
typedef float vf __attribute__((vector_size(4 * W), aligned(64)));
typedef int32_t vi __attribute__((vector_size(4 * W), aligned(64)));

static inline vf vselect(vi mask, vf yes, vf no) { return (vf)(((vi)yes & mask) | ((vi)no & ~mask)); }

/* e^x lane-wise for x <= 0 (a softmax argument after its maximum is subtracted), clamped at e^-87 */
static inline vf exp_neg(vf x) {
    x = vselect(x < -87.0f, (vf){0} - 87.0f, x);
    const float shifter = 12582912.0f;                       /* 1.5 * 2^23: adding it rounds to an integer */
    const vf n = (x * 1.44269504088896341f + shifter) - shifter;
    vf r = x - n * 0.693145751953125f;                       /* ln 2 in two parts (Cody-Waite) */
    r = r - n * 1.428606765330187045e-06f;
    vf p = (vf){0} + 1.98412698e-4f;                         /* sum_k r^k / k!, k <= 7, Horner */
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const vi scale = (__builtin_convertvector(n, vi) + 127) << 23;   /* 2^n */
    return p * (vf)scale;
}

/* the member's circuits: a_h = K_h^T Q_h[:, :d] / sqrt(D) (H, D, d) and w_nh = (O_h V_h)_n (N, H, D) */
static void circuits(int D, int d, int H, int N, float sc, const float *restrict q, const float *restrict k,
                     const float *restrict v, const float *restrict o, float *restrict a, float *restrict w) {
    for (int h = 0; h < H; h++)
        for (int i = 0; i < D; i++)
            for (int j = 0; j < d; j++) {
                float s = 0.0f;
                for (int m = 0; m < D; m++) s += k[(h * D + m) * D + i] * q[(h * D + m) * D + j];
                a[(h * D + i) * d + j] = s * sc;
            }
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < D; i++) {
                float s = 0.0f;
                for (int m = 0; m < D; m++) s += o[(h * N + n) * D + m] * v[(h * D + m) * D + i];
                w[(n * H + h) * D + i] = s;
            }
}

/* parameter gradients from da = dloss/da (H, D, d) and dw = dloss/dw (N, H, D), through a = K^T Q sc, w = O V */
static void param_grads(int D, int d, int H, int N, float sc, const float *restrict q, const float *restrict k,
                        const float *restrict v, const float *restrict o, const float *restrict da,
                        const float *restrict dw, float *restrict gq, float *restrict gk, float *restrict gv,
                        float *restrict go) {
    for (int h = 0; h < H; h++) {
        for (int m = 0; m < D; m++) {
            for (int j = 0; j < D; j++) {
                float s = 0.0f;
                if (j < d)
                    for (int i = 0; i < D; i++) s += k[(h * D + m) * D + i] * da[(h * D + i) * d + j];
                gq[(h * D + m) * D + j] = s * sc;
            }
            for (int i = 0; i < D; i++) {
                float s = 0.0f;
                for (int j = 0; j < d; j++) s += q[(h * D + m) * D + j] * da[(h * D + i) * d + j];
                gk[(h * D + m) * D + i] = s * sc;
            }
            for (int i = 0; i < D; i++) {
                float s = 0.0f;
                for (int n = 0; n < N; n++) s += o[(h * N + n) * D + m] * dw[(n * H + h) * D + i];
                gv[(h * D + m) * D + i] = s;
            }
        }
        for (int n = 0; n < N; n++)
            for (int m = 0; m < D; m++) {
                float s = 0.0f;
                for (int i = 0; i < D; i++) s += dw[(n * H + h) * D + i] * v[(h * D + m) * D + i];
                go[(h * N + n) * D + m] = s;
            }
    }
}

/* one block of up to W prompts of one member: forward, backward, lane-wise accumulation into dacc, dwacc, lacc */
static void block(int kind, int L, int D, int d, int H, int N, int xs, int nb, float gscale,
                  const float *restrict a, const float *restrict w, const float *restrict ctx,
                  const float *restrict xq, const float *restrict yq, vf *restrict z, vf *restrict p,
                  vf *restrict yv, vf *restrict gsb, vf *restrict dacc, vf *restrict dwacc, vf *restrict lacc) {
    const float invL = 1.0f / (float)L;
    const vf zero = {0};
    vf xt[d], t[N * H], gy[N], yt[N];
    /* gather the block into lanes; lanes past the batch are zero prompts (residual 0: they add nothing) */
    for (int m = 0; m < D * L; m++) z[m] = zero;
    for (int j = 0; j < d; j++) xt[j] = zero;
    for (int n = 0; n < N; n++) yt[n] = zero;
    for (int kk = 0; kk < nb; kk++) {
        const float *src = ctx + (size_t)kk * D * L;
        for (int m = 0; m < D * L; m++) z[m][kk] = src[m];
        for (int j = 0; j < d; j++) xt[j][kk] = xq[(size_t)kk * xs + j];
        for (int n = 0; n < N; n++) yt[n][kk] = yq[(size_t)kk * N + n];
    }
    /* forward */
    for (int h = 0; h < H; h++) {
        vf u[D];
        for (int i = 0; i < D; i++) {
            vf acc = zero;
            for (int j = 0; j < d; j++) acc += a[(h * D + i) * d + j] * xt[j];
            u[i] = acc;
        }
        vf *ph = p + h * L;
        for (int l = 0; l < L; l++) {
            vf acc = zero;
            for (int i = 0; i < D; i++) acc += u[i] * z[i * L + l];
            ph[l] = acc;
        }
        if (kind == 0) {
            vf mx = ph[0], den = zero;
            for (int l = 1; l < L; l++) mx = vselect(ph[l] > mx, ph[l], mx);
            for (int l = 0; l < L; l++) {
                ph[l] = exp_neg(ph[l] - mx);
                den += ph[l];
            }
            den = 1.0f / den;
            for (int l = 0; l < L; l++) ph[l] *= den;
        } else if (kind == 2) {
            for (int l = 0; l < L; l++) ph[l] *= invL;
        }
        for (int n = 0; n < N; n++) {
            const float *wh = w + (n * H + h) * D;
            vf *yvh = yv + (n * H + h) * L, tt = zero;
            for (int l = 0; l < L; l++) {
                vf acc = zero;
                for (int i = 0; i < D; i++) acc += wh[i] * z[i * L + l];
                yvh[l] = acc;
                tt += ph[l] * acc;
            }
            t[n * H + h] = tt;
        }
    }
    for (int n = 0; n < N; n++) {
        vf r = zero;                                           /* the residual r_n = yhat_n - y_n */
        for (int h = 0; h < H; h++) r += t[n * H + h];
        r -= yt[n];
        *lacc += r * r;
        gy[n] = r * gscale;
    }
    /* backward */
    for (int h = 0; h < H; h++) {
        const vf *ph = p + h * L;
        vf pg = zero;                                          /* sum_l p_l gp_l = sum_n gy_n t_nh */
        for (int n = 0; n < N; n++) pg += gy[n] * t[n * H + h];
        for (int l = 0; l < L; l++) {
            vf g = zero;                                       /* gp_l = sum_n gy_n yv_nhl, then through the weights */
            for (int n = 0; n < N; n++) g += gy[n] * yv[(n * H + h) * L + l];
            if (kind == 0)
                g = ph[l] * (g - pg);
            else if (kind == 2)
                g *= invL;
            gsb[l] = g;
        }
        for (int i = 0; i < D; i++) {
            vf gu = zero, c = zero;                            /* gu_i = sum_l gs_l z_il, c_i = sum_l p_l z_il */
            for (int l = 0; l < L; l++) {
                gu += gsb[l] * z[i * L + l];
                c += ph[l] * z[i * L + l];
            }
            for (int j = 0; j < d; j++) dacc[(h * D + i) * d + j] += gu * xt[j];
            for (int n = 0; n < N; n++) dwacc[(n * H + h) * D + i] += gy[n] * c;
        }
    }
}

int attn_loss_grad(int kind, int E, int B, int L, int D, int d, int H, int N, int xs,
                   const float *q, const float *k, const float *v, const float *o,
                   const float *ctx, const float *xq, const float *yq,
                   float *loss, float *gq, float *gk, float *gv, float *go) {
    const float sc = 1.0f / sqrtf((float)D);
    const float gscale = 2.0f / (float)(B * N);
    const size_t nacc = (size_t)H * D * d + (size_t)N * H * D + 1;
    float *a = malloc(sizeof(float) * (2 * (size_t)H * D * d + 2 * (size_t)N * H * D));
    vf *buf = aligned_alloc(64, sizeof(vf) * ((size_t)D * L + (size_t)H * L + (size_t)N * H * L + L + nacc));
    if (!a || !buf) {
        free(a);
        free(buf);
        return 1;
    }
    float *w = a + H * D * d, *da = w + N * H * D, *dw = da + H * D * d;
    vf *z = buf, *p = z + D * L, *yv = p + H * L, *gsb = yv + N * H * L, *dacc = gsb + L;
    vf *dwacc = dacc + H * D * d, *lacc = dwacc + N * H * D;
    for (int e = 0; e < E; e++) {
        const size_t pe = (size_t)e * H * D * D, oe = (size_t)e * H * N * D;
        circuits(D, d, H, N, sc, q + pe, k + pe, v + pe, o + oe, a, w);
        memset(dacc, 0, sizeof(vf) * nacc);
        for (int b0 = 0; b0 < B; b0 += W) {
            const size_t row = (size_t)e * B + b0;
            block(kind, L, D, d, H, N, xs, B - b0 < W ? B - b0 : W, gscale, a, w, ctx + row * D * L,
                  xq + row * xs, yq + row * N, z, p, yv, gsb, dacc, dwacc, lacc);
        }
        for (size_t x = 0; x < nacc; x++) {                    /* lanes -> totals, pairwise in a fixed order */
            vf vv = dacc[x];
            for (int half = W / 2; half > 0; half /= 2)
                for (int kk = 0; kk < half; kk++) vv[kk] += vv[kk + half];
            dacc[x][0] = vv[0];
        }
        for (int x = 0; x < H * D * d; x++) da[x] = dacc[x][0];
        for (int x = 0; x < N * H * D; x++) dw[x] = dwacc[x][0];
        loss[e] = (*lacc)[0] / (float)(B * N);
        param_grads(D, d, H, N, sc, q + pe, k + pe, v + pe, o + oe, da, dw, gq + pe, gk + pe, gv + pe, go + oe);
    }
    free(buf);
    free(a);
    return 0;
}
