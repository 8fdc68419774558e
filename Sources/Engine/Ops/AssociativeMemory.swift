// The Associative LSTM's step (Danihelka et al. 2016), pointwise part, forward and backward in one pass each.
// The matrix products that make the gate pre-activations are `linear` calls; NN's `AssociativeLSTM` composes the
// same step from plain ops (`AssociativeLSTM.composed`), the naive twin this kernel is tested against.

/// One Associative LSTM step after the gate products. With R real units = N complex units stored [re | im]:
///
///     gates [B, 3N + 3R] = a_f, a_i, a_o (N each), a_u, a_ri, a_ro (R each)
///     f, i, o = sigmoid(a_f, a_i, a_o); u, r_i, r_o = bound(a_u, a_ri, a_ro), bound(z) = z / max(1, |z|)
///     c'[s] = f * c[s] + (P_s r_i) (x) (i * u)                  cells [B, S, R], copy s under permutation P_s
///     h = o * bound( mean_s (P_s r_o) (x) c'[s] )                (x): complex product per unit
///
/// `permutations[s][k]` is the complex unit of the key that copy s uses at unit k. Returns (h [B, R], c' [B, S, R]).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func associativeLSTMCell<T: Real>(gates: Tensor<T>, cells: Tensor<T>, permutations: [[Int]]) -> (h: Tensor<T>, cells: Tensor<T>) {
    let b = cells.shape[0], s = cells.shape[1], r = cells.shape[2], n = r / 2
    precondition(cells.rank == 3 && r % 2 == 0 && permutations.count == s && permutations.allSatisfy { $0.count == n },
                 "associativeLSTMCell: cells \(cells.shape) with \(permutations.count) permutations")
    let g = 3 * n + 3 * r
    precondition(gates.shape == [b, g], "associativeLSTMCell: gates \(gates.shape) should be [\(b), \(g)]")
    let perm = permutations.flatMap { $0 }  // perm[copy * n + k]
    let h = Tensor<T>(shape: [b, r], uninitialized: true), next = Tensor<T>(shape: [b, s, r], uninitialized: true)
    // Kept for backward: the gates' activations [f, i, o | u, r_i, r_o] per row and the read before its bound.
    let act = UnsafeMutablePointer<T>.allocate(capacity: max(b * g, 1))
    let read = UnsafeMutablePointer<T>.allocate(capacity: max(b * r, 1))
    let A = gates.data, C = cells.data, CN = next.data, H = h.data
    let inverseCopies = 1 / T(s)
    parallelFor(b, grain: 4) { rows in
        for row in rows {
            let a = A + row * g, v = act + row * g
            for j in 0..<(3 * n) { v[j] = sigmoidScalar(a[j]) }
            for part in 0..<3 {
                let off = 3 * n + part * r
                for k in 0..<n { (v[off + k], v[off + n + k]) = bound(a[off + k], a[off + n + k]) }
            }
            let u = v + 3 * n, ri = u + r, ro = ri + r, m = read + row * r
            for k in 0..<n {
                let f = v[k], wr = v[n + k] * u[k], wi = v[n + k] * u[n + k]
                var mr: T = 0, mi: T = 0
                for copy in 0..<s {
                    let p = perm[copy * n + k], base = (row * s + copy) * r
                    let kr = ri[p], ki = ri[n + p]
                    let cr = f * C[base + k] + kr * wr - ki * wi
                    let ci = f * C[base + n + k] + kr * wi + ki * wr
                    CN[base + k] = cr
                    CN[base + n + k] = ci
                    let or = ro[p], oi = ro[n + p]
                    mr += or * cr - oi * ci
                    mi += or * ci + oi * cr
                }
                m[k] = mr * inverseCopies
                m[n + k] = mi * inverseCopies
                let (br, bi) = bound(m[k], m[n + k]), o = v[2 * n + k]
                H[row * r + k] = o * br
                H[row * r + n + k] = o * bi
            }
        }
    }
    let savedAct = OwnedBuffer(act), savedRead = OwnedBuffer(read)
    if let tape = recordingTape(gates, cells) {
        h.requiresGrad = true
        next.requiresGrad = true
        tape.record {
            let dH = h.grad, dCN = next.grad, act = savedAct.pointer, read = savedRead.pointer
            let dA = gates.requiresGrad ? gates.grad : nil, dC = cells.requiresGrad ? cells.grad : nil
            parallelFor(b, grain: 4) { rows in
                // Gradients of the bounded keys, summed over the (copy, unit) pairs that read them.
                let dKeys = UnsafeMutablePointer<T>.allocate(capacity: 2 * r)
                defer { dKeys.deallocate() }
                for row in rows {
                    let v = act + row * g, u = v + 3 * n, ri = u + r, ro = ri + r, m = read + row * r
                    let dri = dKeys, dro = dKeys + r
                    dKeys.initialize(repeating: 0, count: 2 * r)
                    let dh = dH + row * r, a = A + row * g
                    for k in 0..<n {
                        let f = v[k], i = v[n + k], o = v[2 * n + k]
                        let (br, bi) = bound(m[k], m[n + k])
                        let dbr = dh[k] * o, dbi = dh[n + k] * o
                        let (dmr, dmi) = boundBackward(m[k], m[n + k], dbr, dbi)
                        let dRr = dmr * inverseCopies, dRi = dmi * inverseCopies
                        let wr = i * u[k], wi = i * u[n + k]
                        var df: T = 0, dwr: T = 0, dwi: T = 0
                        for copy in 0..<s {
                            let p = perm[copy * n + k], base = (row * s + copy) * r
                            let cr = CN[base + k], ci = CN[base + n + k]
                            let or = ro[p], oi = ro[n + p], kr = ri[p], ki = ri[n + p]
                            dro[p] += dRr * cr + dRi * ci  // d(r_o) = dRead * conj(c')
                            dro[n + p] += dRi * cr - dRr * ci
                            let dcr = dCN[base + k] + dRr * or + dRi * oi  // dc' = incoming + dRead * conj(r_o)
                            let dci = dCN[base + n + k] + dRi * or - dRr * oi
                            df += dcr * C[base + k] + dci * C[base + n + k]
                            if let dC {
                                dC[base + k] += f * dcr
                                dC[base + n + k] += f * dci
                            }
                            dri[p] += dcr * wr + dci * wi  // d(key) = dc' * conj(w)
                            dri[n + p] += dci * wr - dcr * wi
                            dwr += dcr * kr + dci * ki  // dw = dc' * conj(key)
                            dwi += dci * kr - dcr * ki
                        }
                        guard let dA else { continue }
                        let da = dA + row * g
                        da[k] += df * f * (1 - f)
                        da[n + k] += (dwr * u[k] + dwi * u[n + k]) * i * (1 - i)
                        da[2 * n + k] += (dh[k] * br + dh[n + k] * bi) * o * (1 - o)
                        let (dur, dui) = boundBackward(a[3 * n + k], a[3 * n + n + k], i * dwr, i * dwi)
                        da[3 * n + k] += dur
                        da[3 * n + n + k] += dui
                    }
                    guard let dA else { continue }
                    let da = dA + row * g
                    for (off, dKey) in [(3 * n + r, dri), (3 * n + 2 * r, dro)] {
                        for k in 0..<n {
                            let (dzr, dzi) = boundBackward(a[off + k], a[off + n + k], dKey[k], dKey[n + k])
                            da[off + k] += dzr
                            da[off + n + k] += dzi
                        }
                    }
                }
            }
        }
    }
    return (h, next)
}

/// z / max(1, |z|) for one complex unit.
@inline(__always)
private func bound<T: Real>(_ re: T, _ im: T) -> (T, T) {
    let m2 = re * re + im * im
    guard m2 > 1 else { return (re, im) }
    let scale = 1 / m2.squareRoot()
    return (re * scale, im * scale)
}

/// The gradient of `bound` at z given the gradient of its output: the identity inside the unit circle, outside
/// (I - b b^T) / |z| with b = z / |z| (the unit vector's Jacobian).
@inline(__always)
private func boundBackward<T: Real>(_ re: T, _ im: T, _ dre: T, _ dim: T) -> (T, T) {
    let m2 = re * re + im * im
    guard m2 > 1 else { return (dre, dim) }
    let mag = m2.squareRoot(), br = re / mag, bi = im / mag, dot = br * dre + bi * dim
    return ((dre - br * dot) / mag, (dim - bi * dot) / mag)
}
