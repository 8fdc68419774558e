// Embedding lookup.

/// Rows of `table` [V, D] picked by `indices` -> [indices.count, D]. Backward scatter-adds into the table,
/// column blocks in parallel and rows in index order, so repeated indices accumulate deterministically.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gather<T: Real>(_ table: Tensor<T>, _ indices: [Int32]) -> Tensor<T> {
    precondition(table.rank == 2, "gather: table must be [V, D], got \(table.shape)")
    let v = table.shape[0], d = table.shape[1]
    let y = Tensor<T>(shape: [indices.count, d], uninitialized: true)
    for (r, index) in indices.enumerated() {
        precondition(index >= 0 && Int(index) < v, "gather: index \(index) out of 0..<\(v)")
        (y.data + r * d).update(from: table.data + Int(index) * d, count: d)
    }
    if let tape = recordingTape(table) {
        y.requiresGrad = true
        tape.record {
            let G = y.grad, D = table.grad
            parallelFor(d, grain: 32) { cols in
                for (r, index) in indices.enumerated() {
                    let g = G + r * d, dst = D + Int(index) * d
                    for c in cols { dst[c] += g[c] }
                }
            }
        }
    }
    return y
}
