import Foundation

/// Everything that defines one associative-retrieval training run; stored (as JSON) in its files.
public struct RetrievalTrainingConfig: Codable, Equatable, Sendable {
    public var preset: String
    public var model: RetrievalModelConfig
    /// "generated" (from `seed`, `pairs`, `distinctDigits`) or the directory the TSV splits came from.
    public var data: String
    public var pairs: Int
    public var distinctDigits: Bool
    /// Generated split sizes: train, validation, test (100,000 / 10,000 / 20,000 but in the smoke preset).
    public var splitSizes: [Int]
    public var steps: Int
    public var batch: Int
    public var lr: Double
    public var clip: Double
    public var evalEvery: Int
    public var checkpointEvery: Int
    public var seed: UInt64

    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    public static func fromJSON(_ s: String) throws -> RetrievalTrainingConfig {
        try JSONDecoder().decode(RetrievalTrainingConfig.self, from: Data(s.utf8))
    }

    /// The run directory's name: `<model>-R<hidden>`.
    public var runName: String { "\(model.kind.rawValue)-R\(model.hidden)" }
}

/// Error rate and mean cross-entropy of a model on a set.
public struct RetrievalScore: Sendable {
    public let error: Double
    public let loss: Double
    public let count: Int
}

/// How many rows of `logits` [N, C] have their largest entry (the first, on ties) somewhere other than the target.
func misclassified(_ logits: Tensor<Float>, _ targets: [Int32]) -> Int {
    let c = logits.shape[1]
    var wrong = 0
    for r in 0..<targets.count {
        let row = logits.data + r * c
        var best = 0
        for j in 1..<c where row[j] > row[best] { best = j }
        if Int32(best) != targets[r] { wrong += 1 }
    }
    return wrong
}

/// Scores `model` on `set` in batches, without recording gradients.
public func evaluateRetrieval(_ model: RetrievalModel<Float>, on set: RetrievalSet, batch: Int = 1000) -> RetrievalScore {
    precondition(set.length == model.config.length, "evaluate: \(set.length)-symbol examples for a model of length \(model.config.length)")
    var wrong = 0, lossSum = 0.0
    Tape.withoutRecording {
        var start = 0
        while start < set.count {
            let n = min(batch, set.count - start)
            let ids = Array(set.inputs[(start * set.length)..<((start + n) * set.length)])
            let targets = Array(set.targets[start..<(start + n)])
            let logits = model.logits(ids, batch: n)
            lossSum += Double(crossEntropy(logits, targets: targets, reduction: .sum).scalar)
            wrong += misclassified(logits, targets)
            start += n
        }
    }
    return RetrievalScore(error: Double(wrong) / Double(max(set.count, 1)), loss: lossSum / Double(max(set.count, 1)), count: set.count)
}

/// One associative-retrieval run in a directory: `metrics.h5` (series `train/...` every step, `eval/...` every
/// evaluation with validation and test error, `results/...` once at the end), `checkpoint.h5` (the latest state:
/// parameters, Adam moments, data stream, step, best-so-far) and `best.h5` (the parameters with the lowest
/// validation error so far: model selection on validation). Batches are drawn uniformly with replacement from
/// the training split by the run's data stream, so a run resumed from a checkpoint ends exactly where an
/// uninterrupted one would.
public final class RetrievalRun {
    public static let experiment = "fastweights2016"
    public static let bestFile = "best.h5"

    public let config: RetrievalTrainingConfig
    public let runDir: String
    public let model: RetrievalModel<Float>
    public private(set) var step = 0
    private let train: RetrievalSet, valid: RetrievalSet, test: RetrievalSet
    private let optimizer: Adam<Float>
    private var dataRNG: Philox
    private var wallSeconds = 0.0
    private var bestValidError = Double.infinity
    private var bestStep = 0
    private let log: MetricsLog
    private let provenance: Provenance
    public var progress: ((String, _ final: Bool) -> Void)?
    /// Stop (as if killed) after this step, leaving the run resumable. For tests of resume.
    public var stopAfterStep: Int?

    public var checkpointPath: String { runDir + "/" + RunFiles.checkpoint }
    public var metricsPath: String { runDir + "/" + RunFiles.metrics }
    public var bestPath: String { runDir + "/" + RetrievalRun.bestFile }

    public init(config: RetrievalTrainingConfig, splits: [String: RetrievalSet], runDir: String, resume: Bool, provenance: Provenance) throws {
        guard let train = splits["train"], let valid = splits["validation"], let test = splits["test"] else {
            throw TrainingError("retrieval data needs train, validation and test splits")
        }
        guard train.length == config.model.length, valid.length == config.model.length, test.length == config.model.length else {
            throw TrainingError("the data has \(train.pairs) pairs per example but the model expects \((config.model.length - 3) / 2)")
        }
        self.config = config
        self.train = train
        self.valid = valid
        self.test = test
        self.runDir = runDir
        self.provenance = provenance
        model = RetrievalModel<Float>.make(config.model, seed: config.seed)
        optimizer = Adam(model.params)
        dataRNG = Philox(seed: config.seed, purpose: .data)
        let metricsExisted = try RunFiles.prepare(runDir: runDir, resume: resume, option: "--run-root")
        log = try MetricsLog(path: runDir + "/" + RunFiles.metrics)
        if resume {
            try loadCheckpoint()
            try log.resume(atStep: Int64(step))
        }
        if !metricsExisted {
            try provenance.write(to: log.file)
            try log.file.setAttribute("experiment", .string(RetrievalRun.experiment))
            try log.file.setAttribute("model", .string(config.model.kind.rawValue))
            try log.file.setAttribute("hidden", .int(Int64(config.model.hidden)))
            try log.file.setAttribute("parameters", .int(Int64(model.params.count)))
        } else {
            try log.file.setAttribute("resumed_command", .string(provenance.command))
        }
    }

    /// One Adam step on a batch drawn from the training split; returns (loss, batch error, gradient norm).
    public func trainStep() throws -> (loss: Double, error: Double, gradNorm: Double) {
        step += 1
        let b = config.batch, l = train.length
        var ids = [Int32](), targets = [Int32]()
        ids.reserveCapacity(b * l)
        targets.reserveCapacity(b)
        for _ in 0..<b {
            let i = dataRNG.below(train.count)
            ids.append(contentsOf: train.inputs[(i * l)..<((i + 1) * l)])
            targets.append(train.targets[i])
        }
        model.params.zeroGrad()
        let tape = Tape()
        var wrong = 0
        let loss = tape.recording { () -> Tensor<Float> in
            let logits = model.logits(ids, batch: b)
            wrong = misclassified(logits, targets)
            return crossEntropy(logits, targets: targets)
        }
        guard loss.scalar.isFinite else {
            throw TrainingError("\(config.runName) step \(step): the loss is \(loss.scalar); run stopped. \(lastGoodCheckpoint())")
        }
        tape.backward(from: loss)
        let norm = clipGradientNorm(model.params, maxNorm: config.clip)
        guard norm.isFinite else {
            throw TrainingError("\(config.runName) step \(step): the gradient norm is \(norm); run stopped. \(lastGoodCheckpoint())")
        }
        optimizer.step(lr: config.lr)
        return (Double(loss.scalar), Double(wrong) / Double(b), norm)
    }

    private func lastGoodCheckpoint() -> String { RunFiles.lastGoodCheckpointNote(checkpointPath) }

    public struct Summary {
        public let steps: Int
        public let bestStep: Int
        public let validError: Double
        public let testError: Double
        /// Error of the selected model on each extra set, by name.
        public let extra: [(name: String, error: Double, count: Int)]
        public let wallSeconds: Double
        public let stoppedEarly: Bool
    }

    /// Trains to `config.steps`, evaluating (validation and test error) every `evalEvery` steps and keeping the
    /// parameters with the lowest validation error; then scores that selected model on the test split and on
    /// each of `extraSets` and records the results.
    public func run(extraSets: [(name: String, set: RetrievalSet)] = []) throws -> Summary {
        let sessionStart = DispatchTime.now().uptimeNanoseconds
        let wallAtStart = wallSeconds, stepAtStart = step
        func wallNow() -> Double { wallAtStart + Double(DispatchTime.now().uptimeNanoseconds - sessionStart) / 1e9 }
        var lastValid = Double.nan, lastTest = Double.nan
        do {
            while step < config.steps {
                let r = try trainStep()
                wallSeconds = wallNow()
                try log.record("train", step: Int64(step), ["loss": r.loss, "error": r.error, "grad_norm": r.gradNorm, "wall_time": wallSeconds])
                if step % config.evalEvery == 0 || step == config.steps {
                    let v = evaluateRetrieval(model, on: valid), t = evaluateRetrieval(model, on: test)
                    lastValid = v.error
                    lastTest = t.error
                    if v.error < bestValidError {
                        bestValidError = v.error
                        bestStep = step
                        try Checkpoint.write(to: bestPath) { f in
                            try model.params.write(to: f)
                            try f.setAttribute("step", .int(Int64(step)))
                            try f.setAttribute("valid_error", .double(v.error))
                            try f.setAttribute("experiment", .string(RetrievalRun.experiment))
                            try f.setAttribute("config", .string(config.json))
                        }
                    }
                    wallSeconds = wallNow()
                    try log.record("eval", step: Int64(step), [
                        "valid_error": v.error, "valid_loss": v.loss, "test_error": t.error, "test_loss": t.loss, "wall_time": wallSeconds,
                    ])
                }
                if step % config.checkpointEvery == 0 || step == config.steps {
                    try log.flush()
                    try saveCheckpoint()
                }
                if step % 100 == 0 || step == config.steps {
                    let eta = (wallSeconds - wallAtStart) / Double(step - stepAtStart) * Double(config.steps - step)
                    progress?(String(format: "%@ step %d/%d  loss %.4f  valid error %.2f%%  test error %.2f%%  ETA %@", config.runName, step,
                                     config.steps, r.loss, lastValid * 100, lastTest * 100, formatDuration(eta)), step == config.steps)
                }
                if let stop = stopAfterStep, step >= stop {
                    try log.close()
                    return Summary(steps: step, bestStep: bestStep, validError: bestValidError, testError: .nan, extra: [],
                                   wallSeconds: wallSeconds, stoppedEarly: true)
                }
            }
            let summary = try finish(extraSets: extraSets)
            try Provenance.writeEnd(to: log.file)
            try log.close()
            return summary
        } catch {
            try? log.close()
            throw error
        }
    }

    /// Scores the selected (best-validation) parameters and records them under `results/` once.
    private func finish(extraSets: [(name: String, set: RetrievalSet)]) throws -> Summary {
        let selected = RetrievalModel<Float>.make(config.model, seed: config.seed)
        let f = try Checkpoint.open(bestPath)
        try selected.params.read(from: f)
        let best = Int(try f.attribute("step")?.intValue ?? 0)
        let v = evaluateRetrieval(selected, on: valid), t = evaluateRetrieval(selected, on: test)
        var extra: [(name: String, error: Double, count: Int)] = []
        var row: [String: Double] = ["valid_error": v.error, "test_error": t.error, "valid_loss": v.loss, "test_loss": t.loss,
                                     "wall_time": wallSeconds]
        for (name, set) in extraSets {
            guard set.length == config.model.length else {
                throw TrainingError("\(name): \(set.pairs) pairs per example, but the model was trained on \(config.pairs)")
            }
            let s = evaluateRetrieval(selected, on: set)
            extra.append((name, s.error, s.count))
            row["also_\(name)_error"] = s.error
        }
        if log.file.kind(of: "results/step") != .dataset {
            try log.record("results", step: Int64(best), row)
            try log.file.setAttribute("extra_sets", .string(extraSets.map(\.name).joined(separator: ",")))
        }
        return Summary(steps: step, bestStep: best, validError: v.error, testError: t.error, extra: extra, wallSeconds: wallSeconds,
                       stoppedEarly: false)
    }

    // MARK: Checkpoints

    public func saveCheckpoint() throws {
        try Checkpoint.write(to: checkpointPath) { f in
            try model.params.write(to: f)
            try optimizer.write(to: f, group: "optimizer")
            try f.write(NDArray(dataRNG.state), to: "rng/data")
            try f.setAttribute("step", .int(Int64(step)))
            try f.setAttribute("wall_seconds", .double(wallSeconds))
            try f.setAttribute("best_valid_error", .double(bestValidError))
            try f.setAttribute("best_step", .int(Int64(bestStep)))
            try f.setAttribute("experiment", .string(RetrievalRun.experiment))
            for (k, v) in provenance.attributes where k != "config" { try f.setAttribute(k, v) }
            try f.setAttribute("config", .string(config.json))
        }
    }

    private func loadCheckpoint() throws {
        let f = try Checkpoint.open(checkpointPath)
        guard let json = try f.attribute("config")?.stringValue, let stored = try? RetrievalTrainingConfig.fromJSON(json) else {
            throw TrainingError("\(checkpointPath): not a fastweights retrieval checkpoint (no configuration)")
        }
        guard stored == config else {
            throw TrainingError("\(checkpointPath) was made with a different configuration; resume with the same options")
        }
        try model.params.read(from: f)
        try optimizer.read(from: f, group: "optimizer")
        dataRNG = Philox(state: try f.read("rng/data").int64s)
        step = Int(try f.attribute("step")?.intValue ?? 0)
        wallSeconds = try f.attribute("wall_seconds")?.doubleValue ?? 0
        bestValidError = try f.attribute("best_valid_error")?.doubleValue ?? .infinity
        bestStep = Int(try f.attribute("best_step")?.intValue ?? 0)
    }
}
