import ArgumentParser
import CharLM
import Engine
import Foundation
import NN
import Runs

struct LinearAttentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear-attention",
        abstract: "Softmax against the linear-attention family in Al-Rfou et al.'s character LM, at matched parameters and tokens.",
        discussion: "Attention kinds:\n" + AttentionKind.catalogue.map { "  \($0.name): \($0.about)" }.joined(separator: "\n"))

    @OptionGroup var data: DataOptions
    @Option(help: "smoke (seconds), cpu (minutes per kind; the default), paper (Zhai et al. 2021's enwik8 shape: far more compute than a CPU).")
    var preset = "cpu"
    @Option(help: "Comma-separated attention kinds (default: all; see the list above). softmax is always trained: it is the reference.")
    var attention: String?
    @Option(help: "Per-head key size of every linear kind (default: d_model / heads); wider keys are paid for with a narrower feed-forward layer.")
    var keyDim: Int?
    @Option(help: "Key-size sweep: also train every chosen linear kind at each of these per-head key sizes (runs <kind>-k<size>).")
    var sweepKeyDims: String?
    @OptionGroup var training: TrainingOptions
    @Flag(help: "Recompute each block's activations in the backward pass instead of keeping them: the same numbers, far less memory, about a third more compute.")
    var recompute = false
    @Option(help: "Validation symbols scored at each periodic evaluation.") var evalSymbols: Int?
    @Option(help: "Stride of the evaluations (1: every symbol from a full window).") var evalStride: Int?
    @Option(parsing: .upToNextOption, help: "Contexts at which decode time per token is measured.") var decodeContexts: [Int] = [1024, 8192, 65536]

    func kinds() throws -> [AttentionKind] {
        let names = attention.map { $0.split(separator: ",").map(String.init) } ?? AttentionKind.catalogue.map(\.name)
        guard !names.isEmpty else { throw ValidationError("--attention names no kind") }
        let sweep = try sweepKeyDims.map { try positiveIntegers($0, option: "sweep-key-dims") } ?? []
        var out: [AttentionKind] = [.softmax(block: 64)]
        for n in names where n != "softmax" {
            guard let k = AttentionKind.named(n, keyDim: keyDim) else {
                throw ValidationError("unknown attention kind '\(n)' (\(AttentionKind.catalogue.map(\.name).joined(separator: ", ")))")
            }
            out.append(k)
            for size in sweep where size != keyDim { out.append(AttentionKind.named(n, keyDim: size)!) }
        }
        return out
    }

    func validate() throws {
        guard LinearAttentionExperiment.presetNames.contains(preset) else {
            throw ValidationError("--preset must be one of \(LinearAttentionExperiment.presetNames.joined(separator: ", "))")
        }
        try checkRange("key-dim", keyDim, OptionLimits.width)
        try checkRange("eval-symbols", evalSymbols, OptionLimits.symbols)
        try checkRange("eval-stride", evalStride, OptionLimits.context)
        for c in decodeContexts { try checkRange("decode-contexts", c, OptionLimits.context) }
        for r in try runs(vocab: data.corpusAlphabet().size) {
            if let problem = r.config.problems.first { throw ValidationError("\(r.name): \(problem)") }
            try checkFitsInMemory(r.config.estimatedTrainingBytes, "\(r.name) (preset \(preset), batch \(r.config.training.batch))")
        }
    }

    /// The preset with the options given, for a corpus of `vocab` symbols.
    func base(vocab: Int) -> LMTrainingConfig {
        var base = LinearAttentionExperiment.preset(preset, dataset: data.dataFile ?? data.dataset, vocab: vocab)!
        training.apply(to: &base.training)
        if let evalSymbols { base.evalSymbols = evalSymbols }
        if let evalStride { base.evalStride = evalStride }
        if recompute { base.recompute = true }
        return base
    }

    /// Every run of the comparison, named by its kind: the base configuration with the kind's attention and a
    /// feed-forward width that matches softmax's parameters.
    func runs(vocab: Int) throws -> [(name: String, config: LMTrainingConfig)] {
        let base = base(vocab: vocab)
        return try kinds().map { ($0.name, LinearAttentionExperiment.matched(base, attention: $0).config) }
    }

    func run() throws {
        let threads = try training.startEngine(defaultThreads: 2)
        let corpus = try data.load()
        let base = base(vocab: corpus.alphabet.size)
        let root = training.out ?? "runs/linear-attention/\(corpus.name)-\(preset)"
        let runs = try runs(vocab: corpus.alphabet.size)
        if Distributed.isLeader { try RunFiles.checkSet(runs.map { root + "/" + $0.name }, resume: training.resume) }
        let start = Date()
        print("linear-attention: preset \(preset) on \(corpus.name) (\(corpus.train.count) / \(corpus.valid.count) / \(corpus.test.count) symbols), "
              + "\(runs.count) kinds (\(runs.map(\.name).joined(separator: ", "))), \(base.training.steps) steps each; runs under \(root)")
        for r in runs {
            let dir = root + "/" + r.name
            let continues = RunFiles.continuesInSet(dir, resume: training.resume)
            let task = try LMTask(config: r.config, corpus: corpus, experiment: LinearAttentionPaper.name,
                                  carriedTestEvaluation: r.config.model.attention.hasFixedState)
            let trainer = try Trainer(task: task, runDir: dir, resume: continues,
                                      provenance: Provenance(configJSON: r.config.json, seed: Int64(r.config.training.seed), threads: threads))
            guard let summary = try trainer.runForCommand(r.name, header: "\(r.name): \(task.params.count) parameters (feed-forward width \(r.config.model.dFF))",
                                                          options: training) else { return }
            guard Distributed.isLeader else { continue }  // rank 0 of a data-parallel job measures and reports
            try recordDecodeTimes(r.config.model, metricsPath: trainer.metricsPath, step: summary.steps)
            print(String(format: "%@: test bpc %.4f (selected step %d)", r.name, summary.results["test_bpc"] ?? .nan, summary.bestStep))
        }
        guard Distributed.isLeader else { return }
        let report = try LinearAttentionReport.write(experimentDir: root, format: "png")
        print(report.table)
        for f in report.files { print("wrote: \(f)") }
        print("wall time: \(formatDuration(Date().timeIntervalSince(start)))")
    }

    /// Measures decode time per token of one block at each context and records it under `decode/` (rows at the
    /// run's last training step, so that a resume keeps them; `context` and `ms_per_token`), once per run.
    func recordDecodeTimes(_ model: TransformerConfig, metricsPath: String, step: Int) throws {
        let log = try MetricsLog(path: metricsPath)
        defer { try? log.close() }
        if log.file.kind(of: "decode/context") == .dataset, try log.file.info("decode/context").shape[0] > 0 { return }
        for ctx in decodeContexts.sorted() {
            try log.record("decode", step: Int64(step), ["context": Double(ctx),
                                                         "ms_per_token": DecodeBenchmark.millisecondsPerToken(model, context: ctx)])
        }
    }
}

extension AttentionKind {
    /// Whether the state is a fixed-size matrix (the linear family), not a cache that grows with the context.
    public var hasFixedState: Bool {
        if case .softmax = self { return false }
        return true
    }

    /// Bytes of one layer's attention state for one sequence at `context` positions, in Float32: the KV cache for
    /// softmax, S (and z) per head otherwise.
    public func stateBytes(dModel: Int, heads: Int, context: Int) -> Int {
        switch self {
        case .softmax: return 2 * context * dModel * 4
        case .decayedFastWeights: return heads * (dModel / heads) * (dModel / heads) * 4
        case .linear(let name, let spec): return heads * LinearAttentionKernel(spec, name: name).stateValues(dModel: dModel, heads: heads) * 4
        }
    }
}
