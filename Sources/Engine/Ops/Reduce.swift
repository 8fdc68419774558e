// Reductions over one axis, and over everything.

public enum Reduction: Sendable { case sum, mean, max }

/// Reduces one axis: [outer..., n, inner...] -> [outer..., inner...] (or with a 1 kept there).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func reduce<T: Real>(_ x: Tensor<T>, axis: Int, _ kind: Reduction, keepDims: Bool = false) -> Tensor<T> {
    let ax = axis < 0 ? axis + x.rank : axis
    precondition(ax >= 0 && ax < x.rank, "reduce: axis \(axis) out of range for \(x.shape)")
    let outer = x.shape[..<ax].reduce(1, *), n = x.shape[ax], inner = x.shape[(ax + 1)...].reduce(1, *)
    precondition(n > 0 || kind == .sum, "reduce: empty axis")
    var outShape = x.shape
    if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
    let y = Tensor<T>(shape: outShape)
    let X = x.data, Y = y.data
    // Argmax positions for the max backward (first maximum wins).
    var argmax = kind == .max ? [Int](repeating: 0, count: outer * inner) : []
    for o in 0..<outer {
        for i in 0..<inner {
            let base = o * n * inner + i
            switch kind {
            case .sum, .mean:
                var s: T = 0
                for j in 0..<n { s += X[base + j * inner] }
                Y[o * inner + i] = kind == .mean ? s / T(n) : s
            case .max:
                var best = X[base], arg = 0
                for j in 1..<max(n, 1) where X[base + j * inner] > best { best = X[base + j * inner]; arg = j }
                Y[o * inner + i] = best
                argmax[o * inner + i] = arg
            }
        }
    }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        tape.record {
            let G = y.grad, D = x.grad
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i, g = G[o * inner + i]
                    switch kind {
                    case .sum: for j in 0..<n { D[base + j * inner] += g }
                    case .mean: for j in 0..<n { D[base + j * inner] += g / T(n) }
                    case .max: D[base + argmax[o * inner + i] * inner] += g
                    }
                }
            }
        }
    }
    return y
}

public func sum<T: Real>(_ x: Tensor<T>, axis: Int, keepDims: Bool = false) -> Tensor<T> { reduce(x, axis: axis, .sum, keepDims: keepDims) }
public func mean<T: Real>(_ x: Tensor<T>, axis: Int, keepDims: Bool = false) -> Tensor<T> { reduce(x, axis: axis, .mean, keepDims: keepDims) }
public func max<T: Real>(_ x: Tensor<T>, axis: Int, keepDims: Bool = false) -> Tensor<T> { reduce(x, axis: axis, .max, keepDims: keepDims) }

/// The index of the largest entry of each row of a [N, C] tensor (the first, on ties): predicted classes.
public func argmaxRows<T: Real>(_ x: Tensor<T>) -> [Int32] {
    precondition(x.rank == 2, "argmaxRows: \(x.shape) is not [N, C]")
    let c = x.shape[1]
    return (0..<x.shape[0]).map { r in
        let row = x.data + r * c
        var best = 0
        for j in 1..<c where row[j] > row[best] { best = j }
        return Int32(best)
    }
}

/// Sum (or mean) of every element: a scalar tensor of shape [].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func sumAll<T: Real>(_ x: Tensor<T>, mean: Bool = false) -> Tensor<T> {
    let flat = reshape(x, [x.count])
    let s = reduce(flat, axis: 0, mean ? .mean : .sum)
    return s
}
