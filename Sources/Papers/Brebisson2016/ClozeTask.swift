import Engine
import NN
import Runs
import Foundation

/// Where a run's questions come from (stored in its configuration).
public struct ClozeDataConfig: Codable, Equatable, Sendable {
    /// "synthetic" or the path given to --data.
    public var source: String
    /// "question" (DeepMind's files) or "chen" (Chen et al.'s train/dev/test.txt); "question" for the synthetic task.
    public var format: String
    public var vocabularyCap: Int
    /// At most this many questions per split (nil: all).
    public var maxExamples: Int?
    /// The synthetic task: story lengths in tokens (questions spread evenly over them), entities and facts per
    /// story, and split sizes (train, validation, test).
    public var storyLengths: [Int]
    public var entities: Int
    public var facts: Int
    public var splitSizes: [Int]

    public var isSynthetic: Bool { source == "synthetic" }
}

/// Everything that defines one reader's run; stored (as JSON) in its files.
public struct ClozeTrainingConfig: RunConfig {
    public var preset: String
    public var model: ClozeModelConfig
    public var data: ClozeDataConfig
    public var training: TrainingConfig
    /// The run directory's name: the reader.
    public var runName: String { model.reader.rawValue }

    /// Bytes a training step needs, roughly: the parameters four times (weights, gradients, Adam's moments) and the
    /// Float32 activations the tape keeps for a batch of stories of `storyTokens`, per position the embedding, the
    /// GRU's gates and states (~8 x the units per direction) and the attention's weights.
    public func estimatedTrainingBytes(storyTokens: Int) -> Double {
        let m = model, directions = Double(m.bidirectional ? 2 : 1)
        let parameters = Double(m.vocabulary * m.embedding) + 2 * directions * 3 * Double(m.hidden * (m.embedding + m.hidden + 2))
            + Double(m.stateSize * m.output * 2 + m.output * m.entities)
        let activations = Double(training.batch) * Double(storyTokens) * (Double(m.embedding) + directions * 8 * Double(m.hidden) + 2)
        return 4 * (4 * parameters + activations)
    }

    /// Bytes the synthetic questions take while generated and read (their text and ids), roughly.
    public var syntheticDataBytes: Double {
        guard data.isSynthetic, !data.storyLengths.isEmpty else { return 0 }
        let mean = Double(data.storyLengths.reduce(0, +)) / Double(data.storyLengths.count)
        return Double(data.splitSizes.reduce(0, +)) * mean * 24
    }
}

/// Accuracy and mean cross-entropy on a set, with the accuracy within story-length bins.
public struct ClozeScore: Sendable {
    public let accuracy: Double
    public let loss: Double
    public let count: Int
    /// (shortest, longest story, accuracy, questions) per bin.
    public let byLength: [(lo: Int, hi: Int, accuracy: Double, count: Int)]
}

/// The examples of a split in batches of similar story length (sorted by length, then cut), as the authors group
/// them: little padding, and every batch's cost close to its own length.
func lengthBuckets(_ examples: [ClozeExample], batch: Int) -> [[Int]] {
    let order = examples.indices.sorted { (examples[$0].story.count, $0) < (examples[$1].story.count, $1) }
    return stride(from: 0, to: order.count, by: batch).map { Array(order[$0..<min($0 + batch, order.count)]) }
}

/// Scores `model` on `examples` without recording gradients, overall and in at most `bins` story-length bins.
public func evaluateCloze(_ model: ClozeModel<Float>, on examples: [ClozeExample], batch: Int = 64, bins: Int = 5) -> ClozeScore {
    var correct = [Bool](repeating: false, count: examples.count)
    var lossSum = 0.0
    let buckets = lengthBuckets(examples, batch: batch)
    Tape.withoutRecording {
        for (i, bucket) in buckets.enumerated() where Distributed.owns(i) {  // split over ranks
            let b = ClozeBatch(bucket.map { examples[$0] })
            var none: Philox? = nil
            let logits = model.logits(b, rng: &none)
            lossSum += Double(crossEntropy(logits, targets: b.answers, reduction: .sum).scalar)
            for (i, p) in argmaxRows(logits).enumerated() { correct[bucket[i]] = p == b.answers[i] }
        }
    }
    if Distributed.isActive {
        let total = Distributed.sumOrAbort([lossSum] + correct.map { $0 ? 1 : 0 })
        lossSum = total[0]
        correct = total.dropFirst().map { $0 > 0 }
    }
    let n = max(examples.count, 1)
    // One bin per story length when there are few (the synthetic task), else bins of equal question counts.
    let byLength = buckets.flatMap { $0 }  // every question, by story length
    var parts: [ArraySlice<Int>] = []
    let distinct = Array(Set(examples.map(\.story.count))).sorted()
    if distinct.count <= bins {
        var start = 0
        for length in distinct {
            var end = start
            while end < byLength.count && examples[byLength[end]].story.count == length { end += 1 }
            parts.append(byLength[start..<end])
            start = end
        }
    } else {
        parts = (0..<bins).map { i in byLength[(i * byLength.count / bins)..<((i + 1) * byLength.count / bins)] }
    }
    var binned: [(lo: Int, hi: Int, accuracy: Double, count: Int)] = []
    for part in parts {
        guard let first = part.first, let last = part.last else { continue }
        binned.append((examples[first].story.count, examples[last].story.count,
                       Double(part.filter { correct[$0] }.count) / Double(part.count), part.count))
    }
    return ClozeScore(accuracy: Double(correct.filter { $0 }.count) / Double(n), loss: lossSum / Double(n), count: examples.count, byLength: binned)
}

/// The reading-comprehension task for the one trainer: each step draws one length bucket of the training split
/// (uniformly, with replacement); validation and test accuracy every evaluation; the model with the lowest
/// validation error is selected and scored at the end, overall and by story length.
public final class ClozeTask: TrainingTask {
    public static let experiment = "brebisson2016"

    public let config: ClozeTrainingConfig
    public let model: ClozeModel<Float>
    private let train: [ClozeExample], valid: [ClozeExample], test: [ClozeExample]
    private let buckets: [[Int]]

    public var experiment: String { Self.experiment }
    public var params: ParameterStore<Float> { model.params }
    public var label: String { config.runName + " " }
    public var attributes: [(String, AttributeValue)] {
        [("reader", .string(config.model.reader.rawValue)), ("hidden", .int(Int64(config.model.hidden))),
         ("data", .string(config.data.source))]
    }
    public var tokensPerStep: Int? { nil }
    public var progressEvery: Int { 50 }
    public var selectionMetric: String { "valid_error" }

    public init(config: ClozeTrainingConfig, train: [ClozeExample], validation: [ClozeExample], test: [ClozeExample]) throws {
        guard !train.isEmpty, !validation.isEmpty, !test.isEmpty else {
            throw TrainingError("the data needs questions in every split (train \(train.count), validation \(validation.count), test \(test.count))")
        }
        for (name, split) in [("train", train), ("validation", validation), ("test", test)] {
            if let bad = split.first(where: { e in !e.candidates.contains(e.answer) || e.candidates.contains { $0 < 0 || Int($0) >= config.model.entities } }) {
                throw TrainingError("\(name): a question whose answer or candidates fall outside the \(config.model.entities) entities (answer \(bad.answer))")
            }
        }
        self.config = config
        self.train = train
        self.valid = validation
        self.test = test
        buckets = lengthBuckets(train, batch: config.training.batch)
        model = ClozeModel<Float>(config.model, seed: config.training.seed)
    }

    public func batchLoss(step: Int, rng: inout RunRNG) -> BatchLoss {
        // Every rank of a data-parallel job draws the same bucket and trains on its slice of it. A slice's mean
        // loss is weighted by its share of the bucket (the last bucket may not divide evenly), so the ranks'
        // averaged gradient is the whole bucket's.
        let bucket = buckets[rng.data.below(buckets.count)]
        let rows = Distributed.slice(bucket.count)
        guard !rows.isEmpty else { return BatchLoss(loss: Tensor<Float>(shape: [1]), metrics: ["accuracy": 0]) }
        let b = ClozeBatch(bucket[rows].map { train[$0] },
                           steps: (bucket.map { train[$0].story.count }.max()!, bucket.map { train[$0].query.count }.max()!))
        var dropoutRNG: Philox? = config.model.dropout > 0 ? rng.dropout : nil
        let logits = model.logits(b, rng: &dropoutRNG)
        if let r = dropoutRNG { rng.dropout = r }
        let right = zip(argmaxRows(logits), b.answers).filter { $0 == $1 }.count
        let share = Float(rows.count * Distributed.size) / Float(bucket.count)
        return BatchLoss(loss: crossEntropy(logits, targets: b.answers, weight: share),
                         metrics: ["accuracy": Double(right) / Double(b.size) * Double(share)])
    }

    public func evaluate(step: Int) throws -> [String: Double] {
        let v = evaluateCloze(model, on: valid), t = evaluateCloze(model, on: test)
        return ["valid_error": 1 - v.accuracy, "valid_accuracy": v.accuracy, "valid_loss": v.loss,
                "test_accuracy": t.accuracy, "test_loss": t.loss]
    }

    public func results() throws -> TaskResults {
        let v = evaluateCloze(model, on: valid), t = evaluateCloze(model, on: test)
        var row: [String: Double] = ["valid_accuracy": v.accuracy, "test_accuracy": t.accuracy, "valid_loss": v.loss, "test_loss": t.loss,
                                     "valid_count": Double(v.count), "test_count": Double(t.count)]
        for (i, bin) in t.byLength.enumerated() {
            row["test_length_bin\(i)_lo"] = Double(bin.lo)
            row["test_length_bin\(i)_hi"] = Double(bin.hi)
            row["test_length_bin\(i)_accuracy"] = bin.accuracy
            row["test_length_bin\(i)_count"] = Double(bin.count)
        }
        return TaskResults(values: row, attributes: [("length_bins", .int(Int64(t.byLength.count)))])
    }

    public func progress(batch: [String: Double], lastEval: [String: Double]?) -> String {
        String(format: "valid accuracy %.2f%%  test accuracy %.2f%%", (lastEval?["valid_accuracy"] ?? .nan) * 100,
               (lastEval?["test_accuracy"] ?? .nan) * 100)
    }
}
