import Foundation

/// One language-model training run in a directory: `metrics.h5` (series `train/...`, `eval/...`,
/// `results_<split>/...`) and `checkpoint.h5` (parameters, optimizer moments, RNG states, step, wall time).
///
/// Batches are random windows of the training split drawn from the run's data stream; dropout draws from its
/// own stream. Both streams, the optimizer and the step are in the checkpoint, so a run resumed from step N
/// continues exactly as the uninterrupted run would have (same seed and thread count).
public final class LMRun {
    public let config: LMTrainingConfig
    public let corpus: CharCorpus
    public let runDir: String
    public let model: TransformerLM<Float>
    public private(set) var step = 0
    private let optimizer: Optimizer
    private var dataRNG: Philox
    private var dropoutRNG: Philox
    private var wallSeconds = 0.0
    private var lastEvalBPC: Double?
    private let log: MetricsLog
    private let provenance: Provenance

    /// Called with a one-line progress report after each step (a terminal rewrites it in place).
    public var progress: ((String, _ final: Bool) -> Void)?
    /// Stop (as if killed) after this step, leaving the run resumable. For tests of resume.
    public var stopAfterStep: Int?

    public var checkpointPath: String { runDir + "/" + RunFiles.checkpoint }
    public var metricsPath: String { runDir + "/" + RunFiles.metrics }

    /// Starts a new run in `runDir`, or with `resume` continues the one there. A new run refuses a directory
    /// that already holds a checkpoint, so a good run is never overwritten by accident.
    public init(config: LMTrainingConfig, corpus: CharCorpus, runDir: String, resume: Bool, provenance: Provenance) throws {
        guard config.model.vocab == corpus.alphabet.size else {
            throw TrainingError("model vocabulary \(config.model.vocab) does not match \(corpus.name)'s \(corpus.alphabet.size) symbols")
        }
        guard corpus.train.count > config.model.context + 2 else {
            throw TrainingError("\(corpus.name): training split (\(corpus.train.count) symbols) is shorter than one window of \(config.model.context + 2)")
        }
        self.config = config
        self.corpus = corpus
        self.runDir = runDir
        self.provenance = provenance
        model = TransformerLM<Float>(config.model, seed: config.seed)
        switch config.optimizer {
        case "adamw": optimizer = Adam(model.params, weightDecay: config.weightDecay, decoupled: true)
        case "sgd": optimizer = SGD(model.params, momentum: config.momentum, weightDecay: config.weightDecay)
        default: throw TrainingError("unknown optimizer '\(config.optimizer)' (adamw, sgd)")
        }
        dataRNG = Philox(seed: config.seed, purpose: .data)
        dropoutRNG = Philox(seed: config.seed, purpose: .dropout)
        let metricsExisted = try RunFiles.prepare(runDir: runDir, resume: resume, option: "--run-dir")
        log = try MetricsLog(path: runDir + "/" + RunFiles.metrics)
        if resume {
            try loadCheckpoint()
            try log.resume(atStep: Int64(step))
            if log.file.kind(of: "eval/bpc") == .dataset { lastEvalBPC = try log.file.read("eval/bpc").doubles.last }
        }
        if !metricsExisted {
            try provenance.write(to: log.file)
            try log.file.setAttribute("experiment", .string("al-rfou2018"))
            try log.file.setAttribute("parameters", .int(Int64(model.params.count)))
        } else {
            try log.file.setAttribute("resumed_command", .string(provenance.command))
        }
    }

    // MARK: Training

    public struct StepResult {
        public let loss: Double, finalLoss: Double, intermediateLoss: Double, nextButOneLoss: Double
        public let gradNorm: Double, lr: Double, activeIntermediate: Int
    }

    /// One optimisation step on a fresh batch of random windows.
    public func trainStep() throws -> StepResult {
        step += 1
        let b = config.batch, t = config.model.context, n = corpus.train.count
        var x = [Int32](), y1 = [Int32](), y2 = [Int32]()
        x.reserveCapacity(b * t); y1.reserveCapacity(b * t); y2.reserveCapacity(b * t)
        for _ in 0..<b {
            let s = dataRNG.below(n - t - 1)  // needs symbols s ... s+t+1
            for j in 0..<t {
                x.append(Int32(corpus.train[s + j]))
                y1.append(Int32(corpus.train[s + j + 1]))
                y2.append(Int32(corpus.train[s + j + 2]))
            }
        }
        if !config.aux.multiplePositions {  // only the last position of each window is a target
            for r in 0..<b { for j in 0..<(t - 1) { y1[r * t + j] = -1; y2[r * t + j] = -1 } }
        }
        model.params.zeroGrad()
        let tape = Tape()
        var finalLoss: Float = 0, intermediate: Float = 0, nextButOne: Float = 0, active = 0
        let layers = config.model.layers
        let total = tape.recording { () -> Tensor<Float> in
            let out = model.forward(x, batch: b, length: t, dropout: config.model.dropout, rng: &dropoutRNG)
            var loss = crossEntropy(out.logits, targets: y1)
            finalLoss = loss.scalar
            if config.aux.intermediateLayers {
                for l in 1..<max(layers, 1) where AuxiliaryLosses.intermediateActive(layer: l, of: layers, step: step, totalSteps: config.steps) {
                    let h = model.lnF(reshape(out.hidden[l - 1], [b * t, config.model.dModel]))
                    let li = crossEntropy(model.head(h), targets: y1, weight: Float(config.aux.intermediateWeight))
                    intermediate += li.scalar
                    active += 1
                    loss = loss + li
                }
            }
            if config.aux.multipleTargets, let head2 = model.headNextButOne {
                let w = Float(config.aux.multipleTargetsWeight)
                let l2 = crossEntropy(head2(out.final), targets: y2, weight: w)
                nextButOne = w > 0 ? l2.scalar / w : 0
                loss = loss + l2
            }
            return loss
        }
        guard total.scalar.isFinite else {
            throw TrainingError("step \(step): the loss is \(total.scalar); run stopped. \(lastGoodCheckpoint())")
        }
        tape.backward(from: total)
        let norm = clipGradientNorm(model.params, maxNorm: config.clip)
        guard norm.isFinite else {
            throw TrainingError("step \(step): the gradient norm is \(norm); run stopped. \(lastGoodCheckpoint())")
        }
        let lr = config.learningRateSchedule.rate(base: config.lr, step: step)
        optimizer.step(lr: lr)
        return StepResult(loss: Double(total.scalar), finalLoss: Double(finalLoss), intermediateLoss: Double(intermediate),
                          nextButOneLoss: Double(nextButOne), gradNorm: norm, lr: lr, activeIntermediate: active)
    }

    private func lastGoodCheckpoint() -> String { RunFiles.lastGoodCheckpointNote(checkpointPath) }

    public struct Summary {
        public let steps: Int
        public let validBPC: Double
        public let validSymbols: Int
        public let wallSeconds: Double
        public let stoppedEarly: Bool
    }

    /// Trains to `config.steps` (from wherever the run is), evaluating and checkpointing on schedule.
    public func train() throws -> Summary {
        let sessionStart = DispatchTime.now().uptimeNanoseconds
        let wallAtStart = wallSeconds
        func wallNow() -> Double { wallAtStart + Double(DispatchTime.now().uptimeNanoseconds - sessionStart) / 1e9 }
        let tokensPerStep = Double(config.batch * config.model.context)
        do {
            while step < config.steps {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let r = try trainStep()
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                wallSeconds = wallNow()
                try log.record("train", step: Int64(step), [
                    "loss": r.loss, "loss_final": r.finalLoss, "bpc_final": r.finalLoss / Foundation.log(2.0),
                    "loss_intermediate": r.intermediateLoss, "loss_next2": r.nextButOneLoss,
                    "active_intermediate": Double(r.activeIntermediate), "lr": r.lr, "grad_norm": r.gradNorm,
                    "tokens_per_s": tokensPerStep / dt, "wall_time": wallSeconds,
                ])
                if step % config.evalEvery == 0 || step == config.steps {
                    let e = evaluateBPC(model, ids: corpus.valid, stride: config.evalStride, maxSymbols: config.evalSymbols)
                    lastEvalBPC = e.bpc
                    wallSeconds = wallNow()
                    try log.record("eval", step: Int64(step), ["bpc": e.bpc, "symbols": Double(e.symbols), "wall_time": wallSeconds])
                }
                if step % config.checkpointEvery == 0 || step == config.steps {
                    try log.flush()
                    try saveCheckpoint()
                }
                report(r, tokensPerSecond: tokensPerStep / dt, wallAtStart: wallAtStart)
                if let stop = stopAfterStep, step >= stop {
                    try log.close()
                    return Summary(steps: step, validBPC: lastEvalBPC ?? .nan, validSymbols: 0, wallSeconds: wallSeconds, stoppedEarly: true)
                }
            }
        } catch {
            try? log.close()
            throw error
        }
        try Provenance.writeEnd(to: log.file)
        try log.close()
        return Summary(steps: step, validBPC: lastEvalBPC ?? .nan, validSymbols: min(config.evalSymbols, corpus.valid.count - 1),
                       wallSeconds: wallSeconds, stoppedEarly: false)
    }

    private var stepsThisSession = 0

    private func report(_ r: StepResult, tokensPerSecond: Double, wallAtStart: Double) {
        stepsThisSession += 1
        let eta = (wallSeconds - wallAtStart) / Double(stepsThisSession) * Double(config.steps - step)
        let bpc = lastEvalBPC.map { String(format: "%.3f", $0) } ?? "-"
        let line = String(format: "step %d/%d  loss %.4f  train bpc %.3f  valid bpc %@  %.0f tok/s  ETA %@",
                          step, config.steps, r.loss, r.finalLoss / Foundation.log(2.0), bpc, tokensPerSecond, formatDuration(eta))
        progress?(line, step == config.steps)
    }

    // MARK: Checkpoints

    public func saveCheckpoint() throws {
        try Checkpoint.write(to: checkpointPath) { f in
            try model.params.write(to: f)
            try optimizer.write(to: f, group: "optimizer")
            try f.write(NDArray(dataRNG.state), to: "rng/data")
            try f.write(NDArray(dropoutRNG.state), to: "rng/dropout")
            try f.setAttribute("step", .int(Int64(step)))
            try f.setAttribute("wall_seconds", .double(wallSeconds))
            try f.setAttribute("experiment", .string("al-rfou2018"))
            for (k, v) in provenance.attributes where k != "config" { try f.setAttribute(k, v) }
            try f.setAttribute("config", .string(config.json))
        }
    }

    private func loadCheckpoint() throws {
        let f = try Checkpoint.open(checkpointPath)
        guard let json = try f.attribute("config")?.stringValue else { throw TrainingError("\(checkpointPath): no configuration stored") }
        let stored = try LMTrainingConfig.fromJSON(json)
        guard stored == config else {
            throw TrainingError("\(checkpointPath) was made with a different configuration; resume with the same preset and options")
        }
        try model.params.read(from: f)
        try optimizer.read(from: f, group: "optimizer")
        dataRNG = Philox(state: try f.read("rng/data").int64s)
        dropoutRNG = Philox(state: try f.read("rng/dropout").int64s)
        step = Int(try f.attribute("step")?.intValue ?? 0)
        wallSeconds = try f.attribute("wall_seconds")?.doubleValue ?? 0
    }

    /// Loads a trained model (and its configuration) from a checkpoint, for evaluation.
    public static func loadModel(checkpoint path: String) throws -> (TransformerLM<Float>, LMTrainingConfig, step: Int) {
        let f = try Checkpoint.open(path)
        guard let json = try f.attribute("config")?.stringValue, let config = try? LMTrainingConfig.fromJSON(json) else {
            throw TrainingError("\(path): not an al-rfou2018 language-model checkpoint (no configuration)")
        }
        let model = TransformerLM<Float>(config.model, seed: config.seed)
        try model.params.read(from: f)
        return (model, config, Int(try f.attribute("step")?.intValue ?? 0))
    }
}

public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
