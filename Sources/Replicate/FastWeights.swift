import ArgumentParser
import Core
import Dispatch
import Foundation

struct FastWeights: ParsableCommand {
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
    @Option(help: "Random seed (data generation, initialisation and batch order).") var seed: UInt64 = 1

    func validateData() throws {
        guard pairs >= 1 && pairs <= 26 else { throw ValidationError("--pairs must be between 1 and 26") }
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
    @Option(help: "Training steps per run (default: the preset's).") var steps: Int?
    @Option(help: "Examples per batch.") var batch: Int?
    @Option(help: "Adam learning rate.") var lr: Double?
    @Option(help: "Evaluate validation and test error every N steps.") var evalEvery: Int?
    @Option(help: "Checkpoint every N steps (and at the end).") var checkpointEvery: Int?
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
    @Option(help: "Where the runs go: <run-root>/<model>-R<R>/.") var runRoot = "runs/fastweights/retrieval"
    @Flag(help: "Continue the runs in --run-root from their checkpoints (finished runs are only reported).") var resume = false
    @Option(help: "Runs trained at once, each in its own process (default: one per core, at most 2).") var jobs: Int?
    @Option(help: "Threads per run.") var threads = 1
    @Option(help: .hidden) var stopAfter: Int?
    @Flag(help: .hidden) var noReport = false

    func validate() throws {
        guard task == "retrieval" else { throw ValidationError("--task \(task) is not implemented; only 'retrieval' (section 4.1) is") }
        guard FastWeights2016.presetNames.contains(preset) else {
            throw ValidationError("--preset must be one of \(FastWeights2016.presetNames.joined(separator: ", "))")
        }
        _ = try modelKinds()
        _ = try hiddenSizes()
        try gen.validateData()
        for (name, v) in [("steps", steps), ("batch", batch), ("eval-every", evalEvery), ("checkpoint-every", checkpointEvery), ("jobs", jobs)] {
            if let v, v <= 0 { throw ValidationError("--\(name) must be positive") }
        }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number") }
        guard lambda >= 0 && lambda <= 1 else { throw ValidationError("--lambda must be in [0, 1]") }
        guard eta.isFinite && eta >= 0 else { throw ValidationError("--eta must be a non-negative number") }
        guard innerSteps >= 0 else { throw ValidationError("--inner-steps must be 0 or more") }
        guard headHidden >= 0 else { throw ValidationError("--head-hidden must be 0 or more") }
        if threads <= 0 { throw ValidationError("--threads must be positive") }
    }

    func modelKinds() throws -> [RetrievalModelKind] {
        guard let models else { return RetrievalModelKind.allCases }
        return try models.split(separator: ",").map { name in
            guard let k = RetrievalModelKind(rawValue: String(name)) else {
                throw ValidationError("unknown model '\(name)' (\(RetrievalModelKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return k
        }
    }

    func hiddenSizes() throws -> [Int] {
        guard let hidden else { return FastWeights2016.hiddenSizes }
        return try hidden.split(separator: ",").map { s in
            guard let r = Int(s), r > 0 else { throw ValidationError("--hidden: '\(s)' is not a positive integer") }
            return r
        }
    }

    func config(kind: RetrievalModelKind, hidden r: Int, pairs: Int) -> RetrievalTrainingConfig {
        var c = FastWeights2016.preset(preset, kind: kind, hidden: r, pairs: pairs, distinctDigits: gen.distinctDigits, seed: gen.seed)!
        if let steps { c.steps = steps }
        if let batch { c.batch = batch }
        if let lr { c.lr = lr }
        if let evalEvery { c.evalEvery = evalEvery }
        if let checkpointEvery { c.checkpointEvery = checkpointEvery }
        c.checkpointEvery = min(c.checkpointEvery, c.steps)
        c.model.lambda = lambda
        c.model.eta = eta
        c.model.innerSteps = innerSteps
        c.model.headHidden = headHidden
        c.model.tokenShift = tokenShift
        if let dir = data { c.data = dir; c.splitSizes = [] }
        return c
    }

    func run() throws {
        try BLAS.ensureLoaded()
        Engine.setThreads(threads)
        let kinds = try modelKinds(), sizes = try hiddenSizes()
        // Load (or generate) the data once here, so bad input fails before any training starts.
        let loaded = try loadSplits(pairs: gen.pairs)
        let extra = try alsoEvaluate.map { path -> (name: String, set: RetrievalSet) in
            let set = try RetrievalSet.read(file: path)
            guard set.pairs == loaded.pairs else { throw DataError("\(path): \(set.pairs) pairs per example, the training data has \(loaded.pairs)") }
            return (Self.setName(path), set)
        }
        let grid = kinds.flatMap { k in sizes.map { (k, $0) } }
        if !resume {  // refuse before training anything, so no good run is ever overwritten
            for (k, r) in grid {
                let dir = (runRoot as NSString).appendingPathComponent(config(kind: k, hidden: r, pairs: loaded.pairs).runName)
                if RunFiles.holdsRun(dir) {
                    throw TrainingError("\(dir) already holds a run; pass --resume to continue the grid or choose another --run-root")
                }
            }
        }
        let parallel = min(jobs ?? min(2, ProcessInfo.processInfo.activeProcessorCount), grid.count)
        let start = Date()
        print("fastweights: associative retrieval, K = \(loaded.pairs), \(loaded.description); preset \(preset); "
              + "\(grid.count) runs (\(grid.map { "\($0.0.rawValue)-R\($0.1)" }.joined(separator: ", "))), \(parallel) at a time; run root \(runRoot)")
        var failures: [String] = []
        if parallel > 1 {
            // Largest models first, so the two workers finish close together.
            failures = runInChildren(grid.sorted { $0.1 > $1.1 }, parallel: parallel)
        } else {
            for (kind, r) in grid {
                let stopped = try trainOne(kind: kind, hidden: r, splits: loaded.splits, pairs: loaded.pairs, extra: extra)
                if stopped { return }
            }
        }
        if stopAfter != nil || noReport {
            if !failures.isEmpty { throw TrainingError("\(failures.count) of \(grid.count) runs failed; first: \(failures[0])") }
            return
        }
        let report = try FastWeightsReport.write(runRoot: runRoot, format: "png")
        print(report.table)
        for f in report.files { print("wrote: \(f)") }
        print("grid wall time: \(formatDuration(Date().timeIntervalSince(start)))")
        if !failures.isEmpty { throw TrainingError("\(failures.count) of \(grid.count) runs failed; first: \(failures[0])") }
    }

    /// A short name for an extra evaluation file: its file name without extension, letters and digits only.
    static func setName(_ path: String) -> String {
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return String(base.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    func loadSplits(pairs: Int) throws -> (splits: [String: RetrievalSet], pairs: Int, description: String) {
        if let dir = data {
            let s = try RetrievalSet.importSplits(from: dir)
            let k = s["train"]!.pairs
            return (s, k, "data from \(dir) (\(s["train"]!.count) / \(s["validation"]!.count) / \(s["test"]!.count) examples)")
        }
        let sizes = FastWeights2016.splitSizes(preset: preset)
        let s = RetrievalSet.generateSplits(seed: gen.seed, pairs: pairs, distinctDigits: gen.distinctDigits, sizes: (sizes[0], sizes[1], sizes[2]))
        return (s, pairs, "generated from seed \(gen.seed) (\(sizes[0]) / \(sizes[1]) / \(sizes[2]) examples, digits "
                + (gen.distinctDigits ? "distinct" : "may repeat") + ")")
    }

    /// Trains one (model, R) run in this process; returns whether it stopped early (--stop-after).
    func trainOne(kind: RetrievalModelKind, hidden r: Int, splits: [String: RetrievalSet], pairs: Int,
                  extra: [(name: String, set: RetrievalSet)]) throws -> Bool {
        let config = config(kind: kind, hidden: r, pairs: pairs)
        let dir = (runRoot as NSString).appendingPathComponent(config.runName)
        // Resuming a grid: runs with a checkpoint continue; runs that never reached one start over.
        let fm = FileManager.default
        let continues = resume && fm.fileExists(atPath: dir + "/" + RunFiles.checkpoint)
        if resume && !continues {
            for f in [RunFiles.metrics, RetrievalRun.bestFile] { try? fm.removeItem(atPath: dir + "/" + f) }
        }
        let run = try RetrievalRun(config: config, splits: splits, runDir: dir, resume: continues,
                                   provenance: Provenance(configJSON: config.json, seed: Int64(config.seed), threads: threads))
        run.stopAfterStep = stopAfter
        run.progress = progressPrinter()
        print("\(config.runName): \(kind.label), R = \(r), \(run.model.params.count) parameters, \(config.steps) steps"
              + (continues ? ", resuming at step \(run.step)" : resume ? ", starting (no checkpoint to resume)" : ""))
        let s = try run.run(extraSets: extra)
        if s.stoppedEarly {
            print("\(config.runName): stopped after step \(s.steps) (resume with --resume)")
            return true
        }
        let extraText = s.extra.map { String(format: ", %@ %.2f%% (%d)", $0.name, $0.error * 100, $0.count) }.joined()
        print(String(format: "%@: selected step %d (valid error %.2f%%): test error %.2f%%%@; %@", config.runName, s.bestStep,
                     s.validError * 100, s.testError * 100, extraText, formatDuration(s.wallSeconds)))
        return false
    }

    /// Trains the grid `parallel` runs at a time, each run in a child process of this executable (the engine's
    /// tape is per process). A child's output goes to <run dir>/train.log. Returns the failures, one line each.
    func runInChildren(_ grid: [(RetrievalModelKind, Int)], parallel: Int) -> [String] {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var base = ["fastweights", "train", "--task", task, "--preset", preset, "--lambda", "\(lambda)", "--eta", "\(eta)",
                    "--inner-steps", "\(innerSteps)", "--head-hidden", "\(headHidden)", "--pairs", "\(gen.pairs)", "--seed", "\(gen.seed)",
                    "--run-root", runRoot, "--jobs", "1", "--threads", "\(threads)"]
        if gen.distinctDigits { base.append("--distinct-digits") }
        if !tokenShift { base.append("--no-token-shift") }
        if let steps { base += ["--steps", "\(steps)"] }
        if let batch { base += ["--batch", "\(batch)"] }
        if let lr { base += ["--lr", "\(lr)"] }
        if let evalEvery { base += ["--eval-every", "\(evalEvery)"] }
        if let checkpointEvery { base += ["--checkpoint-every", "\(checkpointEvery)"] }
        if let d = data { base += ["--data", d] }
        for f in alsoEvaluate { base += ["--also-evaluate", f] }
        if resume { base.append("--resume") }
        let lock = NSLock()
        var failures: [String] = []
        var next = 0
        DispatchQueue.concurrentPerform(iterations: parallel) { _ in
            while true {
                lock.lock()
                let i = next
                next += 1
                lock.unlock()
                if i >= grid.count { return }
                let (kind, r) = grid[i]
                let name = "\(kind.rawValue)-R\(r)"
                let args = base + ["--models", kind.rawValue, "--hidden", "\(r)", "--no-report"]
                let result: Subprocess.Result
                do { result = try Subprocess.run(exe, args) } catch {
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
        for f in failures { FileHandle.standardError.write(Data("failed: \(f)\n".utf8)) }
        return failures
    }
}

struct FastWeightsExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-data",
        abstract: "Write the generated splits as train.tsv, validation.tsv and test.tsv (lines 'c9k8j3f1??c<TAB>9') for --data.")

    @Argument(help: "Output directory.") var dir: String
    @OptionGroup var data: RetrievalDataOptions
    @Option(help: "Split sizes train,validation,test.") var sizes = "100000,10000,20000"

    func validate() throws {
        try data.validateData()
        let s = sizes.split(separator: ",").compactMap { Int($0) }
        guard s.count == 3, s.allSatisfy({ $0 > 0 }) else { throw ValidationError("--sizes must be three positive integers, e.g. 100000,10000,20000") }
    }

    func run() throws {
        let s = sizes.split(separator: ",").compactMap { Int($0) }
        let splits = RetrievalSet.generateSplits(seed: data.seed, pairs: data.pairs, distinctDigits: data.distinctDigits, sizes: (s[0], s[1], s[2]))
        for path in try RetrievalSet.export(splits, to: dir) { print(path) }
    }
}
