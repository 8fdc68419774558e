#include "vector_math.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

// exp(x) for x <= 88 (below -87 it is clamped): 2^n * p(r), r = x - n ln2, |r| <= ln2/2; Cephes' polynomial.
static inline float exp_below88(float x) {
    if (x < -87.0f) x = -87.0f;
    float n = __builtin_roundf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|); for |u| < 0.0625 the odd Taylor series, where the
// quotient would lose relative precision.
static inline float tanh_approx(float u) {
    float a = __builtin_fabsf(u);
    float e = exp_below88(-2.0f * a);
    float t = (1.0f - e) / (1.0f + e);
    float u2 = u * u;
    float series = a * (1.0f + u2 * (-0.333333333f + u2 * (0.133333333f + u2 * -0.0539682540f)));
    t = a < 0.0625f ? series : t;
    return u < 0 ? -t : t;
}

MULTIVERSION
void rb_tanh_f32(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = tanh_approx(x[i]);
}

#define GELU_C 0.7978845608028654f
#define GELU_K 0.044715f

// exp(x) for any x, clamped to [-87, 88] (the float range): the same reduction and polynomial as above.
static inline float exp_clamped(float x) { return exp_below88(x > 88.0f ? 88.0f : x); }

// GELU through the logistic function: 0.5 v (1 + tanh(u)) = v s with s = 1 / (1 + exp(-2u)), and
// gelu'(v) = s + 2 v s (1 - s) u'(v) with 1 - s = exp(-2u) s: one exponential and one division per value.
MULTIVERSION
void rb_gelu_f32(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        float e = exp_clamped(-2.0f * GELU_C * (v + GELU_K * v * v * v));
        y[i] = v / (1.0f + e);
    }
}

MULTIVERSION
void rb_gelu_backward_f32(const float *x, const float *dy, float *dx, long n, int assign) {
    for (long i = 0; i < n; i++) {
        float v = x[i], v2 = v * v;
        float e = exp_clamped(-2.0f * GELU_C * (v + GELU_K * v2 * v));
        float s = 1.0f / (1.0f + e);
        float d = s + 2.0f * v * s * s * e * GELU_C * (1.0f + 3.0f * GELU_K * v2);
        dx[i] = (assign ? 0.0f : dx[i]) + dy[i] * d;
    }
}

// Sums x[0..<n] in sixteen fixed lanes, then the lanes in order (vectorisable, the same result on every run).
static inline __attribute__((always_inline)) float lane_sum(const float *x, long n) {
    float lane[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) lane[j] += x[i + j];
    float sum = 0.0f;
    for (int j = 0; j < 16; j++) sum += lane[j];
    for (; i < n; i++) sum += x[i];
    return sum;
}

MULTIVERSION
float rb_exp_shifted_sum_f32(float *x, long n, float shift) {
    for (long i = 0; i < n; i++) x[i] = exp_below88(x[i] - shift);
    return lane_sum(x, n);
}

MULTIVERSION
void rb_layer_norm_f32(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                       long rows, long c, float eps) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        float m = lane_sum(xr, c) / (float)c;
        float lane[16] = {0};
        long i = 0;
        for (; i + 16 <= c; i += 16)
            for (int j = 0; j < 16; j++) { float d = xr[i + j] - m; lane[j] += d * d; }
        float v = 0.0f;
        for (int j = 0; j < 16; j++) v += lane[j];
        for (; i < c; i++) { float d = xr[i] - m; v += d * d; }
        v /= (float)c;
        float s = 1.0f / __builtin_sqrtf(v + eps);
        for (i = 0; i < c; i++) yr[i] = (xr[i] - m) * s * gamma[i] + beta[i];
        mean[r] = m;
        rstd[r] = s;
    }
}

MULTIVERSION
void rb_layer_norm_backward_f32(const float *x, const float *g, const float *gamma, const float *mean, const float *rstd,
                                float *dx, long rows, long c, int overwrite) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * c, *gr = g + r * c;
        float *dr = dx + r * c;
        float m = mean[r], s = rstd[r];
        float l1[16] = {0}, l2[16] = {0};
        long i = 0;
        for (; i + 16 <= c; i += 16)
            for (int j = 0; j < 16; j++) {
                float n = (xr[i + j] - m) * s, dn = gr[i + j] * gamma[i + j];
                l1[j] += dn;
                l2[j] += dn * n;
            }
        float meanDn = 0.0f, meanDnN = 0.0f;
        for (int j = 0; j < 16; j++) { meanDn += l1[j]; meanDnN += l2[j]; }
        for (; i < c; i++) {
            float n = (xr[i] - m) * s, dn = gr[i] * gamma[i];
            meanDn += dn;
            meanDnN += dn * n;
        }
        meanDn /= (float)c;
        meanDnN /= (float)c;
        if (overwrite) {
            for (i = 0; i < c; i++) dr[i] = s * (gr[i] * gamma[i] - meanDn - (xr[i] - m) * s * meanDnN);
        } else {
            for (i = 0; i < c; i++) dr[i] += s * (gr[i] * gamma[i] - meanDn - (xr[i] - m) * s * meanDnN);
        }
    }
}

MULTIVERSION
void rb_layer_norm_param_grads_f32(const float *x, const float *g, const float *mean, const float *rstd, float *dgamma,
                                   float *dbeta, long rows, long c, long lo, long hi) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * c, *gr = g + r * c;
        float m = mean[r], s = rstd[r];
        if (dgamma)
            for (long i = lo; i < hi; i++) dgamma[i] += (xr[i] - m) * s * gr[i];
        if (dbeta)
            for (long i = lo; i < hi; i++) dbeta[i] += gr[i];
    }
}

// The largest of x[0..<n] (n >= 1), in sixteen lanes (the maximum does not depend on the order).
static inline __attribute__((always_inline)) float lane_max(const float *x, long n) {
    float lane[16];
    for (int j = 0; j < 16; j++) lane[j] = x[0];
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    float m = lane[0];
    for (int j = 1; j < 16; j++) m = lane[j] > m ? lane[j] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

MULTIVERSION
void rb_causal_softmax_rows_f32(float *s, long rows, long cols, long first, float *lse, float *inv) {
    for (long r = 0; r < rows; r++) {
        float *row = s + r * cols;
        long visible = first + r < cols ? first + r : cols;
        float mx = lane_max(row, visible);
        for (long i = 0; i < visible; i++) row[i] = exp_below88(row[i] - mx);
        float sum = lane_sum(row, visible);
        for (long i = visible; i < cols; i++) row[i] = 0.0f;
        lse[r] = mx + __builtin_logf(sum);
        inv[r] = 1.0f / sum;
    }
}

MULTIVERSION
void rb_causal_softmax_backward_rows_f32(float *s, float *dp, long rows, long cols, long first, const float *lse,
                                         const float *inv, const float *delta) {
    for (long r = 0; r < rows; r++) {
        float *prow = s + r * cols, *dprow = dp + r * cols;
        long visible = first + r < cols ? first + r : cols;
        float di = delta[r];
        if (lse) {
            float l = lse[r];
            for (long i = 0; i < visible; i++) prow[i] = exp_below88(prow[i] - l);
        } else {
            float f = inv[r];
            for (long i = 0; i < visible; i++) prow[i] *= f;
        }
        for (long i = 0; i < visible; i++) dprow[i] = prow[i] * (dprow[i] - di);
        for (long i = visible; i < cols; i++) { prow[i] = 0.0f; dprow[i] = 0.0f; }
    }
}

MULTIVERSION
void rb_adam_f32(float *p, const float *g, float *m, float *v, long n, float beta1, float beta2, float step_size,
                 float bc2_root, float eps, float weight_decay, float shrink, int decoupled) {
#pragma clang fp contract(off)
    float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    if (decoupled) {
        for (long i = 0; i < n; i++) {
            float grad = g[i];
            p[i] *= shrink;
            m[i] = beta1 * m[i] + a1 * grad;
            v[i] = beta2 * v[i] + a2 * grad * grad;
            p[i] -= step_size * m[i] / (__builtin_sqrtf(v[i]) / bc2_root + eps);
        }
    } else {
        for (long i = 0; i < n; i++) {
            float grad = g[i] + weight_decay * p[i];
            m[i] = beta1 * m[i] + a1 * grad;
            v[i] = beta2 * v[i] + a2 * grad * grad;
            p[i] -= step_size * m[i] / (__builtin_sqrtf(v[i]) / bc2_root + eps);
        }
    }
}

MULTIVERSION
void rb_column_sums_f32(const float *m, long rows, long cols, long lo, long hi, float *into) {
    float acc[256];
    for (long c0 = lo; c0 < hi; c0 += 256) {
        long w = hi - c0 < 256 ? hi - c0 : 256;
        for (long j = 0; j < w; j++) acc[j] = 0.0f;
        for (long r = 0; r < rows; r++) {
            const float *row = m + r * cols + c0;
            for (long j = 0; j < w; j++) acc[j] += row[j];
        }
        for (long j = 0; j < w; j++) into[c0 + j] += acc[j];
    }
}
