// The linear-attention family: one state matrix S per head (d_k x d_v), three equal forms (parallel, chunked,
// recurrent), composed from Engine ops so that every form has exact gradients through the tape.
import Engine
import Foundation

/// How a linear-attention kernel runs over a sequence. All three compute the same function.
public enum LinearForm: Equatable, Sendable {
    /// Masked quadratic over the whole sequence (T x T per head): the reference.
    case parallel
    /// Blocks of `C` tokens: quadratic inside a block, the state carried between blocks. Memory linear in T.
    case chunked(Int)
    /// One token at a time: O(d_k d_v) per token per head whatever the context; the generation form.
    case recurrent
}

/// The state a linear-attention kernel carries from one call to the next, per sequence and head (N = B x H):
/// S [N, d_k, d_v] and, for normalised kinds, z [N, d_k, 1] (the running sum of the keys).
public struct LinearState<T: Real> {
    public var s: Tensor<T>
    public var z: Tensor<T>?
    public init(s: Tensor<T>, z: Tensor<T>?) {
        self.s = s
        self.z = z
    }

    /// A zero state (what a sequence starts from).
    public static func zeros(count n: Int, keyDim: Int, valueDim: Int, normalized: Bool) -> LinearState {
        LinearState(s: Tensor(shape: [n, keyDim, valueDim]), z: normalized ? Tensor(shape: [n, keyDim, 1]) : nil)
    }
}

/// The recurrence every kind of the family is an instance of, per sequence-and-head n and token t
/// (q, k already through the kind's feature map; a_t = exp(g_t) the decay, 1 without one):
///
///     sum update:    S_t = a_t S_{t-1} + k_t v_t^T
///     delta update:  S_t = a_t S_{t-1} + k_t u_t^T,  u_t = beta_t (v_t - a_t S_{t-1}^T k_t)
///     output:        o_t = S_t^T q_t                 (normalised: / (z_t . q_t + eps), z_t = a_t z_{t-1} + k_t)
///
/// q, k [N, T, d_k], v [N, T, d_v]; `logDecay` g [N, T, 1] (<= 0) or nil; `beta` [N, T, 1] selects the delta
/// update (nil: the sum update); `state` the state before the first token (nil: zeros). Returns o [N, T, d_v] and
/// the state after the last token.
///
/// Chunked and parallel forms use, per block of L tokens with G the within-block cumulative log decay and
/// D[t, s] = exp(G_t - G_s) for s <= t (0 above the diagonal):
///     O = (Q K^T o D) U + exp(G) o (Q S0),   S_L = exp(G_L) S0 + (K o exp(G_L - G))^T U,
/// with U = V for the sum update, and for the delta update U solving (I + strictLower(diag(beta) (K K^T o D))) U
/// = diag(beta) (V - exp(G) o (K S0)) (the WY form of the delta rule, a unit lower-triangular solve).
public func linearAttention<T: Real>(
    q: Tensor<T>, k: Tensor<T>, v: Tensor<T>, logDecay: Tensor<T>? = nil, beta: Tensor<T>? = nil, normalize: Bool = false,
    eps: Double = 1e-6, state: LinearState<T>? = nil, form: LinearForm
) -> (output: Tensor<T>, state: LinearState<T>) {
    precondition(q.rank == 3 && k.shape == q.shape && v.rank == 3 && v.shape[0] == q.shape[0] && v.shape[1] == q.shape[1],
                 "linearAttention: q \(q.shape), k \(k.shape), v \(v.shape)")
    precondition(!(normalize && beta != nil), "linearAttention: the delta update has no normaliser")
    let n = q.shape[0], t = q.shape[1], dk = q.shape[2], dv = v.shape[2]
    var st = state ?? LinearState.zeros(count: n, keyDim: dk, valueDim: dv, normalized: normalize)
    if normalize && st.z == nil { st.z = Tensor(shape: [n, dk, 1]) }
    switch form {
    case .recurrent:
        return linearAttentionRecurrent(q: q, k: k, v: v, logDecay: logDecay, beta: beta, normalize: normalize, eps: eps, state: st)
    case .parallel, .chunked:
        let c: Int
        if case .chunked(let size) = form { precondition(size > 0, "linearAttention: chunk size must be positive"); c = size } else { c = max(t, 1) }
        if t <= c { return linearAttentionBlock(q: q, k: k, v: v, logDecay: logDecay, beta: beta, normalize: normalize, eps: eps, state: st) }
        var outputs: [Tensor<T>] = []
        var start = 0
        while start < t {
            let r = start..<min(start + c, t)
            let (o, next) = linearAttentionBlock(
                q: slice(q, axis: 1, r), k: slice(k, axis: 1, r), v: slice(v, axis: 1, r), logDecay: logDecay.map { slice($0, axis: 1, r) },
                beta: beta.map { slice($0, axis: 1, r) }, normalize: normalize, eps: eps, state: st)
            outputs.append(o)
            st = next
            start = r.upperBound
        }
        return (concat(outputs, axis: 1), st)
    }
}

/// One block of L tokens in parallel (see `linearAttention`).
func linearAttentionBlock<T: Real>(
    q: Tensor<T>, k: Tensor<T>, v: Tensor<T>, logDecay: Tensor<T>?, beta: Tensor<T>?, normalize: Bool, eps: Double, state: LinearState<T>
) -> (output: Tensor<T>, state: LinearState<T>) {
    let n = q.shape[0], l = q.shape[1], dk = q.shape[2]
    // D [N, L, L] (or [1, L, L] broadcast when there is no decay), exp(G) [N, L, 1], exp(G_L - G) [N, L, 1].
    let d: Tensor<T>, expG: Tensor<T>?, toEnd: Tensor<T>?, expGL: Tensor<T>?
    if let g = logDecay {
        var upper = [T](repeating: 0, count: l * l)  // upper[s, t] = 1 for s <= t: G = g @ upper is the cumulative sum
        for s in 0..<l { for t in s..<l { upper[s * l + t] = 1 } }
        let cum = matmul(reshape(g, [n, l]), Tensor(shape: [l, l], values: upper))  // [N, L]
        let gt = reshape(cum, [n, l, 1])
        d = exp(causalMask(gt - reshape(cum, [n, 1, l])))
        expG = exp(gt)
        let last = slice(gt, axis: 1, (l - 1)..<l)  // [N, 1, 1]
        toEnd = exp(last - gt)
        expGL = exp(last)
    } else {
        var mask = [T](repeating: 0, count: l * l)
        for t in 0..<l { for s in 0...t { mask[t * l + s] = 1 } }
        d = Tensor(shape: [1, l, l], values: mask)
        expG = nil; toEnd = nil; expGL = nil
    }
    func decayed(_ x: Tensor<T>) -> Tensor<T> { expG.map { x * $0 } ?? x }
    let s0 = state.s
    let qk = batchedMatmul(q, k, transB: true) * d  // [N, L, L]
    var u = v
    if let beta {
        // U = (I + strictLower(diag(beta) (K K^T o D)))^-1 diag(beta) (V - exp(G) o (K S0))
        let kk = batchedMatmul(k, k, transB: true) * d
        let rhs = (v - decayed(batchedMatmul(k, s0))) * beta
        u = unitLowerTriangularSolve(kk * beta, rhs)
    }
    var o = batchedMatmul(qk, u) + decayed(batchedMatmul(q, s0))
    let kEnd = toEnd.map { k * $0 } ?? k
    var s = batchedMatmul(kEnd, u, transA: true)  // [N, dk, dv]
    s = s + (expGL.map { s0 * $0 } ?? s0)
    var z: Tensor<T>?
    if normalize, let z0 = state.z {
        // z_t . q_t = sum_s (Q K^T o D)[t, s] + exp(G_t) (q_t . z0)
        let den = sum(qk, axis: 2, keepDims: true) + decayed(batchedMatmul(q, z0))  // [N, L, 1]
        o = o / (den + T(eps))
        let kz = reshape(sum(kEnd, axis: 1, keepDims: true), [n, dk, 1])
        z = kz + (expGL.map { z0 * $0 } ?? z0)
    }
    return (o, LinearState(s: s, z: z))
}

/// Token by token (see `linearAttention`).
func linearAttentionRecurrent<T: Real>(
    q: Tensor<T>, k: Tensor<T>, v: Tensor<T>, logDecay: Tensor<T>?, beta: Tensor<T>?, normalize: Bool, eps: Double, state: LinearState<T>
) -> (output: Tensor<T>, state: LinearState<T>) {
    let t = q.shape[1]
    var s = state.s, z = state.z
    var outputs: [Tensor<T>] = []
    outputs.reserveCapacity(t)
    for i in 0..<t {
        let qi = slice(q, axis: 1, i..<(i + 1)), ki = slice(k, axis: 1, i..<(i + 1)), vi = slice(v, axis: 1, i..<(i + 1))  // [N, 1, d]
        if let g = logDecay {
            let a = exp(slice(g, axis: 1, i..<(i + 1)))  // [N, 1, 1]
            s = s * a
            if let zz = z { z = zz * a }
        }
        var ui = vi
        if let beta {
            let bi = slice(beta, axis: 1, i..<(i + 1))
            ui = (vi - batchedMatmul(ki, s)) * bi  // beta (v - S^T k), [N, 1, dv]
        }
        s = s + batchedMatmul(ki, ui, transA: true)
        var o = batchedMatmul(qi, s)  // [N, 1, dv]
        if normalize, let zz = z {
            let zn = zz + reshape(ki, [ki.shape[0], ki.shape[2], 1])
            z = zn
            o = o / (batchedMatmul(qi, zn) + T(eps))
        }
        outputs.append(o)
    }
    return (t == 1 ? outputs[0] : concat(outputs, axis: 1), LinearState(s: s, z: z))
}

/// A feature map applied to queries and keys before the state update.
public enum FeatureMap: Codable, Equatable, Sendable {
    case identity
    /// elu(x) + 1 (Katharopoulos et al. 2020): positive features.
    case elu1
    /// Deterministic parameter-free projection (Schlag et al. 2021): r = relu([x, -x]), then
    /// [r * roll(r, 1), ..., r * roll(r, nu)]: 2 x nu x d features from d.
    case dpfp(nu: Int)

    /// Features per input dimension.
    public func outputSize(_ d: Int) -> Int {
        switch self {
        case .identity, .elu1: return d
        case .dpfp(let nu): return 2 * nu * d
        }
    }

    /// x [..., d] -> [..., outputSize(d)].
    public func apply<T: Real>(_ x: Tensor<T>) -> Tensor<T> {
        switch self {
        case .identity: return x
        case .elu1: return elu(x) + T(1)
        case .dpfp(let nu):
            let axis = x.rank - 1
            let r = relu(concat([x, x * T(-1)], axis: axis))
            let w = r.shape[axis]
            var parts: [Tensor<T>] = []
            for i in 1...max(nu, 1) {
                let j = i % w  // roll(r, i)[c] = r[c - i]
                let rolled = j == 0 ? r : concat([slice(r, axis: axis, (w - j)..<w), slice(r, axis: axis, 0..<(w - j))], axis: axis)
                parts.append(r * rolled)
            }
            return parts.count == 1 ? parts[0] : concat(parts, axis: axis)
        }
    }
}

/// Each row of x [..., d] divided by its L2 norm (plus `eps` under the square root).
public func l2Normalize<T: Real>(_ x: Tensor<T>, eps: Double = 1e-6) -> Tensor<T> {
    let squares = sum(x * x, axis: x.rank - 1, keepDims: true)
    return x / exp(log(squares + T(eps)) * T(0.5))
}
