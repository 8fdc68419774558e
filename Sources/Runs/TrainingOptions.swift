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
    @Option(help: "Optimizer: adam, adamw, sgd (momentum) or rmsprop (default: the preset's).") public var optimizer: OptimizerKind?
    @Option(help: "Clip the gradients' global norm to this (0: no clipping) (default: the preset's).") public var clip: Double?
    @Option(help: "Random seed, 0 to 2^63-1: initialisation, data order, dropout (and generated data) (default: 1).") public var seed: UInt64?
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
        for (name, v) in [("steps", steps), ("eval-every", evalEvery), ("checkpoint-every", checkpointEvery), ("stop-after", stopAfter)] {
            try checkRange(name, v, OptionLimits.steps)
        }
        try checkRange("batch", batch, OptionLimits.batch)
        try checkRange("threads", threads, OptionLimits.threads)
        try checkRange("seed", seed, OptionLimits.seed)
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number") }
        if let clip, !(clip >= 0 && clip.isFinite) { throw ValidationError("--clip must be a non-negative number (0: no clipping)") }
    }

    /// Overrides the preset's values with the ones given on the command line.
    public func apply(to t: inout TrainingConfig) {
        if let steps { t.steps = steps }
        if let batch { t.batch = batch }
        if let lr { t.lr = lr }
        if let optimizer { t.optimizer = optimizer }
        if let clip { t.clip = clip }
        if let seed { t.seed = seed }
        if let evalEvery { t.evalEvery = evalEvery }
        if let checkpointEvery { t.checkpointEvery = checkpointEvery }
        if t.schedule == .cosine, t.warmup >= t.steps { t.warmup = max(0, t.steps / 10) }
    }

    /// Joins the MPI job when started by mpirun, loads BLAS and sets the engine's threads (`threads` or the
    /// paper's default: per rank); fails in one line.
    public func startEngine(defaultThreads: Int) throws -> Int {
        try Distributed.start()
        try BLAS.ensureLoaded()
        let n = threads ?? defaultThreads
        Engine.setThreads(n)
        return n
    }
}

/// The ranges of the commands' numeric options, in one place: every command's validate() refuses a value
/// outside them (`checkRange`) before anything is allocated. Sizes that pass can still be refused together, by
/// the memory they need (`checkFitsInMemory`).
public enum OptionLimits {
    /// Seeds: 0 to 2^63-1, so that a run's files record the seed as it was given (HDF5 int64).
    public static let seed: ClosedRange<UInt64> = 0...UInt64(Int64.max)
    /// Steps and step intervals (evaluate / checkpoint every, stop after).
    public static let steps = 1...1_000_000_000
    /// Examples (sequences) per batch.
    public static let batch = 1...(1 << 20)
    public static let threads = 1...1024
    /// Model widths and sizes: model width, feed-forward width, hidden size R, key size, heads, vocabulary.
    public static let width = 1...(1 << 16)
    /// Layers of a model (with the widths above, every size computed from a configuration fits in an Int).
    public static let layers = 1...1024
    /// Context lengths, in symbols.
    public static let context = 1...(1 << 20)
    /// Symbols scored or generated; examples of a generated split.
    public static let symbols = 1...1_000_000_000
}

/// Refuses `value`, when given, outside `range` with one line naming `--<option>`, its range and the value:
/// "--batch must be positive and at most 1048576 (got -5)".
public func checkRange<T: BinaryInteger>(_ option: String, _ value: T?, _ range: ClosedRange<T>) throws {
    guard let value, !range.contains(value) else { return }
    let allowed = range.lowerBound == 1 ? "positive and at most \(range.upperBound)" : "between \(range.lowerBound) and \(range.upperBound)"
    throw ValidationError("--\(option) must be \(allowed) (got \(value))")
}

/// A comma-separated list of integers given to `--<option>` (e.g. "20,50,100"), each positive and at most
/// `atMost` (default: the largest model width); a one-line error names the option and the bad entry.
/// The cases a comma-separated list of names gives (`--models lstm,irnn`), in its order; every case when the
/// option was not given. One line for an empty list ("--models names no model") or an unknown name (the known
/// names listed).
public func namedCases<E: RawRepresentable & CaseIterable>(_ list: String?, option: String, noun: String) throws -> [E]
    where E.RawValue == String {
    guard let list else { return Array(E.allCases) }
    let names = list.split(separator: ",")
    guard !names.isEmpty else { throw ValidationError("--\(option) names no \(noun)") }
    return try names.map { name in
        guard let value = E(rawValue: String(name)) else {
            throw ValidationError("unknown \(noun) '\(name)' (\(E.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return value
    }
}

public func positiveIntegers(_ list: String, option: String, atMost: Int = OptionLimits.width.upperBound) throws -> [Int] {
    let items = list.split(separator: ",")
    guard !items.isEmpty else { throw ValidationError("--\(option) names no size") }
    return try items.map { s in
        guard let n = Int(s) else { throw ValidationError("--\(option): '\(s)' is not a positive integer") }
        try checkRange(option, n, 1...atMost)
        return n
    }
}

extension Machine {
    /// Physical memory in bytes (MemTotal in /proc/meminfo), or nil where /proc is absent.
    public static let physicalMemoryBytes: Double? = {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("MemTotal:") {
            return line.split(separator: " ").compactMap { Double($0) }.first.map { $0 * 1024 }
        }
        return nil
    }()
}

/// Refuses, in one line with the estimate and the machine's memory (GB), a run whose estimated memory exceeds
/// this machine's physical memory; `what` names the run or the options ("--batch 100000"), `counting` what the
/// estimate counts.
public func checkFitsInMemory(_ bytes: Double, _ what: String,
                              counting: String = "parameters, gradients, optimizer state and one step's activations") throws {
    guard let total = Machine.physicalMemoryBytes, bytes > total else { return }
    throw ValidationError(String(format: "%@ needs an estimated %.1f GB of memory (%@); this machine has %.1f GB", what, bytes / 1e9, counting,
                                 total / 1e9))
}

extension Trainer {
    /// Runs one run of a paper's command: `--stop-after`, the progress line, then `header` (with where it resumes,
    /// when it continues a checkpoint). Returns nil, having said so, when it stopped early (`--stop-after`).
    public func runForCommand(_ name: String, header: String, options: TrainingOptions) throws -> TrainingSummary? {
        stopAfterStep = options.stopAfter
        progress = progressPrinter()
        print(header + (step > 0 ? ", resuming at step \(step)" : ""))
        let summary = try run()
        guard !summary.stoppedEarly else {
            print("\(name): stopped after step \(summary.steps) (resume with --resume)")
            return nil
        }
        return summary
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
