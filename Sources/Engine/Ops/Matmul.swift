// Matrix products through BLAS gemm, with their backward kernels.

import CRuntime

/// C = op(A) op(B). A is [M, K] ([K, M] when transA), B is [K, N] ([N, K] when transB); C is [M, N].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func matmul<T: Real>(_ a: Tensor<T>, _ b: Tensor<T>, transA: Bool = false, transB: Bool = false) -> Tensor<T> {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs 2-D tensors, got \(a.shape) and \(b.shape)")
    let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (k2, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    precondition(k == k2, "matmul: inner dimensions differ: \(a.shape)\(transA ? "ᵀ" : "") x \(b.shape)\(transB ? "ᵀ" : "")")
    let c = Tensor<T>(shape: [m, n], uninitialized: true)
    gemmAccumulate(transA, transB, m, n, k, a.data, a.shape[1], b.data, b.shape[1], c.data, n, beta: 0)
    if let tape = recordingTape(a, b) {
        c.requiresGrad = true
        tape.record {
            matmulBackward(a, b, c.grad, transA: transA, transB: transB, m: m, n: n, k: k)
        }
    }
    return c
}

/// dA and dB for C = op(A) op(B), accumulated.
func matmulBackward<T: Real>(
    _ a: Tensor<T>, _ b: Tensor<T>, _ dc: UnsafeMutablePointer<T>, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    batchOffsetA: Int = 0, batchOffsetB: Int = 0
) {
    let lda = a.shape[a.rank - 1], ldb = b.shape[b.rank - 1]
    let A = a.data + batchOffsetA, B = b.data + batchOffsetB
    if a.requiresGrad {
        let dA = a.grad + batchOffsetA
        if !transA {  // dA [M,K] += dC [M,N] op(B)^T
            gemmAccumulate(false, !transB, m, k, n, dc, n, B, ldb, dA, lda)
        } else {  // dA [K,M] += op(B) dC^T
            gemmAccumulate(transB, true, k, m, n, B, ldb, dc, n, dA, lda)
        }
    }
    if b.requiresGrad {
        let dB = b.grad + batchOffsetB
        if !transB {  // dB [K,N] += op(A)^T dC
            gemmAccumulate(!transA, false, k, n, m, A, lda, dc, n, dB, ldb)
        } else {  // dB [N,K] += dC^T op(A)
            gemmAccumulate(true, transA, n, k, m, dc, n, A, lda, dB, ldb)
        }
    }
}

/// C = alpha op(A) op(B) + beta C through BLAS. The library itself runs single-threaded (see `Engine`); a large
/// product is split here into `Engine.availableThreads` blocks of C's rows (or columns, when C is wide), each computed
/// by one thread with one BLAS call. The split depends only on the shapes and the thread count, so results are
/// deterministic, and no BLAS worker thread ever spins against the engine's own parallel kernels.
@inline(__always)
func gemmAccumulate<T: Real>(
    _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
    _ a: UnsafePointer<T>, _ lda: Int, _ b: UnsafePointer<T>, _ ldb: Int, _ c: UnsafeMutablePointer<T>, _ ldc: Int,
    beta: T = 1, alpha: T = 1
) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    let pieces = gemmPieces(m: m, n: n, k: k, threads: Engine.availableThreads)
    if T.self == Float.self, let trace = BLAS.trace {
        trace.record(GEMMTrace.Call(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, accumulate: beta != 0,
                                    single: pieces <= 1))
    }
    splitProduct(transA: transA, transB: transB, m: m, n: n, lda: lda, ldb: ldb, ldc: ldc, pieces: pieces) { pm, pn, ao, bo, co in
        T.gemm(transA: transA, transB: transB, m: pm, n: pn, k: k, alpha: alpha, a: a + ao, lda: lda, b: b + bo, ldb: ldb, beta: beta, c: c + co, ldc: ldc)
    }
}

/// Into how many blocks the engine splits an m x n x k product on `threads` threads: 1 (one BLAS call) below
/// `gemmSplitThreshold` multiply-adds, else up to one per thread (never more than C's longer side).
public func gemmPieces(m: Int, n: Int, k: Int, threads: Int) -> Int {
    min(threads, max(1, (m * n * k) / gemmSplitThreshold), max(m, n, 1))
}

/// Runs a product as `pieces` blocks of C's rows (or columns, when C is wide), concurrently, one call of
/// `piece(m, n, aOffset, bOffset, cOffset)` per block; one piece is the whole product, on the calling thread.
/// Row block lo..<hi of C comes from rows (or columns, when transposed) lo..<hi of A; a column block from columns
/// (or rows, when transposed) of B. The split depends only on the shapes and `pieces`.
@inline(__always)
public func splitProduct(transA: Bool, transB: Bool, m: Int, n: Int, lda: Int, ldb: Int, ldc: Int, pieces: Int,
                         _ piece: (_ m: Int, _ n: Int, _ aOffset: Int, _ bOffset: Int, _ cOffset: Int) -> Void) {
    if pieces <= 1 {
        piece(m, n, 0, 0, 0)
        return
    }
    let splitRows = m >= n
    let total = splitRows ? m : n
    DispatchQueue.concurrentPerform(iterations: pieces) { p in
        let lo = total * p / pieces, hi = total * (p + 1) / pieces
        if lo == hi { return }
        if splitRows {
            piece(hi - lo, n, transA ? lo : lo * lda, 0, lo * ldc)
        } else {
            piece(m, hi - lo, 0, transB ? lo * ldb : lo, lo)
        }
    }
}

/// Products smaller than this many multiply-adds run as one BLAS call.
let gemmSplitThreshold = 1 << 18

import Dispatch

/// Batched product: A [Batch, M, K] (or [Batch, K, M]), B [Batch, K, N] (or [Batch, N, K]) -> [Batch, M, N].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func batchedMatmul<T: Real>(_ a: Tensor<T>, _ b: Tensor<T>, transA: Bool = false, transB: Bool = false) -> Tensor<T> {
    precondition(a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0], "batchedMatmul: shapes \(a.shape), \(b.shape)")
    let batch = a.shape[0]
    let (m, k) = transA ? (a.shape[2], a.shape[1]) : (a.shape[1], a.shape[2])
    let (k2, n) = transB ? (b.shape[2], b.shape[1]) : (b.shape[1], b.shape[2])
    precondition(k == k2, "batchedMatmul: inner dimensions differ: \(a.shape) x \(b.shape)")
    let c = Tensor<T>(shape: [batch, m, n], uninitialized: true)
    let sa = a.shape[1] * a.shape[2], sb = b.shape[1] * b.shape[2]
    for i in 0..<batch {
        gemmAccumulate(transA, transB, m, n, k, a.data + i * sa, a.shape[2], b.data + i * sb, b.shape[2], c.data + i * m * n, n, beta: 0)
    }
    if let tape = recordingTape(a, b) {
        c.requiresGrad = true
        tape.record {
            for i in 0..<batch {
                matmulBackward(a, b, c.grad + i * m * n, transA: transA, transB: transB, m: m, n: n, k: k,
                               batchOffsetA: i * sa, batchOffsetB: i * sb)
            }
        }
    }
    return c
}

/// y = x W^T + b: x [..., In], weight [Out, In], bias [Out] -> [..., Out]. (PyTorch's nn.Linear layout.)
/// With a `residual` of y's shape, y = residual + x W^T + b in one pass: the product adds onto residual + b, so a
/// residual connection costs neither its own pass over the activations nor a copy of its gradient.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func linear<T: Real>(_ x: Tensor<T>, weight: Tensor<T>, bias: Tensor<T>?, residual: Tensor<T>? = nil) -> Tensor<T> {
    let inF = weight.shape[1], outF = weight.shape[0]
    precondition(x.shape.last == inF, "linear: input \(x.shape) does not end in \(inF)")
    let rows = x.count / max(inF, 1)
    let y = Tensor<T>(shape: Array(x.shape.dropLast()) + [outF], uninitialized: true)
    if let b = bias { precondition(b.shape == [outF], "linear: bias \(b.shape) should be [\(outF)]") }
    if let r = residual { precondition(r.shape == y.shape, "linear: residual \(r.shape) should be \(y.shape)") }
    if bias != nil || residual != nil {  // the rows the product adds onto
        let Y = y.data, B = bias?.data, R = residual?.data
        parallelFor(rows, grain: max(1, (1 << 14) / max(outF, 1))) { r in
            for row in r {
                let out = Y + row * outF
                if let R, let B {
                    let res = R + row * outF
                    for j in 0..<outF { out[j] = res[j] + B[j] }
                } else if let R {
                    out.update(from: R + row * outF, count: outF)
                } else if let B {
                    out.update(from: B, count: outF)
                }
            }
        }
    }
    gemmAccumulate(false, true, rows, outF, inF, x.data, inF, weight.data, inF, y.data, outF, beta: bias == nil && residual == nil ? 0 : 1)
    let inputs = [x, weight] + [bias, residual].compactMap { $0 }
    if let tape = recordingTape(inputs) {
        y.requiresGrad = true
        tape.record {
            let dy = y.grad
            if x.requiresGrad {
                let (dx, assign) = x.gradForWriting()
                gemmAccumulate(false, false, rows, inF, outF, dy, outF, weight.data, inF, dx, inF, beta: assign ? 0 : 1)
            }
            if weight.requiresGrad { gemmAccumulate(true, false, outF, inF, rows, dy, outF, x.data, inF, weight.grad, inF) }
            if let b = bias, b.requiresGrad { columnSumAccumulate(dy, rows: rows, cols: outF, into: b.grad) }
            if let r = residual, r.requiresGrad {
                let (dr, assign) = r.gradForWriting()
                parallelFor(rows * outF, grain: 1 << 14) { range in
                    if assign {
                        (dr + range.lowerBound).update(from: dy + range.lowerBound, count: range.count)
                    } else {
                        for i in range { dr[i] += dy[i] }
                    }
                }
            }
        }
    }
    return y
}

/// into[c] += sum over rows of m[r, c], each column summed in row order (independent of the thread count).
func columnSumAccumulate<T: Real>(_ m: UnsafePointer<T>, rows: Int, cols: Int, into: UnsafeMutablePointer<T>) {
    parallelFor(cols, grain: 64) { range in
        if T.self == Float.self {
            rb_column_sums_f32(f32(m), rows, cols, range.lowerBound, range.upperBound, f32(into))
            return
        }
        let w = range.count
        let acc = UnsafeMutablePointer<T>.allocate(capacity: w)
        defer { acc.deallocate() }
        acc.initialize(repeating: 0, count: w)
        for r in 0..<rows {
            let row = m + r * cols + range.lowerBound
            for j in 0..<w { acc[j] += row[j] }
        }
        for j in 0..<w { into[range.lowerBound + j] += acc[j] }
    }
}
