// Fast weights (Ba et al. 2016): the recurrence in its attention form and its explicit-matrix twin.
import Engine
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
