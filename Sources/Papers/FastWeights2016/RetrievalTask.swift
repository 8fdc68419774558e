import Engine
import NN
import Runs
import Foundation

/// Everything that defines one associative-retrieval training run; stored (as JSON) in its files.
public struct RetrievalTrainingConfig: RunConfig {
    public var preset: String
    public var model: RetrievalModelConfig
    /// "generated" (from the seed, `pairs`, `distinctDigits`) or the directory the TSV splits came from.
    public var data: String
    public var pairs: Int
    public var distinctDigits: Bool
    /// Generated split sizes: train, validation, test (100,000 / 10,000 / 20,000 but in the smoke preset).
    public var splitSizes: [Int]
    public var training: TrainingConfig

    public init(preset: String, model: RetrievalModelConfig, data: String, pairs: Int, distinctDigits: Bool, splitSizes: [Int],
                training: TrainingConfig) {
        self.preset = preset
        self.model = model
        self.data = data
        self.pairs = pairs
        self.distinctDigits = distinctDigits
        self.splitSizes = splitSizes
        self.training = training
    }

    /// The run directory's name: `<model>-R<hidden>`.
    public var runName: String { "\(model.kind.rawValue)-R\(model.hidden)" }

    /// Bytes a training step needs, roughly (the order of magnitude is what matters: it refuses sizes that cannot
    /// fit): the parameters four times (weights, gradients, Adam's two moments) and the Float32 activations the
    /// tape keeps for a batch, per position a multiple of R that depends on the model (gates, inner steps, the
    /// transformer block) and, for the models with a memory of their past states, the stacked history.
    public var estimatedTrainingBytes: Double {
        let m = model, r = Double(m.hidden), l = Double(m.length), symbols = Double(AssociativeRetrieval.vocabulary)
        // Parameters per R^2; activations per position, in units of R; the readout's input, in units of R.
        let square: Double, perPosition: Double, features: Double
        switch m.kind {
        case .irnn: (square, perPosition, features) = (1, 4, 1)
        case .lstm: (square, perPosition, features) = (4, 12, 1)
        case .fastWeights: (square, perPosition, features) = (1, 3 + 5 * Double(m.innerSteps) + (m.innerSteps > 0 ? l : 0), 1)
        case .linearTransformer: (square, perPosition, features) = (4 + 2 * Double(m.ffMultiple), 14 + 2 * Double(m.ffMultiple), 1)
        case .alstm: (square, perPosition, features) = (4.5, 16 + 8 * Double(m.memoryCopies), 1)  // gates, keys, one cell per copy
        case .lstmAttention: (square, perPosition, features) = (9, 16 + l, 2)  // the stacked history
        }
        let head = Double(m.headHidden)
        let readout = m.headHidden > 0 ? features * r * head + head * 10 : features * r * 10
        let parameters = square * r * r + 4 * symbols * r + (l + 2 * symbols) * r + readout
        let activations = Double(training.batch) * (l * (symbols + perPosition * r) + features * r + 2 * head)
        return 4 * (4 * parameters + activations)
    }
}

/// Error rate and mean cross-entropy of a model on a set.
public struct RetrievalScore: Sendable {
    public let error: Double
    public let loss: Double
    public let count: Int
}

/// How many rows of `logits` [N, C] have their largest entry (the first, on ties) somewhere other than the target.
func misclassified(_ logits: Tensor<Float>, _ targets: [Int32]) -> Int {
    zip(argmaxRows(logits), targets).filter { $0 != $1 }.count
}

/// Scores `model` on `set` in batches, without recording gradients.
public func evaluateRetrieval(_ model: RetrievalModel<Float>, on set: RetrievalSet, batch: Int = 1000) -> RetrievalScore {
    precondition(set.length == model.config.length, "evaluate: \(set.length)-symbol examples for a model of length \(model.config.length)")
    var wrong = 0, lossSum = 0.0
    Tape.withoutRecording {
        var start = 0
        while start < set.count {
            let n = min(batch, set.count - start)
            defer { start += n }
            guard Distributed.owns(start / batch) else { continue }  // a data-parallel job splits the batches
            let ids = Array(set.inputs[(start * set.length)..<((start + n) * set.length)])
            let targets = Array(set.targets[start..<(start + n)])
            let logits = model.logits(ids, batch: n)
            lossSum += Double(crossEntropy(logits, targets: targets, reduction: .sum).scalar)
            wrong += misclassified(logits, targets)
        }
    }
    if Distributed.isActive {
        let total = Distributed.sumOrAbort([Double(wrong), lossSum])
        (wrong, lossSum) = (Int(total[0]), total[1])
    }
    return RetrievalScore(error: Double(wrong) / Double(max(set.count, 1)), loss: lossSum / Double(max(set.count, 1)), count: set.count)
}

/// The associative-retrieval task for the one trainer: batches drawn uniformly with replacement from the
/// training split; validation and test error every evaluation; the model with the lowest validation error is
/// selected and scored on validation, test and any extra sets at the end.
public final class RetrievalTask: TrainingTask {
    public static let experiment = "fastweights2016"

    public let config: RetrievalTrainingConfig
    public let model: RetrievalModel<Float>
    private let train: RetrievalSet, valid: RetrievalSet, test: RetrievalSet
    private let extraSets: [(name: String, set: RetrievalSet)]

    public var experiment: String { Self.experiment }
    public var params: ParameterStore<Float> { model.params }
    public var label: String { config.runName + " " }
    public var attributes: [(String, AttributeValue)] {
        [("model", .string(config.model.kind.rawValue)), ("hidden", .int(Int64(config.model.hidden)))]
    }
    public var tokensPerStep: Int? { nil }
    public var progressEvery: Int { 100 }
    public var selectionMetric: String { "valid_error" }

    /// `extraSets` are scored with the selected model at the end (`results/also_<name>_error`).
    public init(config: RetrievalTrainingConfig, splits: [String: RetrievalSet], extraSets: [(name: String, set: RetrievalSet)] = []) throws {
        guard let train = splits["train"], let valid = splits["validation"], let test = splits["test"] else {
            throw TrainingError("retrieval data needs train, validation and test splits")
        }
        guard train.length == config.model.length, valid.length == config.model.length, test.length == config.model.length else {
            throw TrainingError("the data has \(train.pairs) pairs per example but the model expects \((config.model.length - 3) / 2)")
        }
        for (name, set) in extraSets where set.length != config.model.length {
            throw TrainingError("\(name): \(set.pairs) pairs per example, but the model was trained on \(config.pairs)")
        }
        self.config = config
        self.train = train
        self.valid = valid
        self.test = test
        self.extraSets = extraSets
        model = RetrievalModel<Float>.make(config.model, seed: config.training.seed)
    }

    public func batchLoss(step: Int, rng: inout RunRNG) -> BatchLoss {
        // The global batch is drawn on every rank of a data-parallel job; each trains on its rows.
        let rows = Distributed.slice(config.training.batch), b = rows.count, l = train.length
        var ids = [Int32](), targets = [Int32]()
        ids.reserveCapacity(b * l)
        targets.reserveCapacity(b)
        for row in 0..<config.training.batch {
            let i = rng.data.below(train.count)
            guard rows.contains(row) else { continue }
            ids.append(contentsOf: train.inputs[(i * l)..<((i + 1) * l)])
            targets.append(train.targets[i])
        }
        let logits = model.logits(ids, batch: b)
        let wrong = misclassified(logits, targets)
        return BatchLoss(loss: crossEntropy(logits, targets: targets), metrics: ["error": Double(wrong) / Double(b)])
    }

    public func evaluate(step: Int) throws -> [String: Double] {
        let v = evaluateRetrieval(model, on: valid), t = evaluateRetrieval(model, on: test)
        return ["valid_error": v.error, "valid_loss": v.loss, "test_error": t.error, "test_loss": t.loss]
    }

    public func results() throws -> TaskResults {
        let v = evaluateRetrieval(model, on: valid), t = evaluateRetrieval(model, on: test)
        var row: [String: Double] = ["valid_error": v.error, "test_error": t.error, "valid_loss": v.loss, "test_loss": t.loss]
        for (name, set) in extraSets {
            let s = evaluateRetrieval(model, on: set)
            row["also_\(name)_error"] = s.error
            row["also_\(name)_count"] = Double(s.count)
        }
        return TaskResults(values: row, attributes: [("extra_sets", .string(extraSets.map(\.name).joined(separator: ",")))])
    }

    public func progress(batch: [String: Double], lastEval: [String: Double]?) -> String {
        String(format: "valid error %.2f%%  test error %.2f%%", (lastEval?["valid_error"] ?? .nan) * 100, (lastEval?["test_error"] ?? .nan) * 100)
    }
}
