import Engine
import Foundation

/// The shape of a decoder-only transformer language model.
public struct TransformerConfig: Codable, Equatable, Sendable {
    public var vocab: Int
    public var layers: Int
    public var dModel: Int
    public var heads: Int
    public var dFF: Int
    public var context: Int
    public var dropout: Double
    /// Al-Rfou et al. 2018 add learned positional embeddings at the input of every layer; GPT-style models add
    /// them once, at the input.
    public var positionsEveryLayer: Bool
    /// The attention of every block.
    public var attention: AttentionKind
    /// A second classifier on the final layer predicting the character after next (Al-Rfou's "multiple
    /// targets" auxiliary loss).
    public var predictsNextButOne: Bool

    public init(vocab: Int, layers: Int, dModel: Int, heads: Int, dFF: Int, context: Int, dropout: Double = 0,
                positionsEveryLayer: Bool = false, attention: AttentionKind = .softmax(block: 64), predictsNextButOne: Bool = false) {
        precondition(dModel % heads == 0, "dModel \(dModel) is not a multiple of heads \(heads)")
        self.vocab = vocab
        self.layers = layers
        self.dModel = dModel
        self.heads = heads
        self.dFF = dFF
        self.context = context
        self.dropout = dropout
        self.positionsEveryLayer = positionsEveryLayer
        self.attention = attention
        self.predictsNextButOne = predictsNextButOne
    }

    /// Multiply-adds per token of a forward pass through the matrix products (attention's T x T part included,
    /// at its causal average of context/2 keys); training is about 3x this.
    public var forwardFLOPsPerToken: Double {
        let d = Double(dModel), f = Double(dFF), t = Double(context)
        let perLayer = 2 * (3 * d * d + d * d + 2 * d * f) + 2 * 2 * d * t / 2
        return Double(layers) * perLayer + 2 * d * Double(vocab)
    }
}

/// A pre-layer-norm transformer block: x + attn(ln1(x)), then + mlp(ln2(x)), GELU (tanh form) in the MLP.
public struct TransformerBlock<T: Real> {
    public let ln1: LayerNorm<T>, qkv: Linear<T>, proj: Linear<T>, ln2: LayerNorm<T>, fc: Linear<T>, fcProj: Linear<T>
    public let heads: Int
    public let attention: any AttentionKernel
    /// The attention's own per-head parameters (e.g. a learned decay), [heads x n], if it has any.
    public let attentionParameters: Tensor<T>?

    public init(_ store: ParameterStore<T>, _ name: String, _ config: TransformerConfig, rng: inout Philox) {
        let d = config.dModel
        // GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 x layers).
        let std = 0.02, residualStd = 0.02 / (2 * Double(config.layers)).squareRoot()
        ln1 = LayerNorm(store, "\(name).ln1", d, rng: &rng)
        let kernel = config.attention.kernel
        qkv = Linear(store, "\(name).attn.qkv", d, kernel.projectionWidth(dModel: d, heads: config.heads), weightInit: .normal(std: std),
                     rng: &rng)
        proj = Linear(store, "\(name).attn.proj", d, d, weightInit: .normal(std: residualStd), rng: &rng)
        ln2 = LayerNorm(store, "\(name).ln2", d, rng: &rng)
        fc = Linear(store, "\(name).mlp.fc", d, config.dFF, weightInit: .normal(std: std), rng: &rng)
        fcProj = Linear(store, "\(name).mlp.proj", config.dFF, d, weightInit: .normal(std: residualStd), rng: &rng)
        heads = config.heads
        attention = kernel
        if let linear = kernel as? LinearAttentionKernel {
            if let bias = linear.initialGateBias, let b = qkv.bias {  // the decay gates are the projection's last columns
                let w = b.count
                for i in (w - config.heads)..<w { b.data[i] = T(bias) }
            }
            attentionParameters = linear.headParameters > 0
                ? store.make("\(name).attn.head_params", [config.heads * linear.headParameters],
                             .constant(linear.initialHeadParameter), rng: &rng, decay: false)
                : nil
        } else {
            attentionParameters = nil
        }
    }

    /// x: [B, T, C] -> [B, T, C].
    public func callAsFunction(_ x: Tensor<T>, dropout p: Double, rng: inout Philox) -> Tensor<T> {
        var none: AttentionState<T>? = nil
        return callAsFunction(x, dropout: p, rng: &rng, state: &none)
    }

    /// With a `state` (a KV cache or a linear state), x's positions follow the ones the state has seen.
    public func callAsFunction(_ x: Tensor<T>, dropout p: Double, rng: inout Philox, state: inout AttentionState<T>?) -> Tensor<T> {
        let a = attention.attend(qkv(ln1(x)), heads: heads, headParameters: attentionParameters, state: &state)
        // Without dropout the residual additions are fused into the output projections.
        let h = p > 0 ? x + dropout(proj(a), p: p, rng: &rng) : proj(a, residual: x)
        let f = gelu(fc(ln2(h)))
        return p > 0 ? h + dropout(fcProj(f), p: p, rng: &rng) : fcProj(f, residual: h)
    }
}

@inline(__always)
func maybeDropout<T: Real>(_ x: Tensor<T>, _ p: Double, _ rng: inout Philox) -> Tensor<T> {
    p > 0 ? dropout(x, p: p, rng: &rng) : x
}

/// A decoder-only character transformer: token embedding (+ learned positions), blocks, final layer norm,
/// and a linear head onto the vocabulary.
public final class TransformerLM<T: Real> {
    public let config: TransformerConfig
    public let params: ParameterStore<T>
    public let tokens: Embedding<T>
    public let positions: [Embedding<T>]
    public let blocks: [TransformerBlock<T>]
    public let lnF: LayerNorm<T>
    public let head: Linear<T>
    /// The classifier for the character after next (config.predictsNextButOne).
    public let headNextButOne: Linear<T>?

    public init(_ config: TransformerConfig, seed: UInt64) {
        self.config = config
        let store = ParameterStore<T>()
        var rng = Philox(seed: seed, purpose: .initialisation)
        tokens = Embedding(store, "tok_emb", count: config.vocab, dim: config.dModel, rng: &rng)
        if config.positionsEveryLayer {
            positions = (0..<config.layers).map { Embedding(store, "pos_emb.\($0)", count: config.context, dim: config.dModel, rng: &rng) }
        } else {
            positions = [Embedding(store, "pos_emb", count: config.context, dim: config.dModel, rng: &rng)]
        }
        blocks = (0..<config.layers).map { TransformerBlock(store, "blocks.\($0)", config, rng: &rng) }
        lnF = LayerNorm(store, "ln_f", config.dModel, rng: &rng)
        head = Linear(store, "head", config.dModel, config.vocab, weightInit: .normal(std: 0.02), rng: &rng)
        headNextButOne = config.predictsNextButOne
            ? Linear(store, "head_next2", config.dModel, config.vocab, weightInit: .normal(std: 0.02), rng: &rng) : nil
        store.finalize()
        params = store
    }

    /// tokens: batch x length indices, row-major. Returns logits [batch*length, vocab], each block's output
    /// ([batch, length, dModel]; auxiliary losses read these) and the final layer-normed states
    /// [batch*length, dModel] (the input of every classifier on the last layer). `recompute`: keep only each block's
    /// input during the forward pass and compute the block again in the backward pass (`recomputed`): far less
    /// memory, one more forward pass, the same numbers.
    public func forward(_ ids: [Int32], batch: Int, length: Int, dropout p: Double = 0, recompute: Bool = false,
                        rng: inout Philox) -> (logits: Tensor<T>, hidden: [Tensor<T>], final: Tensor<T>) {
        precondition(ids.count == batch * length && length <= config.context, "forward: \(ids.count) ids for \(batch) x \(length) (context \(config.context))")
        let positionIDs = (0..<length).map { Int32($0) }
        var x = reshape(tokens(ids), [batch, length, config.dModel])
        var hidden: [Tensor<T>] = []
        for (l, block) in blocks.enumerated() {
            if l == 0 || config.positionsEveryLayer {
                x = x + positions[config.positionsEveryLayer ? l : 0](positionIDs)
            }
            if l == 0 { x = maybeDropout(x, p, &rng) }
            if recompute {
                let start = rng  // the masks drawn again in the backward pass: from the same state
                var end = rng
                x = recomputed(x) { input in
                    var r = start
                    defer { end = r }
                    return block(input, dropout: p, rng: &r)
                }
                rng = end
            } else {
                x = block(x, dropout: p, rng: &rng)
            }
            hidden.append(x)
        }
        let final = lnF(reshape(x, [batch * length, config.dModel]))
        return (head(final), hidden, final)
    }

    /// Every layer's state before a sequence's first position (KV caches or zero linear states), for `step`.
    public func initialStates(batch: Int) -> [AttentionState<T>?] {
        blocks.map { $0.attention.initialState(batch: batch, heads: config.heads, dModel: config.dModel) }
    }

    /// Feeds `length` further positions of `batch` sequences (positions start ..< start + length) through the
    /// model with every layer's state advanced past them: token-by-token generation with a KV cache (softmax) or
    /// the recurrent state (linear kinds). Returns the logits [batch * length, vocab]. No dropout.
    public func step(_ ids: [Int32], batch: Int, length: Int, start: Int, states: inout [AttentionState<T>?]) -> Tensor<T> {
        precondition(ids.count == batch * length && start + length <= config.context && states.count == blocks.count,
                     "step: \(ids.count) ids for \(batch) x \(length) at position \(start) (context \(config.context))")
        let positionIDs = (start..<(start + length)).map { Int32($0) }
        var x = reshape(tokens(ids), [batch, length, config.dModel])
        var rng = Philox(seed: 0, purpose: .evaluation)
        for (l, block) in blocks.enumerated() {
            if l == 0 || config.positionsEveryLayer {
                x = x + positions[config.positionsEveryLayer ? l : 0](positionIDs)
            }
            x = block(x, dropout: 0, rng: &rng, state: &states[l])
        }
        return head(lnF(reshape(x, [batch * length, config.dModel])))
    }
}
