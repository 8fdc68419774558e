// The command-line options every paper's training command shares, declared and applied in one place.
import ArgumentParser
import Engine
import Foundation

extension OptimizerKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}

/// Steps, batch, learning rate, optimizer, seed, threads, output directory, resume and the evaluation and
/// checkpoint intervals: `@OptionGroup var training: TrainingOptions` in a paper's command, then
/// `training.apply(to: &config.training)`.
public struct TrainingOptions: ParsableArguments {
    @Option(help: "Training steps (default: the preset's).") public var steps: Int?
    @Option(help: "Examples (sequences) per batch (default: the preset's).") public var batch: Int?
    @Option(help: "Learning rate (default: the preset's).") public var lr: Double?
    @Option(help: "Optimizer: adam, adamw or sgd (momentum) (default: the preset's).") public var optimizer: OptimizerKind?
    @Option(help: "Random seed: initialisation, data order, dropout (and generated data) (default: 1).") public var seed: UInt64?
    @Option(help: "Evaluate every N steps (default: the preset's).") public var evalEvery: Int?
    @Option(help: "Checkpoint every N steps, and at the end (default: the preset's).") public var checkpointEvery: Int?
    @Option(name: [.customLong("out"), .customLong("run-dir"), .customLong("run-root")],
            help: "Output directory: the run directory, or for a grid the directory of its runs (default: under runs/).")
    public var out: String?
    @Flag(help: "Continue the run(s) in the output directory from their checkpoints.") public var resume = false
    @Option(help: "Threads (per run) (default: the paper's).") public var threads: Int?
    @Option(help: .hidden) public var stopAfter: Int?

    public init() {}

    public func validate() throws {
        for (name, v) in [("steps", steps), ("batch", batch), ("eval-every", evalEvery), ("checkpoint-every", checkpointEvery),
                          ("threads", threads), ("stop-after", stopAfter)] {
            if let v, v <= 0 { throw ValidationError("--\(name) must be positive") }
        }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number") }
    }

    /// Overrides the preset's values with the ones given on the command line.
    public func apply(to t: inout TrainingConfig) {
        if let steps { t.steps = steps }
        if let batch { t.batch = batch }
        if let lr { t.lr = lr }
        if let optimizer { t.optimizer = optimizer }
        if let seed { t.seed = seed }
        if let evalEvery { t.evalEvery = evalEvery }
        if let checkpointEvery { t.checkpointEvery = checkpointEvery }
        if t.schedule == .cosine, t.warmup >= t.steps { t.warmup = max(0, t.steps / 10) }
    }

    /// Loads BLAS and sets the engine's threads (`threads` or the paper's default); fails in one line.
    public func startEngine(defaultThreads: Int) throws -> Int {
        try BLAS.ensureLoaded()
        let n = threads ?? defaultThreads
        Engine.setThreads(n)
        return n
    }
}

/// A comma-separated list of positive integers given to `--<option>` (e.g. "20,50,100"); a one-line error names
/// the option and the bad entry.
public func positiveIntegers(_ list: String, option: String) throws -> [Int] {
    let items = list.split(separator: ",")
    guard !items.isEmpty else { throw ValidationError("--\(option) names no size") }
    return try items.map { s in
        guard let n = Int(s), n > 0 else { throw ValidationError("--\(option): '\(s)' is not a positive integer") }
        return n
    }
}

/// Prints a run's progress line on stderr: rewritten in place on a terminal, otherwise (logs, pipes) a new line
/// at most every 30 seconds and at the end.
public func progressPrinter() -> (String, Bool) -> Void {
    let tty = isatty(2) == 1
    var lastPrinted = Date.distantPast
    return { line, final in
        if tty {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)\(final ? "\n" : "")".utf8))
        } else if final || Date().timeIntervalSince(lastPrinted) > 30 {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
            lastPrinted = Date()
        }
    }
}
