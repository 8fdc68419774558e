import Engine
import NN
import Foundation

/// The shape of one reader (de Brébisson & Vincent's CNN model; their configs use 100 for the embedding, the
/// GRUs and the output layer).
public struct ClozeModelConfig: Codable, Equatable, Sendable {
    public var reader: ClozeReader
    /// Word vocabulary (ids 0 = padding, 1 = unknown) and entity classes (the output softmax).
    public var vocabulary: Int
    public var entities: Int
    public var embedding: Int
    /// Units of each GRU (per direction).
    public var hidden: Int
    /// Width of the output layer tanh(W_a read + W_q q).
    public var output: Int
    /// A backward GRU beside each forward one, states concatenated (the paper's GRUs are unidirectional).
    public var bidirectional: Bool
    /// Dropout on the embedded words and on the output layer's input (0: none, as in the paper's configs).
    public var dropout: Double

    public init(reader: ClozeReader, vocabulary: Int, entities: Int, embedding: Int = 100, hidden: Int = 100, output: Int = 100,
                bidirectional: Bool = false, dropout: Double = 0) {
        self.reader = reader
        self.vocabulary = vocabulary
        self.entities = entities
        self.embedding = embedding
        self.hidden = hidden
        self.output = output
        self.bidirectional = bidirectional
        self.dropout = dropout
    }

    /// Size of a story state and of the question vector q.
    public var stateSize: Int { hidden * (bidirectional ? 2 : 1) }
}

/// A batch of questions, padded: stories and queries right-padded with id 0 to the longest in the batch.
public struct ClozeBatch {
    public let size: Int
    public let storySteps: Int, querySteps: Int
    /// Time-major ids: position t of example b at t * size + b.
    public let stories: [Int32], queries: [Int32]
    public let storyLengths: [Int], queryLengths: [Int]
    public let candidates: [[Int32]]
    public let answers: [Int32]

    /// `steps`: pad stories and queries to at least these lengths (a data-parallel rank pads its slice of a batch
    /// as the whole batch is padded, so that its dropout masks are that batch's rows).
    public init(_ examples: [ClozeExample], steps: (story: Int, query: Int) = (0, 0)) {
        precondition(!examples.isEmpty, "ClozeBatch: no examples")
        size = examples.count
        storyLengths = examples.map(\.story.count)
        queryLengths = examples.map(\.query.count)
        precondition(storyLengths.allSatisfy { $0 > 0 } && queryLengths.allSatisfy { $0 > 0 }, "ClozeBatch: an empty story or query")
        storySteps = max(storyLengths.max()!, steps.story)
        querySteps = max(queryLengths.max()!, steps.query)
        func timeMajor(_ seqs: [[Int32]], _ steps: Int) -> [Int32] {
            var ids = [Int32](repeating: 0, count: steps * seqs.count)
            for (b, s) in seqs.enumerated() { for (t, id) in s.enumerated() { ids[t * seqs.count + b] = id } }
            return ids
        }
        stories = timeMajor(examples.map(\.story), storySteps)
        queries = timeMajor(examples.map(\.query), querySteps)
        candidates = examples.map(\.candidates)
        answers = examples.map(\.answer)
    }
}

/// The reader: embeddings shared by story and query; a GRU over the story (states h_1..h_T) and one over the
/// query (its final state is q; both directions' final states when bidirectional); a look back into the story
/// (`ClozeReader`); then tanh(W_a read + W_q q) and a softmax over the entities restricted to the story's
/// candidates.
public final class ClozeModel<T: Real> {
    public let config: ClozeModelConfig
    public let params = ParameterStore<T>()
    let embedding: Embedding<T>
    let storyForward: GRU<T>, storyBackward: GRU<T>?
    let queryForward: GRU<T>, queryBackward: GRU<T>?
    /// Gated linear attention: g_t = sigmoid(w . h_t + b), w = 0 and b = 1 at the start (the authors' choice).
    let gate: (weight: Tensor<T>, bias: Tensor<T>)?
    let outRead: Linear<T>, outQuery: Linear<T>, classifier: Linear<T>

    public init(_ config: ClozeModelConfig, seed: UInt64) {
        self.config = config
        var rng = Philox(seed: seed, purpose: .initialisation)
        let e = config.embedding, h = config.hidden, d = config.stateSize
        embedding = Embedding(params, "embedding", count: config.vocabulary, dim: e, initializer: .normal(std: 0.1), rng: &rng)
        storyForward = GRU(params, "story_gru", input: e, hidden: h, rng: &rng)
        storyBackward = config.bidirectional ? GRU(params, "story_gru", input: e, hidden: h, suffix: "_reverse", rng: &rng) : nil
        queryForward = GRU(params, "query_gru", input: e, hidden: h, rng: &rng)
        queryBackward = config.bidirectional ? GRU(params, "query_gru", input: e, hidden: h, suffix: "_reverse", rng: &rng) : nil
        gate = config.reader == .gatedLinear
            ? (params.make("gate.weight", [1, d], .zeros, rng: &rng), params.make("gate.bias", [1], .constant(1), rng: &rng)) : nil
        outRead = Linear(params, "out_read", d, config.output, bias: false, rng: &rng)
        outQuery = Linear(params, "out_query", d, config.output, rng: &rng)
        classifier = Linear(params, "classifier", config.output, config.entities, rng: &rng)
        params.finalize()
    }

    /// Embeds time-major ids ([steps x batch, embedding]), with dropout when `rng` is given. The mask is drawn in
    /// batch-major order, so that a data-parallel rank's slice of a batch gets the rows of one process's mask.
    func embed(_ ids: [Int32], batch: Int, rng: inout Philox?) -> Tensor<T> {
        let x = embedding(ids)
        guard config.dropout > 0, var r = rng else { return x }
        defer { rng = r }
        let steps = ids.count / batch, e = config.embedding
        let batchMajor = permute(reshape(x, [steps, batch, e]), [1, 0, 2])
        return reshape(permute(dropout(batchMajor, p: config.dropout, rng: &r), [1, 0, 2]), [steps * batch, e])
    }

    /// The story states H [B, T, d], the story's final state [B, d] (the forward GRU after the last real word,
    /// beside the backward GRU after the first) and the question vector q [B, d].
    public func encode(_ batch: ClozeBatch, rng: inout Philox?) -> (states: Tensor<T>, final: Tensor<T>, q: Tensor<T>) {
        let b = batch.size
        let xs = embed(batch.stories, batch: b, rng: &rng), xq = embed(batch.queries, batch: b, rng: &rng)
        let sf = storyForward(xs, steps: batch.storySteps, batch: b, lengths: batch.storyLengths)
        var steps = sf.states, final = sf.final
        if let storyBackward {
            let sb = storyBackward(xs, steps: batch.storySteps, batch: b, lengths: batch.storyLengths, reverse: true)
            steps = zip(steps, sb.states).map { concat([$0, $1], axis: 1) }
            final = concat([final, sb.final], axis: 1)
        }
        let states = concat(steps.map { reshape($0, [b, 1, config.stateSize]) }, axis: 1)
        var q = queryForward(xq, steps: batch.querySteps, batch: b, lengths: batch.queryLengths).final
        if let queryBackward {
            q = concat([q, queryBackward(xq, steps: batch.querySteps, batch: b, lengths: batch.queryLengths, reverse: true).final], axis: 1)
        }
        return (states, final, q)
    }

    /// The read [B, d] of an attending reader from the story states and q.
    public func read(states: Tensor<T>, q: Tensor<T>, lengths: [Int]) -> Tensor<T> {
        precondition(config.reader != .none, "read: the no-attention reader reads the final state")
        let b = states.shape[0], steps = states.shape[1], d = states.shape[2]
        func perPosition(_ f: (Int, Int) -> T) -> Tensor<T> {
            Tensor(shape: [b, 1, steps], values: (0..<b).flatMap { i in (0..<steps).map { t in f(i, t) } })
        }
        let scores = batchedMatmul(states, reshape(q, [b, d, 1]))  // [B, T, 1]: h_t . q
        let weights: Tensor<T>
        switch config.reader {
        case .softmax:
            let mask = perPosition { i, t in t < lengths[i] ? 0 : T(-1e9) }
            weights = softmax(reshape(scores, [b, 1, steps]) + mask)
        case .linear, .gatedLinear:
            // sum_t (h_t . q) h_t / T = (sum_t h_t h_t^T) q / T = C q / T, without forming C during training.
            var w = reshape(scores, [b, 1, steps]) * perPosition { i, t in t < lengths[i] ? 1 / T(lengths[i]) : 0 }
            if let gate {
                w = w * reshape(sigmoid(linear(reshape(states, [b * steps, d]), weight: gate.weight, bias: gate.bias)), [b, 1, steps])
            }
            weights = w
        case .none:
            preconditionFailure()
        }
        return reshape(batchedMatmul(weights, states), [b, d])
    }

    /// The gated reader's gate sigmoid(w . h + b) for each of `states` (no tape).
    public func gateValues(_ states: [[T]]) -> [T] {
        guard let gate else { preconditionFailure("gateValues: the \(config.reader.rawValue) reader has no gate") }
        return states.map { h in
            var z = gate.bias.data[0]
            for (j, v) in h.enumerated() { z += gate.weight.data[j] * v }
            return 1 / (1 + T.exp(-z))
        }
    }

    /// Entity logits [B, entities], every entity outside an example's candidates pushed to -1e9.
    public func logits(_ batch: ClozeBatch, rng: inout Philox?) -> Tensor<T> {
        let (states, final, q) = encode(batch, rng: &rng)
        var r = config.reader == .none ? final : read(states: states, q: q, lengths: batch.storyLengths)
        if config.dropout > 0, var dr = rng {
            r = dropout(r, p: config.dropout, rng: &dr)
            rng = dr
        }
        let hidden = tanh(outRead(r) + outQuery(q))
        var mask = [T](repeating: T(-1e9), count: batch.size * config.entities)
        for (i, cands) in batch.candidates.enumerated() { for c in cands { mask[i * config.entities + Int(c)] = 0 } }
        return classifier(hidden) + Tensor(shape: [batch.size, config.entities], values: mask)
    }
}
