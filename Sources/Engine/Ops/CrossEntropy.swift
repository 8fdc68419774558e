// Fused softmax cross-entropy over logits with integer targets.

public enum LossReduction: Sendable { case mean, sum }

/// Cross-entropy of logits [N, V] against targets [N] (class indices). Targets equal to `ignoreIndex` add
/// nothing and are not counted; `.mean` divides by the number of counted targets (0 when there are none).
/// `weight` scales the whole loss (used for auxiliary losses). Returns a scalar of shape [].
@_specialize(where T == Float)
@_specialize(where T == Double)
public func crossEntropy<T: Real>(
    _ logits: Tensor<T>, targets: [Int32], ignoreIndex: Int32 = -1, reduction: LossReduction = .mean, weight: T = 1
) -> Tensor<T> {
    precondition(logits.rank == 2 && logits.shape[0] == targets.count, "crossEntropy: logits \(logits.shape) vs \(targets.count) targets")
    let n = logits.shape[0], v = logits.shape[1]
    let X = logits.data
    let rowLoss = UnsafeMutablePointer<T>.allocate(capacity: max(n, 1))
    defer { rowLoss.deallocate() }
    parallelFor(n, grain: 16) { range in
        let scratch = UnsafeMutablePointer<T>.allocate(capacity: max(v, 1))
        defer { scratch.deallocate() }
        for r in range {
            let t = targets[r]
            if t == ignoreIndex { rowLoss[r] = 0; continue }
            precondition(t >= 0 && Int(t) < v, "crossEntropy: target \(t) out of 0..<\(v)")
            let xr = X + r * v
            var m = -T.infinity
            for i in 0..<v where xr[i] > m { m = xr[i] }
            scratch.update(from: xr, count: v)
            let s = expShiftedSum(scratch, v, shift: m)
            rowLoss[r] = m + T.log(s) - xr[Int(t)]
        }
    }
    var total: T = 0
    for r in 0..<n { total += rowLoss[r] }  // fixed order: deterministic
    let counted = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    let scale: T = reduction == .sum ? weight : (counted > 0 ? weight / T(counted) : 0)
    let loss = Tensor<T>(shape: [], values: [total * scale])
    if let tape = recordingTape(logits) {
        loss.requiresGrad = true
        tape.record {
            let g = loss.grad[0] * scale
            let (D, assign) = logits.gradForWriting()
            parallelFor(n, grain: 16) { range in
                let scratch = UnsafeMutablePointer<T>.allocate(capacity: max(range.count * v, 1))
                defer { scratch.deallocate() }
                for r in range {
                    let t = targets[r]
                    let xr = X + r * v, dr = D + r * v
                    if t == ignoreIndex {
                        if assign { dr.initialize(repeating: 0, count: v) }
                        continue
                    }
                    var m = -T.infinity
                    for i in 0..<v where xr[i] > m { m = xr[i] }
                    let p = scratch + (r - range.lowerBound) * v
                    p.update(from: xr, count: v)
                    let gOverSum = g / expShiftedSum(p, v, shift: m)
                    if assign {
                        for i in 0..<v { dr[i] = gOverSum * p[i] }
                    } else {
                        for i in 0..<v { dr[i] += gOverSum * p[i] }
                    }
                    dr[Int(t)] -= g
                }
            }
        }
    }
    return loss
}

/// The same loss composed from log-softmax and a gather: the naive twin the fused kernel is tested against.
public func crossEntropyNaive<T: Real>(
    _ logits: Tensor<T>, targets: [Int32], ignoreIndex: Int32 = -1, reduction: LossReduction = .mean
) -> Tensor<T> {
    let n = logits.shape[0], v = logits.shape[1]
    let logp = logSoftmax(logits)
    // A one-hot mask (zero rows for ignored targets) picks -log p(target).
    var mask = [T](repeating: 0, count: n * v)
    for (r, t) in targets.enumerated() where t != ignoreIndex { mask[r * v + Int(t)] = -1 }
    let picked = logp * Tensor(shape: [n, v], values: mask)
    let counted = targets.filter { $0 != ignoreIndex }.count
    let total = sumAll(picked)
    return reduction == .sum ? total : total * (counted > 0 ? 1 / T(counted) : 0)
}
