import CRuntime
// Layer normalisation, softmax and log-softmax, causal masking.

/// Layer normalisation over the last dimension: x [..., C], gamma [C], beta [C].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func layerNorm<T: Real>(_ x: Tensor<T>, gamma: Tensor<T>, beta: Tensor<T>, eps: T = 1e-5) -> Tensor<T> {
    let c = x.shape[x.rank - 1], rows = x.count / max(c, 1)
    precondition(gamma.shape == [c] && beta.shape == [c], "layerNorm: gamma/beta must be [\(c)]")
    let y = Tensor<T>(shape: x.shape, uninitialized: true)
    let means = UnsafeMutablePointer<T>.allocate(capacity: max(rows, 1))
    let rstds = UnsafeMutablePointer<T>.allocate(capacity: max(rows, 1))
    let X = x.data, Y = y.data, W = gamma.data, B = beta.data
    parallelFor(rows, grain: 16) { range in
        if T.self == Float.self {  // the vectorised kernel (row sums in fixed lanes)
            rb_layer_norm_f32(f32(X + range.lowerBound * c), f32(W), f32(B), f32(Y + range.lowerBound * c), f32(means + range.lowerBound),
                              f32(rstds + range.lowerBound), range.count, c, Float(eps))
            return
        }
        for r in range {
            let xr = X + r * c, yr = Y + r * c
            var m: T = 0
            for i in 0..<c { m += xr[i] }
            m /= T(c)
            var v: T = 0
            for i in 0..<c { let d = xr[i] - m; v += d * d }
            v /= T(c)
            let s = 1 / (v + eps).squareRoot()
            for i in 0..<c { yr[i] = (xr[i] - m) * s * W[i] + B[i] }
            means[r] = m
            rstds[r] = s
        }
    }
    guard let tape = recordingTape(x, gamma, beta) else {
        means.deallocate(); rstds.deallocate()
        return y
    }
    y.requiresGrad = true
    let savedMeans = OwnedBuffer(means), savedRstds = OwnedBuffer(rstds)
    tape.record {
        let G = y.grad
        if x.requiresGrad {
            // The Float kernel can assign a fresh gradient; the generic loop below only adds.
            let (D, assign) = T.self == Float.self ? x.gradForWriting() : (x.grad, false)
            parallelFor(rows, grain: 16) { range in
                if T.self == Float.self {
                    let o = range.lowerBound
                    rb_layer_norm_backward_f32(f32(X + o * c), f32(G + o * c), f32(W), f32(savedMeans.pointer + o), f32(savedRstds.pointer + o),
                                               f32(D + o * c), range.count, c, assign ? 1 : 0)
                    return
                }
                for r in range {
                    let xr = X + r * c, g = G + r * c, dx = D + r * c
                    let m = savedMeans.pointer[r], s = savedRstds.pointer[r]
                    var meanDn: T = 0, meanDnN: T = 0
                    for i in 0..<c {
                        let n = (xr[i] - m) * s
                        let dn = g[i] * W[i]
                        meanDn += dn
                        meanDnN += dn * n
                    }
                    meanDn /= T(c)
                    meanDnN /= T(c)
                    for i in 0..<c {
                        let n = (xr[i] - m) * s
                        dx[i] += s * (g[i] * W[i] - meanDn - n * meanDnN)
                    }
                }
            }
        }
        if gamma.requiresGrad || beta.requiresGrad {
            let dW = gamma.requiresGrad ? gamma.grad : nil, dB = beta.requiresGrad ? beta.grad : nil
            parallelFor(c, grain: 64) { cols in
                if T.self == Float.self {
                    rb_layer_norm_param_grads_f32(f32(X), f32(G), f32(savedMeans.pointer), f32(savedRstds.pointer), dW.map(f32), dB.map(f32),
                                                  rows, c, cols.lowerBound, cols.upperBound)
                    return
                }
                for r in 0..<rows {
                    let xr = X + r * c, g = G + r * c
                    let m = savedMeans.pointer[r], s = savedRstds.pointer[r]
                    for i in cols {
                        dW?[i] += (xr[i] - m) * s * g[i]
                        dB?[i] += g[i]
                    }
                }
            }
        }
    }
    return y
}

/// The same memory as Float, for the vectorised C kernels (callers check T == Float first).
@inlinable
public func f32<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
@inlinable
public func f32<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }

/// p[i] = exp(p[i] - shift) for i < n, returning the sum: the vectorised kernel for Float, libm otherwise.
/// Every p[i] must be <= shift (shift is the row maximum).
@inline(__always)
func expShiftedSum<T: Real>(_ p: UnsafeMutablePointer<T>, _ n: Int, shift: T) -> T {
    if T.self == Float.self {
        return T(rb_exp_shifted_sum_f32(f32(p), n, Float(shift)))
    }
    var s: T = 0
    for i in 0..<n { let e = T.exp(p[i] - shift); p[i] = e; s += e }
    return s
}

/// Owns a buffer that a backward closure needs (saved statistics, masks): freed when the closure is dropped.
final class OwnedBuffer<T> {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
    deinit { pointer.deallocate() }
}

/// Memory from TensorMemory (64-byte aligned), freed with the last reference.
final class AlignedBuffer<T> {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
    deinit { TensorMemory.release(pointer) }
}

/// Softmax (or log-softmax) over the last dimension.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func softmax<T: Real>(_ x: Tensor<T>, log: Bool = false) -> Tensor<T> {
    let c = x.shape[x.rank - 1], rows = x.count / max(c, 1)
    let y = Tensor<T>(shape: x.shape, uninitialized: true)
    let X = x.data, Y = y.data
    parallelFor(rows, grain: 8) { range in
        for r in range {
            let xr = X + r * c, yr = Y + r * c
            var m = -T.infinity
            for i in 0..<c where xr[i] > m { m = xr[i] }
            if m == -T.infinity { m = 0 }  // a fully masked row: keep it finite
            yr.update(from: xr, count: c)
            let s = expShiftedSum(yr, c, shift: m)
            if log {
                let lse = m + T.log(s)
                for i in 0..<c { yr[i] = xr[i] - lse }
            } else {
                let inv = 1 / s
                for i in 0..<c { yr[i] *= inv }
            }
        }
    }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        tape.record {
            let G = y.grad, D = x.grad
            parallelFor(rows, grain: 8) { range in
                for r in range {
                    let g = G + r * c, yr = Y + r * c, dx = D + r * c
                    if log {  // dx = g - softmax * sum(g)
                        var s: T = 0
                        for i in 0..<c { s += g[i] }
                        for i in 0..<c { dx[i] += g[i] - T.exp(yr[i]) * s }
                    } else {  // dx = y * (g - sum(g * y))
                        var s: T = 0
                        for i in 0..<c { s += g[i] * yr[i] }
                        for i in 0..<c { dx[i] += yr[i] * (g[i] - s) }
                    }
                }
            }
        }
    }
    return y
}

public func logSoftmax<T: Real>(_ x: Tensor<T>) -> Tensor<T> { softmax(x, log: true) }

/// Sets x[..., i, j] = -infinity where j > i (the last two dimensions are [T, T]); no gradient flows there.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func causalMask<T: Real>(_ x: Tensor<T>) -> Tensor<T> {
    let t = x.shape[x.rank - 1]
    precondition(x.rank >= 2 && x.shape[x.rank - 2] == t, "causalMask: last two dimensions must be [T, T], got \(x.shape)")
    let y = x.copy()
    let mats = x.count / max(t * t, 1)
    for m in 0..<mats {
        for i in 0..<t { for j in (i + 1)..<max(t, i + 1) { y.data[m * t * t + i * t + j] = -T.infinity } }
    }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        tape.record {
            for m in 0..<mats {
                for i in 0..<t { for j in 0...i { x.grad[m * t * t + i * t + j] += y.grad[m * t * t + i * t + j] } }
            }
        }
    }
    return y
}

/// Layer normalisation composed from plain ops (mean, subtract, multiply): the naive twin of `layerNorm`.
public func layerNormNaive<T: Real>(_ x: Tensor<T>, gamma: Tensor<T>, beta: Tensor<T>, eps: T = 1e-5) -> Tensor<T> {
    let last = x.rank - 1
    let centred = x - mean(x, axis: last, keepDims: true)
    let variance = mean(centred * centred, axis: last, keepDims: true)
    let inv = Tensor<T>(shape: [1], values: [1]) / exp(log(variance + eps) * T(0.5))
    return centred * inv * gamma + beta
}
