import CRuntime
// Elementwise binary ops with NumPy-style broadcasting, unary activations and scalar ops.

/// The broadcast shape of two shapes (aligned at the right), or nil when they do not broadcast.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        if da != db && da != 1 && db != 1 { return nil }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Strides of `shape` viewed in `outShape` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], in outShape: [Int]) -> [Int] {
    let r = outShape.count
    var strides = [Int](repeating: 0, count: r)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let o = i + (r - shape.count)
        strides[o] = shape[i] == 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// Calls body(outIndex, aIndex, bIndex) for every element of the broadcast output, in row-major order.
@inline(__always)
func forEachBroadcast(_ outShape: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
    let r = outShape.count
    let total = outShape.reduce(1, *)
    if total == 0 { return }
    if r == 0 { body(0, 0, 0); return }
    var idx = [Int](repeating: 0, count: r)
    var ia = 0, ib = 0
    let inner = outShape[r - 1], ia1 = sa[r - 1], ib1 = sb[r - 1]
    var o = 0
    while o < total {
        var pa = ia, pb = ib
        for _ in 0..<inner {
            body(o, pa, pb)
            o += 1; pa += ia1; pb += ib1
        }
        // Advance the outer index (dimensions r-2 ... 0).
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            ia += sa[d]; ib += sb[d]
            if idx[d] < outShape[d] { break }
            ia -= sa[d] * outShape[d]; ib -= sb[d] * outShape[d]
            idx[d] = 0
            d -= 1
        }
        if d < 0 { break }
    }
}

public enum BinaryOp: Sendable { case add, sub, mul, div }

@_specialize(where T == Float)
@_specialize(where T == Double)
public func binary<T: Real>(_ a: Tensor<T>, _ b: Tensor<T>, _ op: BinaryOp) -> Tensor<T> {
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor<T>(shape: shape, uninitialized: true)
    let A = a.data, B = b.data, O = out.data
    if a.shape == b.shape {
        parallelFor(out.count, grain: 1 << 14) { r in
            switch op {
            case .add: for i in r { O[i] = A[i] + B[i] }
            case .sub: for i in r { O[i] = A[i] - B[i] }
            case .mul: for i in r { O[i] = A[i] * B[i] }
            case .div: for i in r { O[i] = A[i] / B[i] }
            }
        }
    } else if let inner = trailingBroadcast(a.shape, b.shape) {
        // b repeats over a's leading dimensions (e.g. [B, T, C] + [T, C]): contiguous rows, in parallel.
        let rows = a.count / max(inner, 1)
        parallelFor(rows, grain: max(1, (1 << 14) / max(inner, 1))) { r in
            for row in r {
                let o = row * inner
                switch op {
                case .add: for j in 0..<inner { O[o + j] = A[o + j] + B[j] }
                case .sub: for j in 0..<inner { O[o + j] = A[o + j] - B[j] }
                case .mul: for j in 0..<inner { O[o + j] = A[o + j] * B[j] }
                case .div: for j in 0..<inner { O[o + j] = A[o + j] / B[j] }
                }
            }
        }
    } else {
        let sa = broadcastStrides(a.shape, in: shape), sb = broadcastStrides(b.shape, in: shape)
        switch op {
        case .add: forEachBroadcast(shape, sa, sb) { o, i, j in O[o] = A[i] + B[j] }
        case .sub: forEachBroadcast(shape, sa, sb) { o, i, j in O[o] = A[i] - B[j] }
        case .mul: forEachBroadcast(shape, sa, sb) { o, i, j in O[o] = A[i] * B[j] }
        case .div: forEachBroadcast(shape, sa, sb) { o, i, j in O[o] = A[i] / B[j] }
        }
    }
    if let tape = recordingTape(a, b) {
        out.requiresGrad = true
        tape.record {
            let G = out.grad
            if a.shape == b.shape {  // elementwise: each gradient element in one vectorisable pass, in parallel
                // (a and b may be one tensor: b's gradient is then taken after a's exists, and adds.)
                let wa = a.requiresGrad ? a.gradForWriting() : nil
                let wb = b.requiresGrad ? b.gradForWriting() : nil
                parallelFor(out.count, grain: 1 << 14) { r in
                    if let (dA, assign) = wa {
                        switch (op, assign) {
                        case (.add, true), (.sub, true): for i in r { dA[i] = G[i] }
                        case (.add, false), (.sub, false): for i in r { dA[i] += G[i] }
                        case (.mul, true): for i in r { dA[i] = G[i] * B[i] }
                        case (.mul, false): for i in r { dA[i] += G[i] * B[i] }
                        case (.div, true): for i in r { dA[i] = G[i] / B[i] }
                        case (.div, false): for i in r { dA[i] += G[i] / B[i] }
                        }
                    }
                    if let (dB, assign) = wb {
                        switch (op, assign) {
                        case (.add, true): for i in r { dB[i] = G[i] }
                        case (.add, false): for i in r { dB[i] += G[i] }
                        case (.sub, true): for i in r { dB[i] = -G[i] }
                        case (.sub, false): for i in r { dB[i] -= G[i] }
                        case (.mul, true): for i in r { dB[i] = G[i] * A[i] }
                        case (.mul, false): for i in r { dB[i] += G[i] * A[i] }
                        case (.div, true): for i in r { dB[i] = -(G[i] * A[i] / (B[i] * B[i])) }
                        case (.div, false): for i in r { dB[i] -= G[i] * A[i] / (B[i] * B[i]) }
                        }
                    }
                }
                return
            }
            if let inner = trailingBroadcast(a.shape, b.shape), a.shape == shape {
                binaryTrailingBackward(op, A, B, G, a.requiresGrad ? a.grad : nil, b.requiresGrad ? b.grad : nil, rows: a.count / max(inner, 1), inner: inner)
                return
            }
            let sa = broadcastStrides(a.shape, in: shape), sb = broadcastStrides(b.shape, in: shape)
            if a.requiresGrad {
                let dA = a.grad
                switch op {
                case .add, .sub: forEachBroadcast(shape, sa, sb) { o, i, _ in dA[i] += G[o] }
                case .mul: forEachBroadcast(shape, sa, sb) { o, i, j in dA[i] += G[o] * B[j] }
                case .div: forEachBroadcast(shape, sa, sb) { o, i, j in dA[i] += G[o] / B[j] }
                }
            }
            if b.requiresGrad {
                let dB = b.grad
                switch op {
                case .add: forEachBroadcast(shape, sa, sb) { o, _, j in dB[j] += G[o] }
                case .sub: forEachBroadcast(shape, sa, sb) { o, _, j in dB[j] -= G[o] }
                case .mul: forEachBroadcast(shape, sa, sb) { o, i, j in dB[j] += G[o] * A[i] }
                case .div: forEachBroadcast(shape, sa, sb) { o, i, j in dB[j] -= G[o] * A[i] / (B[j] * B[j]) }
                }
            }
        }
    }
    return out
}

/// The size of b when b's shape equals the trailing dimensions of a's (so b repeats over a's leading ones).
func trailingBroadcast(_ a: [Int], _ b: [Int]) -> Int? {
    guard b.count < a.count, !b.isEmpty, Array(a.suffix(b.count)) == b else { return nil }
    return b.reduce(1, *)
}

/// Backward of `binary` when b repeats over a's leading dimensions: dA row by row in parallel; dB column
/// blocks in parallel, each column summed over rows in row order (the same result for any thread count).
func binaryTrailingBackward<T: Real>(
    _ op: BinaryOp, _ A: UnsafeMutablePointer<T>, _ B: UnsafeMutablePointer<T>, _ G: UnsafeMutablePointer<T>,
    _ dA: UnsafeMutablePointer<T>?, _ dB: UnsafeMutablePointer<T>?, rows: Int, inner: Int
) {
    if let dA {
        parallelFor(rows, grain: max(1, (1 << 14) / max(inner, 1))) { r in
            for row in r {
                let o = row * inner
                switch op {
                case .add, .sub: for j in 0..<inner { dA[o + j] += G[o + j] }
                case .mul: for j in 0..<inner { dA[o + j] += G[o + j] * B[j] }
                case .div: for j in 0..<inner { dA[o + j] += G[o + j] / B[j] }
                }
            }
        }
    }
    if let dB {
        parallelFor(inner, grain: 64) { cols in
            for row in 0..<rows {
                let o = row * inner
                switch op {
                case .add: for j in cols { dB[j] += G[o + j] }
                case .sub: for j in cols { dB[j] -= G[o + j] }
                case .mul: for j in cols { dB[j] += G[o + j] * A[o + j] }
                case .div: for j in cols { dB[j] -= G[o + j] * A[o + j] / (B[j] * B[j]) }
                }
            }
        }
    }
}

public func + <T: Real>(a: Tensor<T>, b: Tensor<T>) -> Tensor<T> { binary(a, b, .add) }
public func - <T: Real>(a: Tensor<T>, b: Tensor<T>) -> Tensor<T> { binary(a, b, .sub) }
public func * <T: Real>(a: Tensor<T>, b: Tensor<T>) -> Tensor<T> { binary(a, b, .mul) }
public func / <T: Real>(a: Tensor<T>, b: Tensor<T>) -> Tensor<T> { binary(a, b, .div) }

/// y = x * scale + shift, elementwise, for constants.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func affine<T: Real>(_ x: Tensor<T>, scale: T, shift: T = 0) -> Tensor<T> {
    let y = Tensor<T>(shape: x.shape, uninitialized: true)
    let X = x.data, Y = y.data
    parallelFor(x.count, grain: 1 << 14) { r in for i in r { Y[i] = X[i] * scale + shift } }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        tape.record {
            let G = y.grad, D = x.grad
            parallelFor(x.count, grain: 1 << 14) { r in for i in r { D[i] += G[i] * scale } }
        }
    }
    return y
}

public func * <T: Real>(x: Tensor<T>, s: T) -> Tensor<T> { affine(x, scale: s) }
public func + <T: Real>(x: Tensor<T>, s: T) -> Tensor<T> { affine(x, scale: 1, shift: s) }

/// The pointwise functions, each with its derivative written from the input x and the output y.
public enum Activation: String, Sendable, CaseIterable {
    case relu, gelu, tanh, sigmoid, elu, exp, log, identity, eluPlusOne

    @inline(__always)
    func apply<T: Real>(_ x: T) -> T {
        switch self {
        case .relu: return x > 0 ? x : 0
        case .gelu:  // the tanh approximation (GPT-2, PyTorch approximate='tanh')
            let c = T(0.7978845608028654)  // sqrt(2/pi)
            return T(0.5) * x * (1 + T.tanh(c * (x + T(0.044715) * x * x * x)))
        case .tanh: return T.tanh(x)
        case .sigmoid: return sigmoidScalar(x)
        case .elu: return x > 0 ? x : T.expm1(x)
        case .eluPlusOne: return x > 0 ? x + 1 : T.exp(x)
        case .exp: return T.exp(x)
        case .log: return T.log(x)
        case .identity: return x
        }
    }

    /// dy/dx at input x with output y.
    @inline(__always)
    func derivative<T: Real>(_ x: T, _ y: T) -> T {
        switch self {
        case .relu: return x > 0 ? 1 : 0
        case .gelu:
            let c = T(0.7978845608028654), k = T(0.044715), half = T(0.5)
            let x2: T = x * x
            let u: T = c * (x + k * x2 * x)
            let t: T = T.tanh(u)
            let du: T = c * (1 + 3 * k * x2)
            let left: T = half * (1 + t)
            let right: T = half * x * (1 - t * t) * du
            return left + right
        case .tanh: return 1 - y * y
        case .sigmoid: return y * (1 - y)
        case .elu: return x > 0 ? 1 : y + 1
        case .eluPlusOne: return x > 0 ? 1 : y
        case .exp: return y
        case .log: return 1 / x
        case .identity: return 1
        }
    }
}

@inline(__always) func sigmoidScalar<T: Real>(_ x: T) -> T {
    // Written so neither branch overflows.
    if x >= 0 { return 1 / (1 + T.exp(-x)) }
    let e = T.exp(x)
    return e / (1 + e)
}

@_specialize(where T == Float)
@_specialize(where T == Double)
public func activation<T: Real>(_ x: Tensor<T>, _ f: Activation) -> Tensor<T> {
    let y = Tensor<T>(shape: x.shape, uninitialized: true)
    let X = x.data, Y = y.data
    if T.self == Float.self, f == .gelu || f == .tanh {
        // Float: the vectorised kernels (CRuntime/vector_math.c); Double keeps libm, for gradient checks.
        return activationFloatFast(x, y, f)
    }
    parallelFor(x.count, grain: 1 << 13) { r in for i in r { Y[i] = f.apply(X[i]) } }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        tape.record {
            let G = y.grad, D = x.grad
            parallelFor(x.count, grain: 1 << 13) { r in for i in r { D[i] += G[i] * f.derivative(X[i], Y[i]) } }
        }
    }
    return y
}

/// GELU and tanh in Float through the vectorised C kernels, forward and backward.
private func activationFloatFast<T: Real>(_ x: Tensor<T>, _ y: Tensor<T>, _ f: Activation) -> Tensor<T> {
    let X = f32(x.data)
    let Y = f32(y.data)
    parallelFor(x.count, grain: 1 << 13) { r in
        if f == .gelu { rb_gelu_f32(X + r.lowerBound, Y + r.lowerBound, r.count) } else { rb_tanh_f32(X + r.lowerBound, Y + r.lowerBound, r.count) }
    }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        tape.record {
            let G = f32(y.grad)
            let (dx, assign) = x.gradForWriting()
            let D = f32(dx)
            parallelFor(x.count, grain: 1 << 13) { r in
                if f == .gelu {
                    rb_gelu_backward_f32(X + r.lowerBound, G + r.lowerBound, D + r.lowerBound, r.count, assign ? 1 : 0)
                } else if assign {
                    for i in r { D[i] = G[i] * (1 - Y[i] * Y[i]) }
                } else {
                    for i in r { D[i] += G[i] * (1 - Y[i] * Y[i]) }
                }
            }
        }
    }
    return y
}

public func relu<T: Real>(_ x: Tensor<T>) -> Tensor<T> { activation(x, .relu) }
public func gelu<T: Real>(_ x: Tensor<T>) -> Tensor<T> { activation(x, .gelu) }
public func tanh<T: Real>(_ x: Tensor<T>) -> Tensor<T> { activation(x, .tanh) }
public func sigmoid<T: Real>(_ x: Tensor<T>) -> Tensor<T> { activation(x, .sigmoid) }
public func elu<T: Real>(_ x: Tensor<T>) -> Tensor<T> { activation(x, .elu) }
public func exp<T: Real>(_ x: Tensor<T>) -> Tensor<T> { activation(x, .exp) }
public func log<T: Real>(_ x: Tensor<T>) -> Tensor<T> { activation(x, .log) }
