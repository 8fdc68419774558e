// Fast weights (Ba et al. 2016) and their transformer form, decayed linear attention.
import Foundation

/// The fast-weights RNN of Ba et al. 2016 over a sequence, in its attention form.
///
/// With h(0) = 0 and A(0) = 0, for each step t = 1...T:
///
///     A(t)   = lambda A(t-1) + eta h(t-1) h(t-1)^T
///     z      = W h(t-1) + u(t)                         (u(t) = C x(t) + b, given)
///     h_0    = ReLU(z)
///     h_s+1  = ReLU(LN[z + A(t) h_s]),  s = 0 ... S-1
///     h(t)   = h_S
///
/// A(t) is never formed: A(t) h_s = eta sum_tau lambda^(t-1-tau) h(tau) <h(tau), h_s> over the past hidden states
/// (tau < t), two batched products against the stacked history. That costs O(t R) per example per inner step
/// instead of the matrix's O(R^2), and memory O(T R) instead of O(T R^2). `fastWeightsRNNNaive` is the same
/// recurrence with the matrix kept explicitly; tests hold the two equal in outputs and gradients.
///
/// inputs: T tensors [B, R]; w: [R, R] (applied as h W^T); gamma, beta: [R]. Returns h(1) ... h(T).
public func fastWeightsRNN<T: Real>(
    _ inputs: [Tensor<T>], w: Tensor<T>, gamma: Tensor<T>, beta: Tensor<T>, lambda: Double, eta: Double, innerSteps: Int
) -> [Tensor<T>] {
    precondition(!inputs.isEmpty, "fastWeightsRNN over an empty sequence")
    let b = inputs[0].shape[0], r = w.shape[0]
    var h = Tensor<T>(shape: [b, r])
    var history: [Tensor<T>] = []  // h(1) ... h(t-1), each [B, 1, R]; h(0) = 0 adds nothing
    var outputs: [Tensor<T>] = []
    for (t, u) in inputs.enumerated() {
        let z = linear(h, weight: w, bias: nil) + u
        var hs = relu(z)
        if innerSteps > 0 {
            let past = history.isEmpty ? nil : (history.count == 1 ? history[0] : concat(history, axis: 1))  // [B, n, R]
            let decay: Tensor<T>? = past.map { p in
                let n = p.shape[1]  // history[i] = h(i+1); its weight at step t+1 is eta lambda^(t-1-i)
                return Tensor(shape: [1, n, 1], values: (0..<n).map { T(eta * pow(lambda, Double(t - 1 - $0))) })
            }
            for _ in 0..<innerSteps {
                var pre = z
                if let past, let decay {
                    let scores = batchedMatmul(past, reshape(hs, [b, r, 1]))               // [B, n, 1]
                    let read = batchedMatmul(past, scores * decay, transA: true)          // [B, R, 1]
                    pre = z + reshape(read, [b, r])
                }
                hs = relu(layerNorm(pre, gamma: gamma, beta: beta))
            }
        }
        h = hs
        outputs.append(h)
        if t + 1 < inputs.count && innerSteps > 0 { history.append(reshape(h, [b, 1, r])) }
    }
    return outputs
}

/// The fast-weights recurrence as the paper writes it: the [B, R, R] fast-weight matrix is formed, decayed and
/// updated with the outer product each step. The reference `fastWeightsRNN` is tested against.
public func fastWeightsRNNNaive<T: Real>(
    _ inputs: [Tensor<T>], w: Tensor<T>, gamma: Tensor<T>, beta: Tensor<T>, lambda: Double, eta: Double, innerSteps: Int
) -> [Tensor<T>] {
    let b = inputs[0].shape[0], r = w.shape[0]
    var h = Tensor<T>(shape: [b, r])
    var a = Tensor<T>(shape: [b, r, r])
    var outputs: [Tensor<T>] = []
    for u in inputs {
        let col = reshape(h, [b, r, 1])
        a = a * T(lambda) + batchedMatmul(col, col, transB: true) * T(eta)
        let z = linear(h, weight: w, bias: nil) + u
        var hs = relu(z)
        for _ in 0..<innerSteps {
            let ah = reshape(batchedMatmul(a, reshape(hs, [b, r, 1])), [b, r])
            hs = relu(layerNorm(z + ah, gamma: gamma, beta: beta))
        }
        h = hs
        outputs.append(h)
    }
    return outputs
}

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

    public func attend<T: Real>(_ qkv: Tensor<T>, heads: Int) -> Tensor<T> {
        precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0, "attention: qkv \(qkv.shape) is not [B, T, 3 x heads x D]")
        let b = qkv.shape[0], t = qkv.shape[1], c = qkv.shape[2] / 3, d = c / heads
        func split(_ i: Int) -> Tensor<T> {  // [B, T, C] -> [B*H, T, D]
            reshape(permute(reshape(slice(qkv, axis: 2, (i * c)..<((i + 1) * c)), [b, t, heads, d]), [0, 2, 1, 3]), [b * heads, t, d])
        }
        let q = split(0), k = split(1), v = split(2)
        var mask = [T](repeating: 0, count: t * t)
        for i in 0..<t { for j in 0...i { mask[i * t + j] = T(eta * pow(lambda, Double(i - j))) } }
        let scores = batchedMatmul(q, k, transB: true) * Tensor(shape: [1, t, t], values: mask)
        let o = batchedMatmul(scores, v)  // [B*H, T, D]
        return reshape(permute(reshape(o, [b, heads, t, d]), [0, 2, 1, 3]), [b, t, c])
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
