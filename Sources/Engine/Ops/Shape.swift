// Shape ops: reshape (a view), permute, slice, concat.

/// The same values under another shape: a view sharing values and gradients, so it needs no backward.
public func reshape<T: Real>(_ x: Tensor<T>, _ shape: [Int]) -> Tensor<T> {
    var shape = shape
    if let i = shape.firstIndex(of: -1) {
        let known = shape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
        shape[i] = known == 0 ? 0 : x.count / known
    }
    precondition(shape.reduce(1, *) == x.count, "reshape: \(x.shape) cannot become \(shape)")
    return Tensor(shape: shape, storage: x.storage, offset: x.offset, requiresGrad: x.requiresGrad)
}

/// Reorders dimensions: output dimension i is input dimension dims[i].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func permute<T: Real>(_ x: Tensor<T>, _ dims: [Int]) -> Tensor<T> {
    precondition(dims.sorted() == Array(0..<x.rank), "permute: \(dims) is not a permutation of \(x.rank) dimensions")
    let outShape = dims.map { x.shape[$0] }
    var inStrides = [Int](repeating: 1, count: x.rank)
    for i in stride(from: x.rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * x.shape[i + 1] }
    let strides = dims.map { inStrides[$0] }  // input stride of each output dimension
    let y = Tensor<T>(shape: outShape, uninitialized: true)
    let X = x.data, Y = y.data
    let zeros = [Int](repeating: 0, count: outShape.count)
    forEachBroadcast(outShape, strides, zeros) { o, i, _ in Y[o] = X[i] }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        tape.record {
            let G = y.grad, D = x.grad
            forEachBroadcast(outShape, strides, zeros) { o, i, _ in D[i] += G[o] }
        }
    }
    return y
}

public func transpose<T: Real>(_ x: Tensor<T>, _ a: Int, _ b: Int) -> Tensor<T> {
    var dims = Array(0..<x.rank)
    dims.swapAt(a, b)
    return permute(x, dims)
}

/// x[..., range, ...] along one axis (a copy).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func slice<T: Real>(_ x: Tensor<T>, axis: Int, _ range: Range<Int>) -> Tensor<T> {
    let ax = axis < 0 ? axis + x.rank : axis
    precondition(range.lowerBound >= 0 && range.upperBound <= x.shape[ax], "slice: \(range) out of 0..<\(x.shape[ax])")
    let outer = x.shape[..<ax].reduce(1, *), n = x.shape[ax], inner = x.shape[(ax + 1)...].reduce(1, *)
    var outShape = x.shape
    outShape[ax] = range.count
    let y = Tensor<T>(shape: outShape, uninitialized: true)
    let w = range.count * inner
    for o in 0..<outer { (y.data + o * w).update(from: x.data + o * n * inner + range.lowerBound * inner, count: w) }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        tape.record {
            for o in 0..<outer {
                let G = y.grad + o * w, D = x.grad + o * n * inner + range.lowerBound * inner
                for i in 0..<w { D[i] += G[i] }
            }
        }
    }
    return y
}

/// Joins tensors along one axis; every other dimension must agree.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func concat<T: Real>(_ xs: [Tensor<T>], axis: Int) -> Tensor<T> {
    precondition(!xs.isEmpty, "concat of nothing")
    let rank = xs[0].rank
    let ax = axis < 0 ? axis + rank : axis
    for x in xs {
        precondition(x.rank == rank && (0..<rank).allSatisfy { $0 == ax || x.shape[$0] == xs[0].shape[$0] },
                     "concat: \(x.shape) does not match \(xs[0].shape) outside axis \(ax)")
    }
    let outer = xs[0].shape[..<ax].reduce(1, *), inner = xs[0].shape[(ax + 1)...].reduce(1, *)
    let total = xs.map { $0.shape[ax] }.reduce(0, +)
    var outShape = xs[0].shape
    outShape[ax] = total
    let y = Tensor<T>(shape: outShape, uninitialized: true)
    var start = 0
    var starts: [Int] = []
    for x in xs {
        starts.append(start)
        let w = x.shape[ax] * inner
        for o in 0..<outer { (y.data + o * total * inner + start * inner).update(from: x.data + o * w, count: w) }
        start += x.shape[ax]
    }
    if let tape = recordingTape(xs) {
        y.requiresGrad = true
        tape.record {
            for (x, s) in zip(xs, starts) where x.requiresGrad {
                let w = x.shape[ax] * inner
                for o in 0..<outer {
                    let G = y.grad + o * total * inner + s * inner, D = x.grad + o * w
                    for i in 0..<w { D[i] += G[i] }
                }
            }
        }
    }
    return y
}
