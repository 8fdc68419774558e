// Decayed fast-weight (linear) attention: the transformer form of Ba et al. 2016's rule.
import Engine
import Foundation

/// Decayed fast-weight (linear) attention: per head a state S = lambda S + eta k v^T, read as S^T q; no feature
/// map and no normaliser (the "decayed fast weights" row of the linear-attention family, Ba et al. 2016's rule
/// with learned keys, values and queries). Computed here in its parallel form, out = ((Q K^T) o D) V with
/// D[t, s] = eta lambda^(t-s) for s <= t and 0 above the diagonal: exact, O(T^2) per head, fine for short
/// sequences. `decayedLinearAttentionRecurrent` is the token-by-token state form tests compare it with.
public struct DecayedFastWeightAttention: AttentionKernel {
    public var lambda: Double
    public var eta: Double
    public init(lambda: Double, eta: Double) {
        self.lambda = lambda
        self.eta = eta
    }
    public var name: String { "decayed-fast-weights" }

    public func initialState<T: Real>(batch: Int, heads: Int, dModel: Int) -> AttentionState<T> {
        .linear(LinearState.zeros(count: batch * heads, keyDim: dModel / heads, valueDim: dModel / heads, normalized: false))
    }

    public func attend<T: Real>(_ qkv: Tensor<T>, heads: Int, headParameters: Tensor<T>?, state: inout AttentionState<T>?) -> Tensor<T> {
        precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0, "attention: qkv \(qkv.shape) is not [B, T, 3 x heads x D]")
        let t = qkv.shape[1], c = qkv.shape[2] / 3
        let q = splitHeads(qkv, 0..<c, heads: heads), k = splitHeads(qkv, c..<(2 * c), heads: heads)
        let v = splitHeads(qkv, (2 * c)..<(3 * c), heads: heads)
        if let current = state {  // fed in pieces: the state form S = lambda S + eta k v^T (the family's recurrence)
            let n = qkv.shape[0] * heads
            var s0: LinearState<T>?
            if case .linear(let ls) = current { s0 = ls }
            let g = Tensor<T>(shape: [n, t, 1], values: [T](repeating: T(Foundation.log(lambda)), count: n * t))
            let r = linearAttention(q: q, k: k * T(eta), v: v, logDecay: g, state: s0, form: .recurrent)
            state = .linear(r.state)
            return mergeHeads(r.output, batch: qkv.shape[0], heads: heads)
        }
        var mask = [T](repeating: 0, count: t * t)
        for i in 0..<t { for j in 0...i { mask[i * t + j] = T(eta * pow(lambda, Double(i - j))) } }
        let scores = batchedMatmul(q, k, transB: true) * Tensor(shape: [1, t, t], values: mask)
        return mergeHeads(batchedMatmul(scores, v), batch: qkv.shape[0], heads: heads)
    }
}

/// The recurrent (generation) form of `DecayedFastWeightAttention` on plain arrays, one token at a time with the
/// d x d state per head: qkv [B, T, 3C] row-major -> [B, T, C]. No gradients; a reference for tests.
public func decayedLinearAttentionRecurrent(_ qkv: [Double], batch b: Int, length t: Int, channels c: Int, heads: Int,
                                            lambda: Double, eta: Double) -> [Double] {
    let d = c / heads
    var out = [Double](repeating: 0, count: b * t * c)
    for bi in 0..<b {
        for h in 0..<heads {
            var s = [Double](repeating: 0, count: d * d)  // s[i * d + j]: key dim i, value dim j
            for ti in 0..<t {
                let row = (bi * t + ti) * 3 * c
                for i in 0..<d {
                    for j in 0..<d { s[i * d + j] = lambda * s[i * d + j] + eta * qkv[row + c + h * d + i] * qkv[row + 2 * c + h * d + j] }
                }
                for j in 0..<d {
                    var acc = 0.0
                    for i in 0..<d { acc += s[i * d + j] * qkv[row + h * d + i] }
                    out[(bi * t + ti) * c + h * d + j] = acc
                }
            }
        }
    }
    return out
}
