// The linear-attention kinds as transformer attention: projections, feature maps, gates, and the state.
import Engine
import Foundation

/// How a linear kind's state forgets.
public enum LinearDecay: Codable, Equatable, Sendable {
    /// Never: S accumulates.
    case none
    /// A fixed decay and write strength: S = lambda S + eta k v^T (Ba et al. 2016).
    case fixed(lambda: Double, eta: Double)
    /// A decay learned per head, lambda_h = sigmoid(a_h), a_h starting at logit(`initial`).
    case learnedPerHead(initial: Double)
    /// A data-dependent decay per token and head, log a_t = logsigmoid(x w + b), b starting at `initialBias`
    /// (gated linear attention / Gated DeltaNet, Yang et al. 2024).
    case perToken(initialBias: Double)
}

/// One linear-attention kind: a feature map on queries and keys, the sum or delta update, a decay, a normaliser,
/// and the per-head key size (wider keys cost 2 x heads x d_model extra projection weights per extra key dim).
public struct LinearAttentionSpec: Codable, Equatable, Sendable {
    public var featureMap: FeatureMap
    /// The delta rule (Schlag et al. 2021): S += beta_t (v_t - S^T k_t) k_t^T with L2-normalised keys and queries
    /// and a learned per-token beta = sigmoid(x w_beta). Otherwise the sum update S += k v^T.
    public var delta: Bool
    public var decay: LinearDecay
    /// Divide by z_t . q_t, z_t the (decayed) sum of the keys so far.
    public var normalize: Bool
    /// Per-head key size before the feature map; nil: d_model / heads (the value size).
    public var keyDim: Int?
    /// Training form: blocks of this many tokens.
    public var chunk: Int

    public init(featureMap: FeatureMap = .identity, delta: Bool = false, decay: LinearDecay = .none, normalize: Bool = false,
                keyDim: Int? = nil, chunk: Int = 64) {
        self.featureMap = featureMap
        self.delta = delta
        self.decay = decay
        self.normalize = normalize
        self.keyDim = keyDim
        self.chunk = chunk
    }

    /// The kinds by name, as `--attention` takes them, with a one-line description each.
    public static let named: [(name: String, spec: LinearAttentionSpec, about: String)] = [
        ("linear", LinearAttentionSpec(), "identity feature map, no normaliser (de Brebisson & Vincent 2016)"),
        ("linear-norm", LinearAttentionSpec(normalize: true), "identity feature map with the normaliser"),
        ("elu", LinearAttentionSpec(featureMap: .elu1, normalize: true), "elu+1 features with the normaliser (Katharopoulos et al. 2020)"),
        ("decayed", LinearAttentionSpec(decay: .fixed(lambda: 0.95, eta: 0.5)), "decayed fast weights, fixed lambda 0.95, eta 0.5 (Ba et al. 2016)"),
        ("decayed-learned", LinearAttentionSpec(decay: .learnedPerHead(initial: 0.95)), "decayed fast weights, lambda learned per head"),
        ("delta", LinearAttentionSpec(delta: true), "delta rule, L2-normalised keys, learned per-token beta (Schlag et al. 2021)"),
        ("gated-delta", LinearAttentionSpec(delta: true, decay: .perToken(initialBias: 3)),
         "delta rule with a data-dependent per-token decay (Yang et al. 2024)"),
        ("dpfp1", LinearAttentionSpec(featureMap: .dpfp(nu: 1), normalize: true), "DPFP feature map, nu = 1 (2 x d_k features; Schlag et al. 2021)"),
        ("dpfp2", LinearAttentionSpec(featureMap: .dpfp(nu: 2), normalize: true), "DPFP feature map, nu = 2 (4 x d_k features)"),
        ("dpfp3", LinearAttentionSpec(featureMap: .dpfp(nu: 3), normalize: true), "DPFP feature map, nu = 3 (6 x d_k features)"),
    ]

    public var problems: [String] {
        var p: [String] = []
        if chunk <= 0 { p.append("the linear attention chunk must be positive") }
        if let k = keyDim, k <= 0 { p.append("the key size must be positive") }
        if case .dpfp(let nu) = featureMap, nu < 1 { p.append("DPFP needs nu >= 1") }
        if normalize && delta { p.append("the delta rule takes no normaliser") }
        switch decay {
        case .none, .perToken: break
        case .fixed(let lambda, let eta):
            if !(lambda > 0 && lambda <= 1) { p.append("lambda must be in (0, 1]") }
            if !eta.isFinite { p.append("eta must be finite") }
        case .learnedPerHead(let initial): if !(initial > 0 && initial < 1) { p.append("the initial lambda must be in (0, 1)") }
        }
        return p
    }
}

/// A linear-attention kind in a transformer block. The projection holds, per position, the queries and keys
/// (heads x d_k each), the values (heads x d_v, d_v = d_model / heads), then beta (delta rule) and the decay
/// gate (per-token decay), one per head. Training uses the chunked form; with a state, the recurrent form.
public struct LinearAttentionKernel: AttentionKernel {
    public let spec: LinearAttentionSpec
    public let name: String

    public init(_ spec: LinearAttentionSpec, name: String) {
        self.spec = spec
        self.name = name
    }

    func keyDim(dModel: Int, heads: Int) -> Int { spec.keyDim ?? dModel / heads }

    /// Per-head key features after the feature map: the state's first dimension.
    public func keyFeatures(dModel: Int, heads: Int) -> Int { spec.featureMap.outputSize(keyDim(dModel: dModel, heads: heads)) }

    public func projectionWidth(dModel: Int, heads: Int) -> Int {
        heads * (2 * keyDim(dModel: dModel, heads: heads)) + dModel + (spec.delta ? heads : 0) + (gated ? heads : 0)
    }

    var gated: Bool { if case .perToken = spec.decay { return true } else { return false } }

    public var headParameters: Int { if case .learnedPerHead = spec.decay { return 1 } else { return 0 } }

    /// The initial values of the per-head parameters and of the gate biases (in projection order after the
    /// values): logit(lambda) for a learned decay; the per-token decay gate's bias.
    public var initialHeadParameter: Double {
        if case .learnedPerHead(let l) = spec.decay { return Foundation.log(l / (1 - l)) }
        return 0
    }
    public var initialGateBias: Double? {
        if case .perToken(let b) = spec.decay { return b }
        return nil
    }

    /// Per-head state size in values: S (d_k' x d_v) plus z (d_k') for normalised kinds.
    public func stateValues(dModel: Int, heads: Int) -> Int {
        let dk = keyFeatures(dModel: dModel, heads: heads), dv = dModel / heads
        return dk * dv + (spec.normalize ? dk : 0)
    }

    public func initialState<T: Real>(batch: Int, heads: Int, dModel: Int) -> AttentionState<T> {
        .linear(LinearState.zeros(count: batch * heads, keyDim: keyFeatures(dModel: dModel, heads: heads), valueDim: dModel / heads,
                                  normalized: spec.normalize))
    }

    public func attend<T: Real>(_ x: Tensor<T>, heads: Int, headParameters: Tensor<T>?, state: inout AttentionState<T>?) -> Tensor<T> {
        let b = x.shape[0], t = x.shape[1], n = b * heads
        let extra = (spec.delta ? heads : 0) + (gated ? heads : 0)
        let rest = x.shape[2] - extra  // 2 x heads x d_k + d_model
        let dm = spec.keyDim.map { rest - 2 * heads * $0 } ?? rest / 3
        let dk = keyDim(dModel: dm, heads: heads), qk = heads * dk
        var q = spec.featureMap.apply(splitHeads(x, 0..<qk, heads: heads))
        var k = spec.featureMap.apply(splitHeads(x, qk..<(2 * qk), heads: heads))
        let v = splitHeads(x, (2 * qk)..<(2 * qk + dm), heads: heads)
        var column = 2 * qk + dm
        var beta: Tensor<T>?
        if spec.delta {
            q = l2Normalize(q)
            k = l2Normalize(k)
            beta = sigmoid(splitHeads(x, column..<(column + heads), heads: heads))  // [N, T, 1]
            column += heads
        }
        if !spec.normalize { q = q * T(1 / Double(q.shape[2]).squareRoot()) }
        var g: Tensor<T>?
        switch spec.decay {
        case .none: break
        case .fixed(let lambda, let eta):
            k = k * T(eta)
            g = Tensor(shape: [n, t, 1], values: [T](repeating: T(Foundation.log(lambda)), count: n * t))
        case .learnedPerHead:
            guard let a = headParameters else { preconditionFailure("a learned decay needs its per-head parameters") }
            g = reshape(reshape(log(sigmoid(a)), [1, heads, 1, 1]) + Tensor<T>(shape: [b, heads, t, 1]), [n, t, 1])
        case .perToken:
            g = log(sigmoid(splitHeads(x, column..<(column + heads), heads: heads)))
        }
        var s0: LinearState<T>?
        if case .linear(let ls) = state { s0 = ls }
        // The chunked form carries a state as well as the recurrent one; single positions (generation) go token-wise.
        let form: LinearForm = t == 1 ? .recurrent : .chunked(spec.chunk)
        let r = linearAttention(q: q, k: k, v: v, logDecay: g, beta: beta, normalize: spec.normalize, state: s0, form: form)
        if state != nil { state = .linear(r.state) }
        return mergeHeads(r.output, batch: b, heads: heads)
    }
}
