import Engine
import NN
import Runs
import Foundation

/// The models of Ba et al. 2016's Table 1, plus the suite's bridge to linear attention.
public enum RetrievalModelKind: String, Codable, CaseIterable, Sendable {
    case irnn, lstm, alstm = "a-lstm", lstmAttention = "lstm-attention", fastWeights = "fast-weights", linearTransformer = "linear-transformer"

    public var label: String {
        switch self {
        case .irnn: return "IRNN"
        case .lstm: return "LSTM"
        case .alstm: return "A-LSTM (Associative LSTM)"
        case .lstmAttention: return "LSTM + attention over its past (ours)"
        case .fastWeights: return "Fast weights"
        case .linearTransformer: return "Linear transformer (decayed FW)"
        }
    }
}

/// The shape of one retrieval model.
public struct RetrievalModelConfig: Codable, Equatable, Sendable {
    public var kind: RetrievalModelKind
    /// R: the recurrent state size (the transformer's model width).
    public var hidden: Int
    /// Width of the ReLU layer between the final state and the softmax over the 10 digits (0: a linear readout).
    public var headHidden: Int
    /// Input length (2K + 3).
    public var length: Int
    /// Fast weights: decay lambda, learning rate eta, inner-loop steps S (the transformer uses lambda and eta).
    public var lambda: Double
    public var eta: Double
    public var innerSteps: Int
    /// Heads of the linear transformer; its MLP is `ffMultiple` x the width.
    public var heads: Int
    public var ffMultiple: Int
    /// Linear transformer: add an embedding of the previous symbol at each position (a "token shift"). One
    /// attention layer cannot otherwise pair a key with the value after it: the key's position would have to know
    /// its successor, which takes a second layer (an induction head). The RNNs carry the previous symbol in
    /// their state anyway.
    public var tokenShift: Bool
    /// Associative LSTM: redundant memory copies (nil: `defaultCopies`; absent from configurations written before
    /// the Associative LSTM existed).
    public var copies: Int?
    /// Our choice (the paper's count for this task is not known to us): 4 copies, the first unpermuted.
    public static let defaultCopies = 4
    public var memoryCopies: Int { copies ?? Self.defaultCopies }

    /// Problems with the shape (empty when it can be built).
    public var problems: [String] {
        var p: [String] = []
        if kind == .alstm && hidden % 2 != 0 { p.append("a-lstm needs an even hidden size (R/2 complex units), not \(hidden)") }
        if let c = copies, c < 1 || c > 64 { p.append("the Associative LSTM's copies must be between 1 and 64, not \(c)") }
        return p
    }

    public init(kind: RetrievalModelKind, hidden: Int, headHidden: Int = 100, length: Int = 11, lambda: Double = 0.95,
                eta: Double = 0.5, innerSteps: Int = 1, heads: Int = 1, ffMultiple: Int = 2, tokenShift: Bool = true, copies: Int? = nil) {
        self.kind = kind
        self.hidden = hidden
        self.headHidden = headHidden
        self.length = length
        self.lambda = lambda
        self.eta = eta
        self.innerSteps = innerSteps
        self.heads = heads
        self.ffMultiple = ffMultiple
        self.tokenShift = tokenShift
        self.copies = copies
    }
}

/// A classifier from a sequence of symbols to one of 10 digits, predicting from the final state. Inputs are
/// one-hot vectors over the 37 symbols.
public class RetrievalModel<T: Real> {
    public let config: RetrievalModelConfig
    public let params = ParameterStore<T>()
    let headHidden: Linear<T>?
    let headOut: Linear<T>

    /// Declares the model's own parameters (`declare`), then the readout, then finalises the store.
    init(_ config: RetrievalModelConfig, featureSize: Int, rng: inout Philox, declare: (ParameterStore<T>, inout Philox) -> Void) {
        self.config = config
        declare(params, &rng)
        if config.headHidden > 0 {
            headHidden = Linear(params, "head.hidden", featureSize, config.headHidden, rng: &rng)
            headOut = Linear(params, "head.out", config.headHidden, 10, rng: &rng)
        } else {
            headHidden = nil
            headOut = Linear(params, "head.out", featureSize, 10, rng: &rng)
        }
        params.finalize()
    }

    /// The features the readout sees for a batch: [B, featureSize]. Subclasses implement it.
    func features(_ ids: [Int32], batch: Int) -> Tensor<T> { fatalError("RetrievalModel.features is abstract") }

    /// Digit logits [B, 10] for `batch` sequences of `config.length` symbols (row-major ids).
    public func logits(_ ids: [Int32], batch: Int) -> Tensor<T> {
        precondition(ids.count == batch * config.length, "logits: \(ids.count) ids for \(batch) x \(config.length)")
        var f = features(ids, batch: batch)
        if let headHidden { f = relu(headHidden(f)) }
        return headOut(f)
    }

    /// The inputs as T one-hot tensors [B, 37], one per position.
    func oneHotSteps(_ ids: [Int32], batch: Int) -> [Tensor<T>] {
        let l = config.length, v = AssociativeRetrieval.vocabulary
        return (0..<l).map { t in
            let x = Tensor<T>(shape: [batch, v])
            for b in 0..<batch { x.data[b * v + Int(ids[b * l + t])] = 1 }
            return x
        }
    }

    /// Builds the model `config` describes, initialised from `seed`.
    public static func make(_ config: RetrievalModelConfig, seed: UInt64) -> RetrievalModel<T> {
        var rng = Philox(seed: seed, purpose: .initialisation)
        switch config.kind {
        case .irnn: return IRNNRetrieval(config, rng: &rng)
        case .lstm: return LSTMRetrieval(config, rng: &rng)
        case .alstm: return AssociativeLSTMRetrieval(config, rng: &rng)
        case .lstmAttention: return AttentionLSTMRetrieval(config, rng: &rng)
        case .fastWeights: return FastWeightsRetrieval(config, rng: &rng)
        case .linearTransformer: return LinearTransformerRetrieval(config, rng: &rng)
        }
    }
}

/// Le et al. 2015's IRNN: h(t) = ReLU(W_hh h(t-1) + W_ih x(t) + b), W_hh initialised to the identity.
final class IRNNRetrieval<T: Real>: RetrievalModel<T> {
    var wIH: Tensor<T>!, wHH: Tensor<T>!, bias: Tensor<T>!

    init(_ config: RetrievalModelConfig, rng: inout Philox) {
        var w1: Tensor<T>?, w2: Tensor<T>?, b: Tensor<T>?
        let r = config.hidden
        super.init(config, featureSize: r, rng: &rng) { store, rng in
            w1 = store.make("rnn.weight_ih", [r, AssociativeRetrieval.vocabulary], .normal(std: 0.001), rng: &rng)
            w2 = store.make("rnn.weight_hh", [r, r], .identity(scale: 1), rng: &rng)
            b = store.make("rnn.bias", [r], .zeros, rng: &rng)
        }
        wIH = w1; wHH = w2; bias = b
    }

    override func features(_ ids: [Int32], batch: Int) -> Tensor<T> {
        var h = Tensor<T>(shape: [batch, config.hidden])
        for x in oneHotSteps(ids, batch: batch) {
            h = rnnCell(x: x, hPrev: h, wIH: wIH, bIH: bias, wHH: wHH, bHH: nil, activation: .relu)
        }
        return h
    }
}

/// A one-layer LSTM (PyTorch's parameterisation and initialisation).
final class LSTMRetrieval<T: Real>: RetrievalModel<T> {
    var lstm: LSTM<T>!

    init(_ config: RetrievalModelConfig, rng: inout Philox) {
        var l: LSTM<T>?
        super.init(config, featureSize: config.hidden, rng: &rng) { store, rng in
            l = LSTM(store, "lstm", input: AssociativeRetrieval.vocabulary, hidden: config.hidden, rng: &rng)
        }
        lstm = l
    }

    override func features(_ ids: [Int32], batch: Int) -> Tensor<T> {
        lstm(oneHotSteps(ids, batch: batch)).outputs.last!
    }
}

/// Danihelka et al. 2016's Associative LSTM (see `AssociativeLSTM`), `memoryCopies` copies; R must be even.
final class AssociativeLSTMRetrieval<T: Real>: RetrievalModel<T> {
    var cell: AssociativeLSTM<T>!

    init(_ config: RetrievalModelConfig, rng: inout Philox) {
        var l: AssociativeLSTM<T>?
        super.init(config, featureSize: config.hidden, rng: &rng) { store, rng in
            l = AssociativeLSTM(store, "alstm", input: AssociativeRetrieval.vocabulary, hidden: config.hidden, copies: config.memoryCopies, rng: &rng)
        }
        cell = l
    }

    override func features(_ ids: [Int32], batch: Int) -> Tensor<T> {
        cell(oneHotSteps(ids, batch: batch)).outputs.last!
    }
}

/// Not in Ba et al.: an LSTM with attention over its own past hidden states (this suite's first reading of
/// "A-LSTM", kept under its own name): at every step the new hidden state h(t) queries
/// h(1) ... h(t) (scores <W_a h(t), h(tau)> / sqrt(R), softmax), the context c(t) feeds the next step's gates
/// through W_c (input feeding, as in Luong et al. 2015), and the readout sees [h(T), c(T)].
final class AttentionLSTMRetrieval<T: Real>: RetrievalModel<T> {
    var lstm: LSTM<T>!, query: Linear<T>!, context: Linear<T>!

    init(_ config: RetrievalModelConfig, rng: inout Philox) {
        var l: LSTM<T>?, q: Linear<T>?, c: Linear<T>?
        let r = config.hidden
        super.init(config, featureSize: 2 * r, rng: &rng) { store, rng in
            l = LSTM(store, "lstm", input: AssociativeRetrieval.vocabulary, hidden: r, rng: &rng)
            q = Linear(store, "attn.query", r, r, bias: false, rng: &rng)
            c = Linear(store, "attn.context", r, 4 * r, bias: false, rng: &rng)
        }
        lstm = l; query = q; context = c
    }

    override func features(_ ids: [Int32], batch b: Int) -> Tensor<T> {
        let r = config.hidden, scale = T(1 / Double(r).squareRoot())
        var h = Tensor<T>(shape: [b, r]), cell = Tensor<T>(shape: [b, r])
        var ctx: Tensor<T>?
        var past: [Tensor<T>] = []
        for x in oneHotSteps(ids, batch: b) {
            var gates = linear(x, weight: lstm.wIH, bias: lstm.bIH) + linear(h, weight: lstm.wHH, bias: lstm.bHH)
            if let ctx { gates = gates + context(ctx) }
            (h, cell) = lstmCell(gates: gates, cPrev: cell)
            past.append(reshape(h, [b, 1, r]))
            let memory = past.count == 1 ? past[0] : concat(past, axis: 1)                        // [B, t, R]
            let q = reshape(query(h), [b, 1, r])
            let weights = softmax(batchedMatmul(q, memory, transB: true) * scale)                 // [B, 1, t]
            ctx = reshape(batchedMatmul(weights, memory), [b, r])
        }
        return concat([h, ctx!], axis: 1)
    }
}

/// Ba et al. 2016's fast-weights RNN (see `fastWeightsRNN`): slow weights W (identity-scaled start, as the
/// paper's IRNN-like base), C, b, and the inner loop's layer norm.
final class FastWeightsRetrieval<T: Real>: RetrievalModel<T> {
    var wIH: Tensor<T>!, wHH: Tensor<T>!, bias: Tensor<T>!, ln: LayerNorm<T>!

    init(_ config: RetrievalModelConfig, rng: inout Philox) {
        var w1: Tensor<T>?, w2: Tensor<T>?, b: Tensor<T>?, n: LayerNorm<T>?
        let r = config.hidden
        super.init(config, featureSize: r, rng: &rng) { store, rng in
            w1 = store.make("fw.weight_ih", [r, AssociativeRetrieval.vocabulary], .normal(std: 1 / Double(r).squareRoot()), rng: &rng)
            w2 = store.make("fw.weight_hh", [r, r], .identity(scale: 0.05), rng: &rng)
            b = store.make("fw.bias", [r], .zeros, rng: &rng)
            n = LayerNorm(store, "fw.ln", r, rng: &rng)
        }
        wIH = w1; wHH = w2; bias = b; ln = n
    }

    override func features(_ ids: [Int32], batch: Int) -> Tensor<T> {
        let inputs = oneHotSteps(ids, batch: batch).map { linear($0, weight: wIH, bias: bias) }
        return fastWeightsRNN(inputs, w: wHH, gamma: ln.gamma, beta: ln.beta, lambda: config.lambda, eta: config.eta,
                              innerSteps: config.innerSteps).last!
    }
}

/// One pre-LN transformer block whose attention is decayed fast weights (`DecayedFastWeightAttention`), width R,
/// learned positions (and, with `tokenShift`, an embedding of the previous symbol), final layer norm; the
/// readout sees the last position.
final class LinearTransformerRetrieval<T: Real>: RetrievalModel<T> {
    var tokens: Embedding<T>!, positions: Embedding<T>!, block: TransformerBlock<T>!, lnF: LayerNorm<T>!
    var previous: Embedding<T>?

    init(_ config: RetrievalModelConfig, rng: inout Philox) {
        var e: Embedding<T>?, p: Embedding<T>?, blk: TransformerBlock<T>?, n: LayerNorm<T>?, prev: Embedding<T>?
        let tc = TransformerConfig(vocab: AssociativeRetrieval.vocabulary, layers: 1, dModel: config.hidden, heads: config.heads,
                                   dFF: config.ffMultiple * config.hidden, context: config.length,
                                   attention: .decayedFastWeights(lambda: config.lambda, eta: config.eta))
        super.init(config, featureSize: config.hidden, rng: &rng) { store, rng in
            e = Embedding(store, "tok_emb", count: tc.vocab, dim: tc.dModel, rng: &rng)
            p = Embedding(store, "pos_emb", count: tc.context, dim: tc.dModel, rng: &rng)
            if config.tokenShift {  // index 37: "no previous symbol" (position 0)
                prev = Embedding(store, "prev_tok_emb", count: tc.vocab + 1, dim: tc.dModel, rng: &rng)
            }
            blk = TransformerBlock(store, "blocks.0", tc, rng: &rng)
            n = LayerNorm(store, "ln_f", tc.dModel, rng: &rng)
        }
        tokens = e; positions = p; block = blk; lnF = n; previous = prev
    }

    override func features(_ ids: [Int32], batch b: Int) -> Tensor<T> {
        let l = config.length, d = config.hidden
        var noDropout = Philox(seed: 0, purpose: .dropout)
        var x = reshape(tokens(ids), [b, l, d]) + positions((0..<l).map(Int32.init))
        if let previous {
            let shifted = (0..<(b * l)).map { i in i % l == 0 ? Int32(AssociativeRetrieval.vocabulary) : ids[i - 1] }
            x = x + reshape(previous(shifted), [b, l, d])
        }
        let y = block(x, dropout: 0, rng: &noDropout)
        return lnF(reshape(slice(y, axis: 1, (l - 1)..<l), [b, d]))
    }
}
