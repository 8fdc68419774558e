#pragma once
// Vectorised single-precision kernels for the passes over activations that dominate a transformer step outside
// BLAS (GELU, layer norm, attention's softmax strips, bias gradients, Adam). Branch-free loops the compiler vectorises; built for AVX-512, AVX2 and the baseline and
// picked at load time. Accuracy: tanh within 1e-6 absolute of libm's tanhf (tested against it).

// y[i] = tanh(x[i])
void rb_tanh_f32(const float *x, float *y, long n);
// y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x^3)))
void rb_gelu_f32(const float *x, float *y, long n);
// dx[i] += dy[i] * gelu'(x[i]); with `assign`, dx[i] = dy[i] * gelu'(x[i]) (dx's old contents are not read)
void rb_gelu_backward_f32(const float *x, const float *dy, float *dx, long n, int assign);
// x[i] = exp(x[i] - shift) in place for x[i] <= shift (e.g. shift = the row maximum); returns the sum.
float rb_exp_shifted_sum_f32(float *x, long n, float shift);
// Layer normalisation of `rows` rows of c values: y = (x - mean) rstd gamma + beta, mean and rstd saved per row.
// Row sums in sixteen fixed lanes (vectorised; the same result on every run and for any split of the rows).
void rb_layer_norm_f32(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                       long rows, long c, float eps);
// Its input gradient: dx (+)= rstd (g gamma - mean(g gamma) - n mean(g gamma n)), n = (x - mean) rstd; `overwrite`
// writes dx instead of adding to it.
void rb_layer_norm_backward_f32(const float *x, const float *g, const float *gamma, const float *mean, const float *rstd,
                                float *dx, long rows, long c, int overwrite);
// Its parameter gradients for columns lo..<hi, summed over the rows in row order; either pointer may be NULL.
void rb_layer_norm_param_grads_f32(const float *x, const float *g, const float *mean, const float *rstd, float *dgamma,
                                   float *dbeta, long rows, long c, long lo, long hi);
// Causal softmax of a strip of scores s [rows x cols] in place: row r sees its first min(cols, first + r) entries,
// which become exp(s - row max) (unnormalised); the rest become 0. lse[r] = log(sum) + max, inv[r] = 1 / sum.
void rb_causal_softmax_rows_f32(float *s, long rows, long cols, long first, float *lse, float *inv);
// Its backward, in place, with dp = dO V^T: either s holds the recomputed scores and lse (inv NULL) their rows'
// log-sum-exp, so s = P = exp(s - lse); or s holds the unnormalised exponentials kept from forward and inv (lse NULL)
// their rows' 1 / sum, so s = P = s * inv. Then dp = P (dp - delta); both 0 past each row's visible entries.
void rb_causal_softmax_backward_rows_f32(float *s, float *dp, long rows, long cols, long first, const float *lse,
                                         const float *inv, const float *delta);
// One Adam(W) update of n parameters, operation for operation as NN's adamUpdate (no contracted multiply-adds):
// decoupled: p *= shrink, else grad += weight_decay p; m = beta1 m + (1 - beta1) grad; v = beta2 v + (1 - beta2) grad^2;
// p -= step_size m / (sqrt(v) / bc2_root + eps).
void rb_adam_f32(float *p, const float *g, float *m, float *v, long n, float beta1, float beta2, float step_size,
                 float bc2_root, float eps, float weight_decay, float shrink, int decoupled);
// into[c] += sum over the rows of m [rows x cols] of m[r, c], for columns lo..<hi, each column summed from 0 in row order.
void rb_column_sums_f32(const float *m, long rows, long cols, long lo, long hi, float *into);
