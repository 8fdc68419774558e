import Engine
import NN
import Runs
import ArgumentParser
import Foundation

/// Table 1 and the figures of the associative-retrieval grid, rebuilt from the runs' metrics files alone.
public enum FastWeightsReport {
    /// What one run's metrics file says.
    public struct RunRecord {
        public let name: String
        public let kind: RetrievalModelKind
        public let hidden: Int
        public let parameters: Int
        public let config: RetrievalTrainingConfig?
        public let evalStep: [Double], evalTestError: [Double], evalValidError: [Double], evalTestLoss: [Double]
        /// Final results of the selected model; nil while the run is unfinished.
        public let selectedStep: Int?, validError: Double?, testError: Double?
        public let extra: [(name: String, error: Double)]
        public let wallSeconds: Double?

        public init?(metricsPath: String) throws {
            let f = try HDF5File.open(metricsPath)
            guard try f.attribute("experiment")?.stringValue == RetrievalTask.experiment,
                  let k = try f.attribute("model")?.stringValue, let kind = RetrievalModelKind(rawValue: k) else { return nil }
            func series(_ n: String) throws -> [Double] { f.kind(of: n) == .dataset ? try f.read(n).doubles : [] }
            name = ((metricsPath as NSString).deletingLastPathComponent as NSString).lastPathComponent
            self.kind = kind
            hidden = Int(try f.attribute("hidden")?.intValue ?? 0)
            parameters = Int(try f.attribute("parameters")?.intValue ?? 0)
            config = try f.attribute("config")?.stringValue.flatMap { try? RetrievalTrainingConfig.fromJSON($0) }
            evalStep = try series("eval/step"); evalTestError = try series("eval/test_error"); evalValidError = try series("eval/valid_error")
            evalTestLoss = try series("eval/test_loss")
            if f.kind(of: "results/step") == .dataset, let step = try f.read("results/step").int64s.last {
                selectedStep = Int(step)
                validError = try series("results/valid_error").last
                testError = try series("results/test_error").last
                wallSeconds = try series("results/wall_time").last
                let names = (try f.attribute("extra_sets")?.stringValue ?? "").split(separator: ",").map(String.init)
                extra = try names.compactMap { n in try series("results/also_\(n)_error").last.map { (n, $0) } }
            } else {
                selectedStep = nil; validError = nil; testError = nil; wallSeconds = nil; extra = []
            }
        }
    }

    public static func records(under root: String) throws -> [RunRecord] {
        try RunFiles.metricsFiles(under: root).compactMap { try RunRecord(metricsPath: $0) }
            .sorted { ($0.kind.sortIndex, $0.hidden) < ($1.kind.sortIndex, $1.hidden) }
    }

    static func percent(_ x: Double?) -> String { x.map { String(format: "%.2f", $0 * 100) } ?? "-" }

    /// The markdown report: Table 1 with the paper's numbers beside ours, then one row per run.
    public static func table(_ runs: [RunRecord]) -> String {
        let sizes = Array(Set(runs.map(\.hidden)).union(FastWeights2016.hiddenSizes)).sorted()
        var s = "Table 1: associative retrieval, test error (%). Paper = Ba et al. 2016 (recalled values, see papers/fastweights2016.md); "
            + "ours = the selected (best-validation) model of each run.\n\n"
        s += "| model | " + sizes.map { "R=\($0) paper | R=\($0) ours" }.joined(separator: " | ") + " |\n"
        s += "|---|" + sizes.map { _ in "---|---|" }.joined() + "\n"
        for kind in RetrievalModelKind.allCases {
            let paper = FastWeights2016.paperTable1.first { $0.kind == kind }?.errors ?? [:]
            let ours = Dictionary(runs.filter { $0.kind == kind }.map { ($0.hidden, $0) }, uniquingKeysWith: { a, _ in a })
            if ours.isEmpty && paper.isEmpty { continue }
            s += "| \(kind.label) | " + sizes.map { r in
                (paper[r].map { String(format: "%.2f", $0) } ?? "-") + " | " + percent(ours[r]?.testError)
            }.joined(separator: " | ") + " |\n"
        }
        let extraNames = Array(Set(runs.flatMap { $0.extra.map(\.name) })).sorted()
        s += "\n| run | params | preset | steps | selected step | valid error % | test error % | "
            + extraNames.map { "file \($0): error %" }.joined(separator: " | ") + (extraNames.isEmpty ? "" : " | ") + "wall time |\n"
        s += "|---|---|---|---|---|---|---|" + extraNames.map { _ in "---|" }.joined() + "---|\n"
        for r in runs {
            let extra = extraNames.map { n in percent(r.extra.first { $0.name == n }?.error) }
            s += "| \(r.name) | \(r.parameters) | \(r.config?.preset ?? "-") | \(r.config?.training.steps ?? 0) | \(r.selectedStep.map(String.init) ?? "unfinished") | "
                + "\(percent(r.validError)) | \(percent(r.testError)) | " + extra.joined(separator: " | ") + (extra.isEmpty ? "" : " | ")
                + "\(r.wallSeconds.map(formatDuration) ?? "-") |\n"
        }
        if let c = runs.first?.config {
            s += "\nData: K = \(c.pairs), " + (c.data == "generated"
                ? "generated from seed \(c.training.seed) (\(c.splitSizes.map(String.init).joined(separator: " / ")) examples; digits \(c.distinctDigits ? "distinct" : "may repeat"))"
                : "from \(c.data)") + String(format: "; %@ lr %g, batch %d; fast weights lambda %g, eta %g, S = %d.\n", c.training.optimizer == .adam ? "Adam" : c.training.optimizer.rawValue, c.training.lr, c.training.batch, c.model.lambda,
                                             c.model.eta, c.model.innerSteps)
        }
        return s
    }

    /// Writes `<root>/results.md` and `<root>/figures/`: test error against step for every model at each R (the
    /// paper's Figure 2 style) and the grid as grouped bars. Returns the table and the files written.
    public static func write(runRoot root: String, format: String) throws -> (table: String, files: [String]) {
        let runs = try records(under: root)
        guard !runs.isEmpty else { throw StoreError("\(root): no fastweights retrieval runs below it") }
        var files: [String] = []
        let table = table(runs)
        let md = (root as NSString).appendingPathComponent("results.md")
        try Data(table.utf8).write(to: URL(fileURLWithPath: md))
        files.append(md)
        let figures = (root as NSString).appendingPathComponent("figures")
        try FileManager.default.createDirectory(atPath: figures, withIntermediateDirectories: true)
        for r in Array(Set(runs.map(\.hidden))).sorted() {
            let atR = runs.filter { $0.hidden == r && !$0.evalStep.isEmpty }
            let plots: [(String, String, (RunRecord) -> [Double])] = [
                ("test_error", "test error (%)", { $0.evalTestError.map { $0 * 100 } }),
                ("test_loss", "test cross-entropy (nats per example)", { $0.evalTestLoss }),
            ]
            for (name, label, pick) in plots {
                let series = atR.filter { pick($0).count == $0.evalStep.count }.map { PlotSeries(name: $0.kind.label, x: $0.evalStep, y: pick($0)) }
                guard !series.isEmpty else { continue }
                let path = (figures as NSString).appendingPathComponent("\(name)_R\(r).\(format)")
                try Gnuplot.draw(LinePlot(title: "Associative retrieval, R = \(r): \(label) during training", xLabel: "training step",
                                          yLabel: label, logY: name == "test_loss", series: series), to: path)
                files.append(path)
            }
        }
        let finished = runs.filter { $0.testError != nil }
        let sizes = Array(Set(finished.map(\.hidden))).sorted()
        let kinds = RetrievalModelKind.allCases.filter { k in finished.contains { $0.kind == k } }
        if !finished.isEmpty {
            let values = kinds.map { k in sizes.map { r in (finished.first { $0.kind == k && $0.hidden == r }?.testError).map { $0 * 100 } ?? .nan } }
            let path = (figures as NSString).appendingPathComponent("table1_bars.\(format)")
            try Gnuplot.draw(BarChart(title: "Associative retrieval: test error of the selected models (ours)", yLabel: "test error (%)",
                                      categories: sizes.map { "R = \($0)" }, seriesNames: kinds.map(\.label), values: values), to: path)
            files.append(path)
            // The paper's Table 1 beside ours: hatched bars the paper's numbers, solid bars ours, one colour per model.
            let compared = FastWeights2016.paperTable1.filter { row in kinds.contains(row.kind) }
            let paperSizes = sizes.filter { r in compared.contains { $0.errors[r] != nil } }
            if !compared.isEmpty && !paperSizes.isEmpty {
                var names: [String] = [], rows: [[Double]] = [], styles: [(color: Int, pattern: Int?)] = []
                for (i, row) in compared.enumerated() {
                    names += ["\(row.kind.label): paper", "\(row.kind.label): ours"]
                    rows.append(paperSizes.map { row.errors[$0] ?? .nan })
                    rows.append(paperSizes.map { r in (finished.first { $0.kind == row.kind && $0.hidden == r }?.testError).map { $0 * 100 } ?? .nan })
                    styles += [(i, 4), (i, nil)]
                }
                let comparison = (figures as NSString).appendingPathComponent("table1_paper_vs_ours.\(format)")
                try Gnuplot.draw(BarChart(title: "Associative retrieval, Table 1: the paper (hatched, recalled values) beside ours (solid)",
                                          yLabel: "test error (%)", categories: paperSizes.map { "R = \($0)" }, seriesNames: names,
                                          values: rows, styles: styles), to: comparison)
                files.append(comparison)
            }
        }
        return (table, files)
    }
}

extension RetrievalModelKind {
    var sortIndex: Int { Self.allCases.firstIndex(of: self)! }
}

/// Ba et al. 2016 as a paper of the suite: its command, presets, published numbers and report.
public enum FastWeights2016Paper: Paper {
    public static let name = "fastweights"
    public static var experiment: String { RetrievalTask.experiment }
    public static let title = "Ba et al. 2016, Using Fast Weights to Attend to the Recent Past (associative retrieval, Table 1)"
    public static var presets: [String] { FastWeights2016.presetNames }
    public static var publishedNumbers: [PublishedNumber] {
        FastWeights2016.paperTable1.flatMap { row in
            row.errors.sorted { $0.key < $1.key }.map { PublishedNumber("\(row.kind.label), R = \($0.key), test error", $0.value, unit: "%", status: .recalled) }
        }
    }
    public static var command: any ParsableCommand.Type { FastWeightsCommand.self }

    /// Per run: the training loss. Per grid directory: Table 1 (`results.md`) and its figures.
    public static func report(metricsPaths: [String], root: String, format: String) throws -> PaperReport {
        try .collect(metricsPaths: metricsPaths, perRun: { try RunFigures.drawTrainLoss(metricsPath: $0, format: format) },
                     perDirectory: { dir, _ in try FastWeightsReport.write(runRoot: dir, format: format) })
    }
}
