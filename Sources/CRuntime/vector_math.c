#include "vector_math.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

// exp(x) for x <= 0 (all our callers pass -2|u|): 2^n * p(r), r = x - n ln2, |r| <= ln2/2; Cephes' polynomial.
static inline float exp_nonpositive(float x) {
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
    float e = exp_nonpositive(-2.0f * a);
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

MULTIVERSION
void rb_gelu_f32(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        float t = tanh_approx(GELU_C * (v + GELU_K * v * v * v));
        y[i] = 0.5f * v * (1.0f + t);
    }
}

MULTIVERSION
void rb_gelu_backward_f32(const float *x, const float *dy, float *dx, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i], v2 = v * v;
        float t = tanh_approx(GELU_C * (v + GELU_K * v2 * v));
        float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * GELU_K * v2);
        dx[i] += dy[i] * d;
    }
}

MULTIVERSION
float rb_exp_shifted_sum_f32(float *x, long n, float shift) {
    for (long i = 0; i < n; i++) x[i] = exp_nonpositive(x[i] - shift);
    // Sixteen fixed lanes, then the lanes in order: vectorisable and still the same result on every run.
    float lane[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) lane[j] += x[i + j];
    float sum = 0.0f;
    for (int j = 0; j < 16; j++) sum += lane[j];
    for (; i < n; i++) sum += x[i];
    return sum;
}
