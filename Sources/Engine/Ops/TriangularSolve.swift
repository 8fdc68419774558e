// Solving unit lower-triangular systems, batched: the step that turns the delta rule's chunk into products.

/// X with (I + strictLower(M)) X = B, batched: M [N, L, L] (only its strictly lower part is read), B [N, L, D]
/// -> X [N, L, D], by forward substitution (X_t = B_t - sum_{s<t} M[t, s] X_s). Backward: dB = (I + L)^-T dX
/// (back substitution) and dM[t, s] = -dB_t . X_s for s < t (zero on and above the diagonal).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func unitLowerTriangularSolve<T: Real>(_ m: Tensor<T>, _ b: Tensor<T>) -> Tensor<T> {
    precondition(m.rank == 3 && b.rank == 3 && m.shape[0] == b.shape[0] && m.shape[1] == m.shape[2] && m.shape[1] == b.shape[1],
                 "unitLowerTriangularSolve: shapes \(m.shape), \(b.shape)")
    let n = b.shape[0], l = b.shape[1], d = b.shape[2]
    let x = b.copy()
    let M = m.data, X = x.data
    ParallelJobs.perform(n) { i in
        let mi = M + i * l * l, xi = X + i * l * d
        for t in 1..<max(l, 1) {
            let row = xi + t * d
            for s in 0..<t {
                let c = mi[t * l + s]
                if c == 0 { continue }
                let src = xi + s * d
                for j in 0..<d { row[j] -= c * src[j] }
            }
        }
    }
    if let tape = recordingTape(m, b) {
        x.requiresGrad = true
        tape.record {
            let G = x.grad
            let db = UnsafeMutablePointer<T>.allocate(capacity: max(n * l * d, 1))
            db.update(from: G, count: n * l * d)
            ParallelJobs.perform(n) { i in
                let mi = M + i * l * l, dbi = db + i * l * d
                var t = l - 1
                while t >= 0 {  // dB_s = dX_s - sum_{t > s} M[t, s] dB_t, from the last row up
                    let row = dbi + t * d
                    for s in 0..<t {
                        let c = mi[t * l + s]
                        if c == 0 { continue }
                        let dst = dbi + s * d
                        for j in 0..<d { dst[j] -= c * row[j] }
                    }
                    t -= 1
                }
            }
            if b.requiresGrad {
                let D = b.grad
                for i in 0..<(n * l * d) { D[i] += db[i] }
            }
            if m.requiresGrad {
                let DM = m.grad
                ParallelJobs.perform(n) { i in
                    let dbi = db + i * l * d, xi = X + i * l * d, dmi = DM + i * l * l
                    for t in 1..<max(l, 1) {
                        for s in 0..<t {
                            var acc: T = 0
                            for j in 0..<d { acc += dbi[t * d + j] * xi[s * d + j] }
                            dmi[t * l + s] -= acc
                        }
                    }
                }
            }
            db.deallocate()
        }
    }
    return x
}
