import CRuntime
import Engine
import NN
import Runs
import ArgumentParser
import Foundation

struct Brebisson2016Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "brebisson2016",
        abstract: "de Brébisson & Vincent 2016: cheap linear attention against softmax attention and no attention for reading comprehension (CNN questions, or a synthetic stand-in).",
        discussion: """
            Without --data it trains on the synthetic stand-in (a generator of CNN-style .question items about \
            anonymised entities), never reported as CNN. With --data it reads DeepMind's CNN questions (a directory \
            holding training/, validation/, test/ of .question files, or a .tar.gz / .tgz / .zip of it) or, with \
            --format chen, Chen et al.'s train.txt / dev.txt / test.txt.
            """)

    @Option(help: "smoke (seconds), cpu (minutes per reader; the default), paper (the authors' sizes; days per reader on a CPU with CNN).")
    var preset = "cpu"
    @Option(help: "Comma-separated readers: \(ClozeReader.allCases.map(\.rawValue).joined(separator: ",")) (default: all).")
    var readers: String?
    @Option(help: "CNN questions: a directory (training/, validation/, test/) or an archive of it; with --format chen, a directory of train.txt, dev.txt, test.txt. Default: the synthetic stand-in.")
    var data: String?
    @Option(help: "question (DeepMind's .question files) or chen (Chen et al. 2016's text files).") var format = "question"
    @Option(help: "Largest vocabulary (most frequent training words; entity markers always kept) (default: the preset's).")
    var vocabularyCap: Int?
    @Option(help: "Read at most this many questions per split (quick runs on a subset).") var maxExamples: Int?
    @Flag(help: "Stop at the first malformed question file or example instead of skipping it with a warning.") var strict = false
    @Option(help: "Synthetic task: comma-separated story lengths in tokens, questions spread evenly over them (default: the preset's).")
    var storyLengths: String?
    @Option(help: "Units of the embedding, of each GRU and of the output layer (default: the preset's).") var size: Int?
    @Flag(help: "Bidirectional GRUs (states of both directions concatenated; the paper's are unidirectional).") var bidirectional = false
    @Option(help: "Dropout on the embedded words and on the output layer's input (default 0, as the paper's configs).") var dropout = 0.0
    @OptionGroup var training: TrainingOptions
    @Flag(help: "Skip the lookup-cost measurement after training.") var noLookup = false
    @Flag(help: .hidden) var noReport = false

    var runRoot: String { training.out ?? "runs/brebisson2016/\(data == nil ? "synthetic" : "cnn")-\(preset)" }

    func validate() throws {
        guard Brebisson2016.presetNames.contains(preset) else {
            throw ValidationError("--preset must be one of \(Brebisson2016.presetNames.joined(separator: ", "))")
        }
        guard ["question", "chen"].contains(format) else { throw ValidationError("--format must be question or chen, not '\(format)'") }
        if data == nil && format != "question" { throw ValidationError("--format chen needs --data (the synthetic task writes .question items)") }
        if data != nil && storyLengths != nil { throw ValidationError("--story-lengths shapes the synthetic task; it cannot apply to --data") }
        try checkRange("vocabulary-cap", vocabularyCap, 4...10_000_000)
        try checkRange("max-examples", maxExamples, 1...100_000_000)
        try checkRange("size", size, OptionLimits.width)
        guard dropout.isFinite && dropout >= 0 && dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
        let readers = try readerList()
        if let s = storyLengths { _ = try positiveIntegers(s, option: "story-lengths", atMost: 100_000) }
        if data == nil {  // the synthetic task: its size is known before anything is generated
            let c = try config(reader: readers[0])
            try checkFitsInMemory(c.syntheticDataBytes, "the synthetic task (\(c.data.splitSizes.reduce(0, +)) questions)",
                                  counting: "the questions' text and ids")
            try checkFitsInMemory(c.estimatedTrainingBytes(storyTokens: c.data.storyLengths.max() ?? 0),
                                  "batch \(c.training.batch) of \(c.data.storyLengths.max() ?? 0)-token stories")
        }
    }

    func readerList() throws -> [ClozeReader] { try namedCases(readers, option: "readers", noun: "reader") }

    /// One reader's configuration: the preset, then the options given (vocabulary and entities from the data).
    func config(reader: ClozeReader) throws -> ClozeTrainingConfig {
        var c = Brebisson2016.preset(preset, reader: reader)!
        training.apply(to: &c.training)
        c.training.checkpointEvery = min(c.training.checkpointEvery, c.training.steps)
        if let size {
            c.model.embedding = size
            c.model.hidden = size
            c.model.output = size
        }
        c.model.bidirectional = bidirectional
        c.model.dropout = dropout
        if let data {
            c.data.source = data
            c.data.format = format
            c.data.storyLengths = []
            c.data.splitSizes = []
            c.data.entities = 0
            c.data.facts = 0
        }
        if let storyLengths { c.data.storyLengths = try positiveIntegers(storyLengths, option: "story-lengths", atMost: 100_000) }
        if let vocabularyCap { c.data.vocabularyCap = vocabularyCap }
        c.data.maxExamples = maxExamples
        return c
    }

    func run() throws {
        let threads = try training.startEngine(defaultThreads: 2)
        let readers = try readerList()
        var grid = try readers.map { try config(reader: $0) }
        let start = Date()
        let data = try ClozeInput.load(grid[0].data, seed: grid[0].training.seed, strict: strict)
        for i in grid.indices {
            grid[i].model.vocabulary = data.vocabulary.count
            grid[i].model.entities = data.vocabulary.entityCount
        }
        let longest = [data.report.train, data.report.validation, data.report.test].map(\.maxStoryLength).max() ?? 0
        for c in grid {
            try checkFitsInMemory(c.estimatedTrainingBytes(storyTokens: longest), "\(c.runName): batch \(c.training.batch) of stories up to \(longest) tokens")
        }
        try RunFiles.makeDirectory(runRoot)
        if Distributed.isLeader {
            try RunFiles.checkSet(grid.map { (runRoot as NSString).appendingPathComponent($0.runName) }, resume: training.resume)
        }
        print("brebisson2016: \(ClozeInput.describe(grid[0].data, data)); preset \(preset); readers \(readers.map(\.rawValue).joined(separator: ", ")); "
              + "run root \(runRoot)")
        rb_stop_on_signals()
        for c in grid {
            let dir = (runRoot as NSString).appendingPathComponent(c.runName)
            let continues = RunFiles.continuesInSet(dir, resume: training.resume)
            let task = try ClozeTask(config: c, train: data.train, validation: data.validation, test: data.test)
            let run = try Trainer(task: task, runDir: dir, resume: continues,
                                  provenance: Provenance(command: CommandLine.arguments, configJSON: c.json, seed: Int64(c.training.seed), threads: threads))
            guard let s = try run.runForCommand(c.runName, header: "\(c.runName): \(c.model.reader.label), \(task.params.count) parameters, "
                                                + "\(c.training.steps) steps", options: training) else { return }
            print(String(format: "%@: selected step %d: valid accuracy %.2f%%, test accuracy %.2f%%; %@", c.runName, s.bestStep,
                         (s.results["valid_accuracy"] ?? .nan) * 100, (s.results["test_accuracy"] ?? .nan) * 100, formatDuration(s.wallSeconds)))
        }
        guard Distributed.isLeader else { return }  // rank 0 of a data-parallel job measures and reports
        if !noLookup {
            let d = grid[0].model.stateSize
            print("lookup cost: story states of width \(d), \(LookupBenchmark.lengths.map(String.init).joined(separator: ", ")) tokens ...")
            let costs = LookupBenchmark.measure(dimension: d)
            let results = LookupResults(dimension: d, costs: costs, notes: ["threads": "\(threads)", "command": CommandLine.arguments.joined(separator: " ")])
            try results.write(to: (runRoot as NSString).appendingPathComponent(LookupResults.fileName))
            print(results.markdown)
        }
        if noReport { return }
        let report = try Brebisson2016Report.write(runRoot: runRoot, format: "png")
        print(report.table)
        for f in report.files { print("wrote: \(f)") }
        print("wall time: \(formatDuration(Date().timeIntervalSince(start)))")
    }
}
