#pragma once
// Vectorised single-precision kernels for the pointwise functions that dominate a transformer step outside
// BLAS (GELU's tanh). Branch-free loops the compiler vectorises; built for AVX-512, AVX2 and the baseline and
// picked at load time. Accuracy: tanh within 1e-6 absolute of libm's tanhf (tested against it).

// y[i] = tanh(x[i])
void rb_tanh_f32(const float *x, float *y, long n);
// y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void rb_gelu_f32(const float *x, float *y, long n);
// dx[i] += dy[i] * gelu'(x[i])
void rb_gelu_backward_f32(const float *x, const float *dy, float *dx, long n);
// x[i] = exp(x[i] - shift) in place for x[i] <= shift (e.g. shift = the row maximum); returns the sum.
float rb_exp_shifted_sum_f32(float *x, long n, float shift);
