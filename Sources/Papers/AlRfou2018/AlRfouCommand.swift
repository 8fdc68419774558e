import Engine
import NN
import Runs
import CharLM
import ArgumentParser
import Foundation

struct AlRfouCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "al-rfou2018",
        abstract: "Al-Rfou et al. 2018: a deep character transformer LM with three auxiliary losses, scored in bits per character.",
        subcommands: [AlRfouTrain.self, AlRfouEval.self],
        defaultSubcommand: AlRfouTrain.self)
}

struct AlRfouTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train (the default): checkpoints, metrics and figures under runs/al-rfou2018/.")

    @OptionGroup var data: DataOptions
    @Option(help: "smoke (seconds), cpu (about 15 minutes here), t12 or t64 (the paper's sizes: far more compute than a CPU).")
    var preset = "cpu"
    @OptionGroup var training: TrainingOptions
    @Option(help: "Validation symbols scored at each periodic evaluation.") var evalSymbols: Int?
    @Option(help: "Stride of the evaluations (1: the paper's protocol).") var evalStride: Int?
    @Option(help: "Dropout rate of the residual branches and the input (default: the preset's; the paper's 0.55 in t12/t64).")
    var dropout: Double?
    @Flag(help: "Recompute each block's activations in the backward pass instead of keeping them: the same numbers, far less memory, about a third more compute.")
    var recompute = false
    @Flag(inversion: .prefixedNo, help: "Auxiliary loss: predict at every position.") var multiplePositions = true
    @Flag(inversion: .prefixedNo, help: "Auxiliary loss: intermediate layers predict too (dropped on the paper's schedule).") var intermediateLosses = true
    @Flag(inversion: .prefixedNo, help: "Auxiliary loss: also predict the character after next (weight 0.5).") var multipleTargets = true

    func validate() throws {
        guard AlRfou2018.presetNames.contains(preset) else { throw ValidationError("--preset must be one of \(AlRfou2018.presetNames.joined(separator: ", "))") }
        try checkRange("eval-symbols", evalSymbols, OptionLimits.symbols)
        try checkRange("eval-stride", evalStride, OptionLimits.context)
        if let p = dropout, !(p >= 0 && p < 1) { throw ValidationError("--dropout must be in [0, 1)") }
        let c = config(vocab: try data.corpusAlphabet().size)
        if let problem = c.problems.first { throw ValidationError(problem) }
        try checkFitsInMemory(c.estimatedTrainingBytes, "preset \(preset) with batch \(c.training.batch)")
    }

    /// The run's configuration for a corpus of `vocab` symbols: the preset, then the options given.
    func config(vocab: Int) -> LMTrainingConfig {
        var config = AlRfou2018.preset(preset, dataset: data.dataFile ?? data.dataset, vocab: vocab)!
        training.apply(to: &config.training)
        if let evalSymbols { config.evalSymbols = evalSymbols }
        if let evalStride { config.evalStride = evalStride }
        config.aux.multiplePositions = multiplePositions
        config.aux.intermediateLayers = intermediateLosses
        config.aux.multipleTargets = multipleTargets
        config.model.predictsNextButOne = multipleTargets
        if recompute { config.recompute = true }
        if let dropout { config.model.dropout = dropout }
        return config
    }

    func run() throws {
        let threads = try training.startEngine(defaultThreads: 2)
        let corpus = try data.load()
        let config = config(vocab: corpus.alphabet.size)

        let auxTag = [multiplePositions ? nil : "no-positions", intermediateLosses ? nil : "no-intermediate", multipleTargets ? nil : "no-targets"]
            .compactMap { $0 }.joined(separator: "-")
        let dir = training.out ?? "runs/al-rfou2018/\(corpus.name)-\(preset)-\(auxTag.isEmpty ? "all-aux" : auxTag)"
        let task = try LMTask(config: config, corpus: corpus, experiment: AlRfou2018Paper.name)
        let run = try Trainer(task: task, runDir: dir, resume: training.resume,
                              provenance: Provenance(configJSON: config.json, seed: Int64(config.training.seed), threads: threads))
        run.stopAfterStep = training.stopAfter
        run.progress = progressPrinter()
        print("al-rfou2018: preset \(preset) on \(corpus.name) (\(corpus.train.count) / \(corpus.valid.count) / \(corpus.test.count) symbols), "
              + "\(config.model.layers) layers, \(task.params.count) parameters, \(config.training.steps) steps; run directory \(dir)"
              + (training.resume ? "; resuming at step \(run.step)" : ""))
        let summary = try run.run()
        if summary.stoppedEarly {
            print("stopped after step \(summary.steps) (resume with --resume)")
            return
        }
        guard Distributed.isLeader else { return }  // rank 0 of a data-parallel job reports
        let figures = try LMFigures.draw(metricsPath: run.metricsPath, format: "png")
        let r = summary.results
        print(AlRfouReport.table(corpus: corpus.name, preset: preset, parameters: task.params.count, steps: summary.steps,
                                 rows: [("valid (selected, step \(summary.bestStep))", r["valid_bpc"] ?? .nan, config.evalStride,
                                         Int(r["valid_symbols"] ?? 0)),
                                        ("test (selected, step \(summary.bestStep))", r["test_bpc"] ?? .nan, config.evalStride,
                                         Int(r["test_symbols"] ?? 0))],
                                 wallSeconds: summary.wallSeconds))
        for f in figures { print("figure: \(f)") }
        print("checkpoint: \(run.checkpointPath); selected model: \(run.bestPath)")
    }
}

struct AlRfouEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Bits per character of a checkpoint on a split: the paper's protocol (--stride 1) or a labelled faster approximation.")

    @Option(help: "A checkpoint written by 'replicate al-rfou2018' (checkpoint.h5, or best.h5 for the selected model).") var checkpoint: String
    @Option(help: "train, valid or test.") var split = "test"
    @Option(help: "Score the last S positions of each window (1: every symbol predicted from a full context, the paper's protocol).")
    var stride = 1
    @Option(help: "Score only the first N symbols of the split.") var maxSymbols: Int?
    @Option(help: "Where corpora live (default $REPLICATE_DATA, else ~/.cache/replicate).") var dataDir: String?
    @Option(help: "The corpus file, when the run trained on --data-file.") var dataFile: String?
    @Flag(help: "Evaluate on a corpus other than the one the run trained on (the scores are then not recorded in the run's metrics).")
    var otherCorpus = false
    @Option(help: "Threads.") var threads = 2

    func validate() throws {
        try checkRange("stride", stride, OptionLimits.context)
        try checkRange("threads", threads, OptionLimits.threads)
        try checkRange("max-symbols", maxSymbols, OptionLimits.symbols)
    }

    func run() throws {
        try BLAS.ensureLoaded()
        Engine.setThreads(threads)
        let (model, config, step) = try LMTask.loadModel(checkpoint: checkpoint)
        if stride > config.model.context { throw ValidationError(strideProblem(option: "stride", stride: stride, context: config.model.context)) }
        // The configuration names the run's corpus (a data file by its path; such a corpus is named by its file name);
        // evaluating on the same name in the model's own alphabet gives the run's numbers, anything else is a choice.
        if dataFile == nil, (try? CharCorpus.alphabet(of: config.dataset)) == nil {
            throw ValidationError("\(checkpoint) was trained on the file \(config.dataset): pass it with --data-file")
        }
        let trainedOn = (config.dataset as NSString).lastPathComponent
        let evaluatedOn = dataFile.map { ($0 as NSString).lastPathComponent } ?? config.dataset
        if evaluatedOn != trainedOn && !otherCorpus {
            throw ValidationError("\(checkpoint) was trained on \(trainedOn), not \(evaluatedOn): pass --other-corpus to evaluate it on another corpus")
        }
        let corpus = try dataFile.map { try CharCorpus.load(file: $0, alphabet: Alphabet(vocab: config.model.vocab)) }
            ?? CharCorpus.load(config.dataset, dataDir: CharCorpus.dataDirectory(dataDir))
        let ids = try corpus.split(split)
        let t0 = Date()
        let result = evaluateBPC(model, ids: ids, stride: stride, maxSymbols: maxSymbols)
        let metrics = ((checkpoint as NSString).deletingLastPathComponent as NSString).appendingPathComponent(RunFiles.metrics)
        if evaluatedOn == trainedOn, FileManager.default.fileExists(atPath: metrics) {
            let log = try MetricsLog(path: metrics)
            try log.record("results_\(split)", step: Int64(step), ["bpc": result.bpc, "stride": Double(stride), "symbols": Double(result.symbols)])
            try log.close()
        }
        print(AlRfouReport.table(corpus: corpus.name, preset: config.preset, parameters: model.params.count, steps: step,
                                 rows: [(split, result.bpc, stride, result.symbols)], wallSeconds: nil))
        print(String(format: "evaluated %d symbols in %.1f s", result.symbols, Date().timeIntervalSince(t0)))
    }
}
