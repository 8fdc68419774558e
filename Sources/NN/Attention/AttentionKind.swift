// The attention kinds a model configuration can name.
import Engine

/// Which attention a transformer's blocks use: part of the model's configuration (stored in every run file),
/// so a checkpoint rebuilds exactly the model it was trained with. Each case makes its `AttentionKernel`.
public enum AttentionKind: Codable, Equatable, Sendable {
    /// Scaled dot-product softmax attention, computed in strips of `block` queries against every key they see
    /// (`causalSelfAttention`); the block size changes the summation order, not the function.
    case softmax(block: Int)
    /// Decayed fast weights (Ba et al. 2016 as linear attention): per head S = lambda S + eta k v^T, read S^T q;
    /// no feature map, no normaliser (`DecayedFastWeightAttention`).
    case decayedFastWeights(lambda: Double, eta: Double)
    /// A kind of the linear-attention family (`LinearAttentionSpec.named` lists them), with its name.
    case linear(name: String, spec: LinearAttentionSpec)

    /// The kernel that computes this kind.
    public var kernel: any AttentionKernel {
        switch self {
        case .softmax(let block): return SoftmaxAttention(blockSize: block)
        case .decayedFastWeights(let lambda, let eta): return DecayedFastWeightAttention(lambda: lambda, eta: eta)
        case .linear(let name, let spec): return LinearAttentionKernel(spec, name: name)
        }
    }

    /// Every kind `--attention` takes: softmax and the named linear kinds, with a one-line description each.
    public static var catalogue: [(name: String, about: String)] {
        [("softmax", "scaled dot-product softmax attention (the baseline; KV cache when generating)")]
            + LinearAttentionSpec.named.map { ($0.name, $0.about) }
    }

    /// The kind called `name` (see `catalogue`); `keyDim` widens a linear kind's per-head keys.
    public static func named(_ name: String, keyDim: Int? = nil, block: Int = 64) -> AttentionKind? {
        if name == "softmax" { return keyDim == nil ? .softmax(block: block) : nil }
        guard var spec = LinearAttentionSpec.named.first(where: { $0.name == name })?.spec else { return nil }
        spec.keyDim = keyDim
        return .linear(name: keyDim.map { "\(name)-k\($0)" } ?? name, spec: spec)
    }

    /// A short name for tables and file names.
    public var name: String { kernel.name }

    /// Problems with the kind's settings (empty when it can run).
    public var problems: [String] {
        switch self {
        case .softmax(let block): return block > 0 ? [] : ["the softmax attention block must be positive"]
        case .decayedFastWeights(let lambda, let eta):
            return (lambda >= 0 && lambda <= 1 ? [] : ["lambda must be in [0, 1]"]) + (eta.isFinite ? [] : ["eta must be finite"])
        case .linear(_, let spec): return spec.problems
        }
    }
}
