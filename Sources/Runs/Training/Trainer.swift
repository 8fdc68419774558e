// The one trainer: a run directory, its metrics, checkpoints, model selection and resume, for any task.
import CRuntime
import Engine
import Foundation
import NN

/// The random streams of a run, each seeded from the run's seed and saved in every checkpoint.
public struct RunRNG {
    /// Batches: which examples or windows a step trains on.
    public var data: Philox
    /// Dropout masks.
    public var dropout: Philox

    public init(seed: UInt64) {
        data = Philox(seed: seed, purpose: .data)
        dropout = Philox(seed: seed, purpose: .dropout)
    }
}

/// The loss of one training batch, recorded on the current tape, and the task's own metrics of that batch.
public struct BatchLoss {
    public let loss: Tensor<Float>
    /// Recorded under `train/<name>` beside the trainer's loss, lr, grad_norm, tokens_per_s and wall_time.
    public let metrics: [String: Double]
    public init(loss: Tensor<Float>, metrics: [String: Double] = [:]) {
        self.loss = loss
        self.metrics = metrics
    }
}

/// What a selected model scores at the end of a run: values recorded once under `results/`, and attributes for
/// the metrics file.
public struct TaskResults {
    public var values: [String: Double]
    public var attributes: [(String, AttributeValue)]
    public init(values: [String: Double], attributes: [(String, AttributeValue)] = []) {
        self.values = values
        self.attributes = attributes
    }
}

/// A training task: a model, its data stream, the loss of a batch, evaluation, and the metric that selects the
/// best model. The `Trainer` does everything else.
public protocol TrainingTask: AnyObject {
    associatedtype Config: RunConfig
    /// The paper the runs belong to: the `experiment` attribute of every run file.
    var experiment: String { get }
    var config: Config { get }
    /// The model's parameters (a finalised store).
    var params: ParameterStore<Float> { get }
    /// Prefix of one-line messages and progress ("" or "<run name> ").
    var label: String { get }
    /// Attributes of a new metrics file besides the provenance (model name, sizes).
    var attributes: [(String, AttributeValue)] { get }
    /// Symbols per training step, for the tokens/s series; nil where that is not a measure of the task.
    var tokensPerStep: Int? { get }
    /// Print the progress line every N steps (and at the last).
    var progressEvery: Int { get }
    /// The evaluation metric (lower is better) whose best value selects the model kept in best.h5.
    var selectionMetric: String { get }

    /// Draws a batch from `rng.data` and builds its loss on the current tape (dropout masks from `rng.dropout`).
    func batchLoss(step: Int, rng: inout RunRNG) -> BatchLoss
    /// The periodic evaluation, recorded under `eval/`; must contain `selectionMetric`.
    func evaluate(step: Int) throws -> [String: Double]
    /// Scores the model (the trainer has loaded the selected parameters) once training is done.
    func results() throws -> TaskResults
    /// The task's part of the progress line, from the last batch and the last evaluation.
    func progress(batch: [String: Double], lastEval: [String: Double]?) -> String
}

/// How a `Trainer.run()` ended.
public struct TrainingSummary {
    public let steps: Int
    /// The step whose parameters were selected (lowest `selectionMetric`); 0 before any evaluation.
    public let bestStep: Int
    public let lastEval: [String: Double]?
    /// The selected model's results (empty when stopped early).
    public let results: [String: Double]
    public let wallSeconds: Double
    public let stoppedEarly: Bool
}

/// One training run in a directory, for any task:
/// - `metrics.h5`: provenance attributes; `train/...` every step; `eval/...` every `evalEvery` steps;
///   `results/...` once, for the selected model;
/// - `checkpoint.h5`: parameters, optimizer state, every random stream, step, wall time, best so far, the
///   configuration (written atomically every `checkpointEvery` steps and at the end);
/// - `best.h5`: the parameters with the best `selectionMetric` so far (model selection on validation).
///
/// A run killed at any moment resumes (`resume: true`) from its last checkpoint and ends where an
/// uninterrupted run would (same seed and thread count): batches, dropout masks, optimizer and schedule all
/// continue from the saved state. A non-finite loss or gradient stops the run with one line that names the
/// step and the last good checkpoint, which is left untouched.
public final class Trainer<Task: TrainingTask> {
    public let task: Task
    public let runDir: String
    public private(set) var step = 0
    private let training: TrainingConfig
    private let optimizer: Optimizer
    private var rng: RunRNG
    private var wallSeconds = 0.0
    private var best = Double.infinity
    private var bestStep = 0
    private var lastEval: [String: Double]?
    /// The run's files: written by rank 0 of a data-parallel job only (nil on the other ranks).
    private let log: MetricsLog?
    private let provenance: Provenance
    /// Held from the start of the run to its end: no second process trains it meanwhile (rank 0 only).
    private let lock: RunLock?
    /// In a data-parallel job: a SIGINT or SIGTERM reached some rank by the last step (all ranks stop together).
    private var jobStopRequested = false

    /// Called with a one-line progress report (a terminal rewrites it in place); `final` on the last step.
    public var progress: ((String, _ final: Bool) -> Void)?
    /// Stop (as if killed) after this step, leaving the run resumable. For tests of resume.
    public var stopAfterStep: Int?

    public var checkpointPath: String { runDir + "/" + RunFiles.checkpoint }
    public var metricsPath: String { runDir + "/" + RunFiles.metrics }
    public var bestPath: String { runDir + "/" + RunFiles.best }

    /// Starts a new run of `task` in `runDir`, or with `resume` continues the one there. A new run refuses a
    /// directory that already holds one, so a good run is never overwritten by accident; resuming refuses a
    /// checkpoint made with another configuration.
    public init(task: Task, runDir: String, resume: Bool, provenance: Provenance) throws {
        let problems = task.config.training.problems
        guard problems.isEmpty else { throw TrainingError(problems[0]) }
        self.task = task
        self.runDir = runDir
        self.provenance = provenance
        training = task.config.training
        optimizer = training.makeOptimizer(task.params)
        rng = RunRNG(seed: training.seed)
        rb_stop_on_signals()  // from here a SIGINT/SIGTERM stops the run at a step boundary, its state saved (see run())
        if Distributed.isActive {
            guard training.batch % Distributed.size == 0 else {
                throw TrainingError("the batch of \(training.batch) does not divide among \(Distributed.size) ranks; give --batch a multiple of \(Distributed.size)")
            }
            try Distributed.requireSameEverywhere(Array(task.config.json.utf8), "configuration")
        }
        guard Distributed.isLeader else {
            // The other ranks of a data-parallel job write nothing; they resume from rank 0's checkpoint.
            log = nil
            lock = nil
            if try Distributed.sum([0])[0] > 0 { try loadCheckpoint() }
            return
        }
        try RunFiles.makeDirectory(runDir)
        lock = try RunLock.acquire(runDir)
        let continues = try RunFiles.prepare(runDir: runDir, resume: resume)
        let metricsExisted = FileManager.default.fileExists(atPath: runDir + "/" + RunFiles.metrics)
        let log = try MetricsLog(path: runDir + "/" + RunFiles.metrics)
        self.log = log
        if Distributed.isActive { _ = try Distributed.sum([continues ? 1 : 0]) }  // tells the other ranks
        if continues {
            try loadCheckpoint()
            try log.resume(atStep: Int64(step))
            if let last = try Self.lastRow(of: "eval", in: log.file) { lastEval = last.values }
        }
        if !metricsExisted {
            try provenance.write(to: log.file)
            try log.file.setAttribute("experiment", .string(task.experiment))
            for (k, v) in task.attributes { try log.file.setAttribute(k, v) }
            try log.file.setAttribute("parameters", .int(Int64(task.params.count)))
        } else {
            try log.file.setAttribute("resumed_command", .string(provenance.command))
        }
    }

    // MARK: Training

    /// One optimisation step: returns the batch's metrics, the trainer's included.
    public func trainStep() throws -> [String: Double] {
        step += 1
        task.params.zeroGrad()
        let tape = Tape()
        let batch = tape.recording { task.batchLoss(step: step, rng: &rng) }
        func stopped(_ what: String, _ value: String) -> TrainingError {
            TrainingError("\(task.label)step \(step): the \(what) is \(value); run stopped. \(RunFiles.lastGoodCheckpointNote(checkpointPath))")
        }
        var loss = Double(batch.loss.scalar), batchMetrics = batch.metrics
        if Distributed.isActive {
            // The batch's loss and metrics over the whole global batch, and whether any rank was told to stop.
            let keys = batchMetrics.keys.sorted()
            let n = Double(Distributed.size)
            let global = try Distributed.sum([loss] + keys.map { batchMetrics[$0]! } + [rb_stop_signal() != 0 ? 1 : 0])
            loss = global[0] / n
            for (i, k) in keys.enumerated() { batchMetrics[k] = global[i + 1] / n }
            jobStopRequested = global.last! > 0
        }
        guard loss.isFinite else { throw stopped("loss", "\(Float(loss))") }
        tape.backward(from: batch.loss)
        let reduceStart = Distributed.allreduceSeconds
        try Distributed.averageGradients(task.params.gradients, count: task.params.count)
        let norm = clipGradientNorm(task.params, maxNorm: training.clip)
        guard norm.isFinite else { throw stopped("gradient norm", "\(norm)") }
        let lr = training.learningRateSchedule.rate(base: training.lr, step: step)
        optimizer.step(lr: lr)
        var metrics = batchMetrics
        metrics["loss"] = loss
        metrics["grad_norm"] = norm
        metrics["lr"] = lr
        if Distributed.isActive { metrics["allreduce_s"] = Distributed.allreduceSeconds - reduceStart }
        return metrics
    }

    /// Trains to the configured number of steps (from wherever the run is), evaluating, selecting and
    /// checkpointing on schedule; then scores the selected model once and records its results.
    public func run() throws -> TrainingSummary {
        let sessionStart = DispatchTime.now().uptimeNanoseconds
        let wallAtStart = wallSeconds, stepAtStart = step
        func wallNow() -> Double { wallAtStart + Double(DispatchTime.now().uptimeNanoseconds - sessionStart) / 1e9 }
        defer { lock?.release() }
        do {
            while step < training.steps {
                let t0 = DispatchTime.now().uptimeNanoseconds
                var metrics = try trainStep()
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                wallSeconds = wallNow()
                if let tokens = task.tokensPerStep { metrics["tokens_per_s"] = Double(tokens) / dt }
                metrics["wall_time"] = wallSeconds
                try log?.record("train", step: Int64(step), metrics)
                if step % training.evalEvery == 0 || step == training.steps {  // every rank: evaluations are split over them
                    var e = try task.evaluate(step: step)
                    guard let value = e[task.selectionMetric] else {
                        throw TrainingError("the evaluation has no '\(task.selectionMetric)' to select the model by")
                    }
                    if value < best {
                        best = value
                        bestStep = step
                        try saveBest(value: value)
                    }
                    wallSeconds = wallNow()
                    e["wall_time"] = wallSeconds
                    lastEval = e
                    try log?.record("eval", step: Int64(step), e)
                }
                if step % training.checkpointEvery == 0 || step == training.steps {
                    try Distributed.requireSameEverywhere(parameterBytes(), "parameters after step \(step)")
                    try log?.flush()
                    try saveCheckpoint()
                }
                if Distributed.isLeader && (step % task.progressEvery == 0 || step == training.steps) {
                    let eta = (wallSeconds - wallAtStart) / Double(step - stepAtStart) * Double(training.steps - step)
                    var line = "\(task.label)step \(step)/\(training.steps)  " + String(format: "loss %.4f", metrics["loss"]!)
                    let part = task.progress(batch: metrics, lastEval: lastEval)
                    if !part.isEmpty { line += "  " + part }
                    if let tps = metrics["tokens_per_s"] { line += String(format: "  %.0f tok/s", tps) }
                    progress?(line + "  ETA " + formatDuration(eta), step == training.steps)
                }
                if Distributed.isActive ? jobStopRequested : rb_stop_signal() != 0 {
                    // SIGINT or SIGTERM (also a fastweights grid's parent stopping or dying): keep everything so far.
                    let signal = rb_stop_signal() == SIGINT ? "SIGINT" : "SIGTERM"
                    try log?.flush()
                    if step % training.checkpointEvery != 0 { try saveCheckpoint() }
                    try log?.close()
                    throw TrainingError("\(task.label)stopped by \(signal) after step \(step); checkpoint saved, continue with --resume")
                }
                if let stop = stopAfterStep, step >= stop {
                    try log?.close()
                    return TrainingSummary(steps: step, bestStep: bestStep, lastEval: lastEval, results: [:], wallSeconds: wallSeconds,
                                           stoppedEarly: true)
                }
            }
            let results = try finish(log)
            guard let log else {  // another rank of a data-parallel job
                return TrainingSummary(steps: step, bestStep: bestStep, lastEval: lastEval, results: results, wallSeconds: wallSeconds,
                                       stoppedEarly: false)
            }
            try Provenance.writeEnd(to: log.file)
            try log.close()
            return TrainingSummary(steps: step, bestStep: bestStep, lastEval: lastEval, results: results, wallSeconds: wallSeconds,
                                   stoppedEarly: false)
        } catch {
            try? log?.close()
            throw error
        }
    }

    /// Loads the selected parameters into the task's model and records its results once (a finished run that
    /// is resumed reads them back instead of scoring again).
    /// In a data-parallel job every rank scores (the evaluation is split over them) and rank 0 records.
    private func finish(_ log: MetricsLog?) throws -> [String: Double] {
        try loadSelected()
        let recorded = try log.flatMap { try Self.lastRow(of: "results", in: $0.file) }
        // Whether rank 0 has them already, so that every rank takes the same path.
        let scored = Distributed.isActive ? try Distributed.sum([recorded == nil ? 0 : 1])[0] > 0 : recorded != nil
        if scored { return recorded?.values ?? [:] }
        var r = try task.results()
        r.values["wall_time"] = wallSeconds
        try log?.record("results", step: Int64(bestStep), r.values)
        for (k, v) in r.attributes { try log?.file.setAttribute(k, v) }
        return r.values
    }

    private func loadSelected() throws {
        guard FileManager.default.fileExists(atPath: bestPath) else { return }
        let f = try Checkpoint.open(bestPath)
        try task.params.read(from: f)
        bestStep = Int(try f.attribute("step")?.intValue ?? Int64(bestStep))
    }

    /// The last row of a group's series (step and values), or nil when the group holds none.
    static func lastRow(of group: String, in file: HDF5File) throws -> (step: Int, values: [String: Double])? {
        guard file.kind(of: "\(group)/step") == .dataset, let step = try file.read("\(group)/step").int64s.last else { return nil }
        var values: [String: Double] = [:]
        for name in try file.children(of: group) where name != "step" {
            if let v = try file.read("\(group)/\(name)").doubles.last { values[name] = v }
        }
        return (Int(step), values)
    }

    // MARK: Checkpoints

    private func runAttributes(_ f: HDF5File) throws {
        try f.setAttribute("experiment", .string(task.experiment))
        for (k, v) in provenance.attributes where k != "config" { try f.setAttribute(k, v) }
        try f.setAttribute("config", .string(task.config.json))
    }

    private func saveBest(value: Double) throws {
        guard Distributed.isLeader else { return }
        try Checkpoint.write(to: bestPath) { f in
            try task.params.write(to: f)
            try f.setAttribute("step", .int(Int64(step)))
            try f.setAttribute("selection_metric", .string(task.selectionMetric))
            try f.setAttribute("selection_value", .double(value))
            try runAttributes(f)
        }
    }

    /// The parameters' bytes (to check that every rank of a data-parallel job holds the same).
    private func parameterBytes() -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: task.params.values, count: task.params.count * MemoryLayout<Float>.size))
    }

    public func saveCheckpoint() throws {
        guard Distributed.isLeader else { return }
        try Checkpoint.write(to: checkpointPath) { f in
            try task.params.write(to: f)
            try optimizer.write(to: f, group: "optimizer")
            try f.write(NDArray(rng.data.state), to: "rng/data")
            try f.write(NDArray(rng.dropout.state), to: "rng/dropout")
            try f.setAttribute("step", .int(Int64(step)))
            try f.setAttribute("wall_seconds", .double(wallSeconds))
            try f.setAttribute("best_value", .double(best))
            try f.setAttribute("best_step", .int(Int64(bestStep)))
            try runAttributes(f)
        }
    }

    private func loadCheckpoint() throws {
        let f = try Checkpoint.open(checkpointPath)
        let experiment = try f.attribute("experiment")?.stringValue
        guard experiment == task.experiment else {
            throw TrainingError("\(checkpointPath): not a run of \(task.experiment) (" + (experiment.map { "a run of \($0)" } ?? "no experiment recorded") + ")")
        }
        guard let json = try f.attribute("config")?.stringValue, let stored = try? Task.Config.fromJSON(json) else {
            throw TrainingError("\(checkpointPath): not a run of \(task.experiment) (its configuration does not read as one)")
        }
        guard stored == task.config else {
            throw TrainingError("\(checkpointPath) was made with a different configuration; resume with the same preset and options")
        }
        try task.params.read(from: f)
        try optimizer.read(from: f, group: "optimizer")
        rng.data = Philox(state: try f.read("rng/data").int64s)
        rng.dropout = Philox(state: try f.read("rng/dropout").int64s)
        step = Int(try f.attribute("step")?.intValue ?? 0)
        wallSeconds = try f.attribute("wall_seconds")?.doubleValue ?? 0
        best = try f.attribute("best_value")?.doubleValue ?? .infinity
        bestStep = Int(try f.attribute("best_step")?.intValue ?? 0)
    }
}

public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
