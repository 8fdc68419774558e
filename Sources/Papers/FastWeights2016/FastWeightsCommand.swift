import CRuntime
import Engine
import NN
import Runs
import ArgumentParser
import Dispatch
import Foundation

struct FastWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fastweights",
        abstract: "Ba et al. 2016: fast weights against IRNN, LSTM and A-LSTM on associative retrieval (Table 1).",
        subcommands: [FastWeightsTrain.self, FastWeightsExport.self],
        defaultSubcommand: FastWeightsTrain.self)
}

/// The task's data options, shared by training and export.
struct RetrievalDataOptions: ParsableArguments {
    @Option(help: "Key-value pairs per example (K; inputs are 2K+3 symbols).") var pairs = 4
    @Flag(help: "Draw the K digits of an example without repetition (as the public reproduction's files). Default: digits may repeat.")
    var distinctDigits = false

    func validateData() throws {
        try checkRange("pairs", pairs, 1...26)
        if distinctDigits && pairs > 10 { throw ValidationError("--distinct-digits needs --pairs <= 10") }
    }
}

struct FastWeightsTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the Table 1 grid (the default): every model at every R; prints Table 1 beside the paper's and draws the figures.")

    @Option(help: "The task; only 'retrieval' (section 4.1) is implemented.") var task = "retrieval"
    @Option(help: "smoke (seconds), cpu (the whole grid on 2 cores; the default), paper (far more updates: hours per run on a CPU).")
    var preset = "cpu"
    @Option(help: "Comma-separated models: \(RetrievalModelKind.allCases.map(\.rawValue).joined(separator: ",")) (default: all).")
    var models: String?
    @Option(help: "Comma-separated hidden sizes R (default: 20,50,100).") var hidden: String?
    @OptionGroup var training: TrainingOptions
    @Option(help: "Fast weights: decay lambda.") var lambda = 0.95
    @Option(help: "Fast weights: learning rate eta.") var eta = 0.5
    @Option(help: "Fast weights: inner-loop steps S.") var innerSteps = 1
    @Option(help: "Width of the ReLU layer before the digit softmax (0: linear readout).") var headHidden = 100
    @Flag(inversion: .prefixedNo, help: "Linear transformer: add an embedding of the previous symbol at each position.")
    var tokenShift = true
    @OptionGroup var gen: RetrievalDataOptions
    @Option(help: "Train and evaluate on train.tsv / validation.tsv / test.tsv in this directory instead of generating data.")
    var data: String?
    @Option(help: "Also report the selected models' error on this TSV file (repeatable), e.g. a public reproduction's test split.")
    var alsoEvaluate: [String] = []
    @Option(help: "Runs trained at once, each in its own process (default: one per core, at most 2).") var jobs: Int?
    @Flag(help: .hidden) var noReport = false
    /// One run's complete configuration (JSON), as the grid hands it to a child process.
    @Option(help: .hidden) var resolvedConfig: String?

    var runRoot: String { training.out ?? "runs/fastweights/retrieval" }

    func validate() throws {
        guard task == "retrieval" else { throw ValidationError("--task \(task) is not implemented; only 'retrieval' (section 4.1) is") }
        guard FastWeights2016.presetNames.contains(preset) else {
            throw ValidationError("--preset must be one of \(FastWeights2016.presetNames.joined(separator: ", "))")
        }
        try gen.validateData()
        try checkRange("jobs", jobs, OptionLimits.threads)
        guard lambda >= 0 && lambda <= 1 else { throw ValidationError("--lambda must be in [0, 1]") }
        guard eta.isFinite && eta >= 0 else { throw ValidationError("--eta must be a non-negative number") }
        try checkRange("inner-steps", innerSteps, 0...100)
        try checkRange("head-hidden", headHidden, 0...OptionLimits.width.upperBound)
        for kind in try modelKinds() {
            for r in try hiddenSizes() {
                let c = config(kind: kind, hidden: r, pairs: gen.pairs)
                if let problem = c.model.problems.first { throw ValidationError(problem) }
                try checkFitsInMemory(c.estimatedTrainingBytes, "\(c.runName) (batch \(c.training.batch))")
            }
        }
    }

    func modelKinds() throws -> [RetrievalModelKind] { try namedCases(models, option: "models", noun: "model") }

    func hiddenSizes() throws -> [Int] {
        try hidden.map { try positiveIntegers($0, option: "hidden") } ?? FastWeights2016.hiddenSizes
    }

    /// The complete configuration of one (model, R) run: the preset, then the options given.
    func config(kind: RetrievalModelKind, hidden r: Int, pairs: Int) -> RetrievalTrainingConfig {
        var c = FastWeights2016.preset(preset, kind: kind, hidden: r, pairs: pairs, distinctDigits: gen.distinctDigits)!
        training.apply(to: &c.training)
        c.training.checkpointEvery = min(c.training.checkpointEvery, c.training.steps)
        c.model.lambda = lambda
        c.model.eta = eta
        c.model.innerSteps = innerSteps
        c.model.headHidden = headHidden
        c.model.tokenShift = tokenShift
        if let dir = data { c.data = dir; c.splitSizes = [] }
        return c
    }

    /// The splits a configuration trains on: read from its data directory, or generated from its seed.
    static func splits(for c: RetrievalTrainingConfig) throws -> [String: RetrievalSet] {
        if c.data != "generated" { return try RetrievalSet.importSplits(from: c.data) }
        return RetrievalSet.generateSplits(seed: c.training.seed, pairs: c.pairs, distinctDigits: c.distinctDigits,
                                           sizes: (c.splitSizes[0], c.splitSizes[1], c.splitSizes[2]))
    }

    func run() throws {
        let threads = try training.startEngine(defaultThreads: 1)
        let extraFiles = try alsoEvaluate.map { path -> (name: String, set: RetrievalSet) in (Self.setName(path), try RetrievalSet.read(file: path)) }
        if let json = resolvedConfig {  // a child of the grid: one run, its configuration given whole
            if let parent = ProcessInfo.processInfo.environment[Self.parentVariable].flatMap({ Int32($0) }), rb_child_setup(parent) != 0 {
                throw TrainingError("the grid that started this run is gone")
            }
            rb_stop_on_signals()
            let c: RetrievalTrainingConfig
            do { c = try RetrievalTrainingConfig.fromJSON(json) } catch { throw ValidationError("--resolved-config is not a retrieval configuration") }
            _ = try trainOne(c, splits: try Self.splits(for: c), extra: extraFiles, threads: threads)
            return
        }
        let kinds = try modelKinds(), sizes = try hiddenSizes()
        // Load (or generate) the data once here, so bad input fails before any training starts.
        let imported = try data.map { try RetrievalSet.importSplits(from: $0) }
        let pairs = imported?["train"]!.pairs ?? gen.pairs
        let grid = kinds.flatMap { k in sizes.map { config(kind: k, hidden: $0, pairs: pairs) } }
        let splits = try imported ?? Self.splits(for: grid[0])
        for (path, e) in zip(alsoEvaluate, extraFiles) where e.set.pairs != pairs {
            throw DataError("\(path): \(e.set.pairs) pairs per example, the training data has \(pairs)")
        }
        try RunFiles.makeDirectory(runRoot)
        if Distributed.isLeader {
            try RunFiles.checkSet(grid.map { (runRoot as NSString).appendingPathComponent($0.runName) }, resume: training.resume)
        }
        // A data-parallel job (mpirun) trains the runs one after the other, every rank on each.
        let parallel = Distributed.launchedSize != nil ? 1 : min(jobs ?? min(2, ProcessInfo.processInfo.activeProcessorCount), grid.count)
        let start = Date()
        let c0 = grid[0]
        let description = c0.data != "generated"
            ? "data from \(c0.data) (\(splits["train"]!.count) / \(splits["validation"]!.count) / \(splits["test"]!.count) examples)"
            : "generated from seed \(c0.training.seed) (\(c0.splitSizes.map(String.init).joined(separator: " / ")) examples, digits "
                + (c0.distinctDigits ? "distinct" : "may repeat") + ")"
        print("fastweights: associative retrieval, K = \(pairs), \(description); preset \(preset); "
              + "\(grid.count) runs (\(grid.map(\.runName).joined(separator: ", "))), \(parallel) at a time; run root \(runRoot)")
        var failures: [String] = []
        if parallel > 1 {
            // Largest models first, so the two workers finish close together.
            failures = runInChildren(grid.sorted { $0.model.hidden > $1.model.hidden }, parallel: parallel, threads: threads)
            if rb_stop_signal() != 0 { throw TrainingError(failures[0]) }
        } else {
            for c in grid {
                let stopped = try trainOne(c, splits: splits, extra: extraFiles, threads: threads)
                if stopped { return }
            }
        }
        if training.stopAfter != nil || noReport || !Distributed.isLeader {
            if !failures.isEmpty { throw TrainingError("\(failures.count) of \(grid.count) runs failed; first: \(failures[0])") }
            return
        }
        let report = try FastWeightsReport.write(runRoot: runRoot, format: "png")
        print(report.table)
        for f in report.files { print("wrote: \(f)") }
        print("grid wall time: \(formatDuration(Date().timeIntervalSince(start)))")
        if !failures.isEmpty { throw TrainingError("\(failures.count) of \(grid.count) runs failed; first: \(failures[0])") }
    }

    /// The environment variable through which a grid hands its children its own command line (JSON).
    static let gridCommandVariable = "REPLICATE_GRID_COMMAND"
    /// The grid's pid, handed to its children: a child stops (SIGTERM, then a clean stop at the next step) when
    /// the grid dies, however it dies.
    static let parentVariable = "REPLICATE_GRID_PID"

    /// A short name for an extra evaluation file: its file name without extension, letters and digits only.
    static func setName(_ path: String) -> String {
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return String(base.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// Trains one (model, R) run in this process; returns whether it stopped early (--stop-after).
    func trainOne(_ config: RetrievalTrainingConfig, splits: [String: RetrievalSet], extra: [(name: String, set: RetrievalSet)],
                  threads: Int) throws -> Bool {
        let dir = (runRoot as NSString).appendingPathComponent(config.runName)
        let continues = RunFiles.continuesInSet(dir, resume: training.resume)
        let task = try RetrievalTask(config: config, splits: splits, extraSets: extra)
        let command = ProcessInfo.processInfo.environment[Self.gridCommandVariable]
            .flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? CommandLine.arguments
        let run = try Trainer(task: task, runDir: dir, resume: continues,
                              provenance: Provenance(command: command, configJSON: config.json, seed: Int64(config.training.seed), threads: threads))
        run.stopAfterStep = training.stopAfter
        run.progress = progressPrinter()
        print("\(config.runName): \(config.model.kind.label), R = \(config.model.hidden), \(task.params.count) parameters, \(config.training.steps) steps"
              + (continues ? ", resuming at step \(run.step)" : training.resume ? ", starting (no checkpoint to resume)" : ""))
        let s = try run.run()
        if s.stoppedEarly {
            print("\(config.runName): stopped after step \(s.steps) (resume with --resume)")
            return true
        }
        let extraText = extra.map { e in
            String(format: ", %@ %.2f%% (%d)", e.name, (s.results["also_\(e.name)_error"] ?? .nan) * 100, Int(s.results["also_\(e.name)_count"] ?? 0))
        }.joined()
        print(String(format: "%@: selected step %d (valid error %.2f%%): test error %.2f%%%@; %@", config.runName, s.bestStep,
                     (s.results["valid_error"] ?? .nan) * 100, (s.results["test_error"] ?? .nan) * 100, extraText, formatDuration(s.wallSeconds)))
        return false
    }

    /// Trains the grid `parallel` runs at a time, each run in a child process of this executable (the engine's
    /// tape is per process) that is handed its resolved configuration as JSON. A child's output goes to
    /// <run dir>/train.log. A SIGINT or SIGTERM stops the children cleanly (each saves a checkpoint) and starts no
    /// more. Returns the failures, one line each.
    func runInChildren(_ grid: [RetrievalTrainingConfig], parallel: Int, threads: Int) -> [String] {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var base = ["fastweights", "train", "--out", runRoot, "--jobs", "1", "--threads", "\(threads)", "--no-report"]
        for f in alsoEvaluate { base += ["--also-evaluate", f] }
        if training.resume { base.append("--resume") }
        if let stop = training.stopAfter { base += ["--stop-after", "\(stop)"] }
        // The children record the grid's command line (what reproduces the run), not their own.
        let gridCommand = String(decoding: (try? JSONEncoder().encode(CommandLine.arguments)) ?? Data("[]".utf8), as: UTF8.self)
        let lock = NSLock()
        var failures: [String] = []
        var next = 0
        rb_stop_on_signals()
        let environment = [Self.gridCommandVariable: gridCommand, Self.parentVariable: String(getpid())]
        DispatchQueue.concurrentPerform(iterations: parallel) { _ in
            while rb_stop_signal() == 0 {
                lock.lock()
                let i = next
                next += 1
                lock.unlock()
                if i >= grid.count { return }
                let name = grid[i].runName
                let args = base + ["--resolved-config", grid[i].json]
                let result: Subprocess.Result
                do { result = try Subprocess.run(exe, args, environment: environment) } catch {
                    lock.lock(); failures.append("\(name): \(error)"); lock.unlock()
                    continue
                }
                let dir = (runRoot as NSString).appendingPathComponent(name)
                try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try? (result.outputText + result.errorText).write(toFile: dir + "/train.log", atomically: true, encoding: .utf8)
                lock.lock()
                if result.status != 0 {
                    let why = result.errorText.split(whereSeparator: \.isNewline).last.map(String.init) ?? "exit \(result.status)"
                    failures.append("\(name): \(why)")
                } else if let summary = result.outputText.split(whereSeparator: \.isNewline).last(where: { $0.hasPrefix(name + ": selected") }) {
                    print(summary)
                } else {
                    print("\(name): done")
                }
                fflush(stdout)
                lock.unlock()
            }
        }
        if rb_stop_signal() != 0 {
            failures.insert("stopped by \(rb_stop_signal() == SIGINT ? "SIGINT" : "SIGTERM"); the runs keep their checkpoints, continue with --resume", at: 0)
        }
        for f in failures { print("failed: \(f)") }  // the error line (stderr) names the first
        return failures
    }
}

struct FastWeightsExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-data",
        abstract: "Write the generated splits as train.tsv, validation.tsv and test.tsv (lines 'c9k8j3f1??c<TAB>9') for --data.")

    @Argument(help: "Output directory.") var dir: String
    @OptionGroup var data: RetrievalDataOptions
    @Option(help: "Random seed of the generator, 0 to 2^63-1.") var seed: UInt64 = 1
    @Option(help: "Split sizes train,validation,test.") var sizes = "100000,10000,20000"

    func validate() throws {
        try data.validateData()
        try checkRange("seed", seed, OptionLimits.seed)
        let s = try positiveIntegers(sizes, option: "sizes", atMost: OptionLimits.symbols.upperBound)
        guard s.count == 3 else { throw ValidationError("--sizes must be three sizes train,validation,test, e.g. 100000,10000,20000") }
        try checkFitsInMemory(AssociativeRetrieval.exportBytes(examples: s.reduce(0, +), pairs: data.pairs), "--sizes \(sizes)",
                              counting: "the examples' ids and their text")
    }

    func run() throws {
        let s = sizes.split(separator: ",").compactMap { Int($0) }
        let splits = RetrievalSet.generateSplits(seed: seed, pairs: data.pairs, distinctDigits: data.distinctDigits, sizes: (s[0], s[1], s[2]))
        for path in try RetrievalSet.export(splits, to: dir) { print(path) }
    }
}
