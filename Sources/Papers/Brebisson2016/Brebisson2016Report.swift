import Runs
import ArgumentParser
import Foundation

/// The lookup-cost measurement of a run root (`lookup.h5`): time per question and bytes per story of the softmax
/// and the linear reader against story length.
public struct LookupResults {
    public static let fileName = "lookup.h5"
    public static let experiment = "brebisson2016-lookup"
    public let dimension: Int
    public let costs: [LookupCost]
    public let notes: [String: String]

    public init(dimension: Int, costs: [LookupCost], notes: [String: String]) {
        self.dimension = dimension
        self.costs = costs
        self.notes = notes
    }

    public func write(to path: String) throws {
        try HDF5File.writeAtomically(to: path, what: "lookup measurement") { f in
            try f.setAttribute("experiment", .string(Self.experiment))
            try f.setAttribute("dimension", .int(Int64(dimension)))
            for (k, v) in notes.sorted(by: { $0.key < $1.key }) { try f.setAttribute(k, .string(v)) }
            try f.write(NDArray(costs.map { Int64($0.length) }), to: "lengths")
            try f.write(NDArray(costs.map(\.softmaxSeconds)), to: "softmax_seconds_per_query")
            try f.write(NDArray(costs.map(\.linearSeconds)), to: "linear_seconds_per_query")
            try f.write(NDArray(costs.map(\.linearBuildSeconds)), to: "linear_build_seconds")
            try f.write(NDArray(costs.map { Int64($0.softmaxBytes) }), to: "softmax_bytes")
            try f.write(NDArray(costs.map { Int64($0.linearBytes) }), to: "linear_bytes")
        }
    }

    public static func read(_ path: String) throws -> LookupResults {
        let f = try HDF5File.open(path)
        defer { try? f.close() }
        guard try f.attribute("experiment")?.stringValue == experiment else { throw StoreError("\(path): not a brebisson2016 lookup measurement") }
        var notes: [String: String] = [:]
        for (k, v) in try f.attributes() where !["experiment", "dimension"].contains(k) { notes[k] = v.stringValue }
        let lengths = try f.read("lengths").doubles
        let columns = try ["softmax_seconds_per_query", "linear_seconds_per_query", "linear_build_seconds", "softmax_bytes", "linear_bytes"].map {
            let v = try f.read($0).doubles
            guard v.count == lengths.count else { throw StoreError("\(path): \($0) has \(v.count) values for \(lengths.count) lengths") }
            return v
        }
        let costs = lengths.indices.map { i in
            LookupCost(length: Int(lengths[i]), softmaxSeconds: columns[0][i], linearSeconds: columns[1][i], linearBuildSeconds: columns[2][i],
                       softmaxBytes: Int(columns[3][i]), linearBytes: Int(columns[4][i]))
        }
        return LookupResults(dimension: Int(try f.attribute("dimension")?.intValue ?? 0), costs: costs, notes: notes)
    }

    public var markdown: String {
        var s = "Lookup cost once a story is encoded (states of width d = \(dimension), Float, \(notes["threads"] ?? "?") threads, "
            + "questions 256 at a time, best of 5): softmax O(T d) per question over all T states, linear O(d^2) per question over C.\n\n"
        s += "| story tokens | softmax us/query | linear us/query | softmax / linear | building C (us, once) | softmax bytes | linear bytes |\n"
        s += "|---|---|---|---|---|---|---|\n"
        for c in costs {
            s += String(format: "| %d | %.3f | %.3f | %.1f | %.1f | %d | %d |\n", c.length, c.softmaxSeconds * 1e6, c.linearSeconds * 1e6,
                        c.softmaxSeconds / c.linearSeconds, c.linearBuildSeconds * 1e6, c.softmaxBytes, c.linearBytes)
        }
        return s
    }

    public func drawFigures(into dir: String, format: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let x = costs.map { Double($0.length) }
        let time = (dir as NSString).appendingPathComponent("lookup_time_by_story_length.\(format)")
        try Gnuplot.draw(LinePlot(title: "Time per question once the story is encoded (d = \(dimension))", xLabel: "story length (tokens)",
                                  yLabel: "microseconds per question", logX: true, logY: true,
                                  series: [PlotSeries(name: "softmax attention: O(T d)", x: x, y: costs.map { $0.softmaxSeconds * 1e6 }),
                                           PlotSeries(name: "linear attention: O(d^2)", x: x, y: costs.map { $0.linearSeconds * 1e6 })]), to: time)
        let bytes = (dir as NSString).appendingPathComponent("story_bytes_by_story_length.\(format)")
        try Gnuplot.draw(LinePlot(title: "Bytes kept per encoded story (d = \(dimension), Float)", xLabel: "story length (tokens)",
                                  yLabel: "bytes", logX: true, logY: true,
                                  series: [PlotSeries(name: "softmax attention: T x d states", x: x, y: costs.map { Double($0.softmaxBytes) }),
                                           PlotSeries(name: "linear attention: d x d matrix C", x: x, y: costs.map { Double($0.linearBytes) })]), to: bytes)
        return [time, bytes]
    }
}

/// The comparison table and figures of a run root, from its runs' metrics files (and lookup.h5) alone.
public enum Brebisson2016Report {
    public struct RunRecord {
        public let name: String
        public let reader: ClozeReader
        public let parameters: Int
        public let config: ClozeTrainingConfig?
        public let evalStep: [Double], evalValid: [Double], evalTest: [Double]
        public let selectedStep: Int?, validAccuracy: Double?, testAccuracy: Double?, wallSeconds: Double?
        public let byLength: [(lo: Int, hi: Int, accuracy: Double)]

        public init?(metricsPath: String) throws {
            let f = try HDF5File.open(metricsPath)
            defer { try? f.close() }
            guard try f.attribute("experiment")?.stringValue == ClozeTask.experiment,
                  let r = try f.attribute("reader")?.stringValue, let reader = ClozeReader(rawValue: r) else { return nil }
            func series(_ n: String) throws -> [Double] { f.kind(of: n) == .dataset ? try f.read(n).doubles : [] }
            name = ((metricsPath as NSString).deletingLastPathComponent as NSString).lastPathComponent
            self.reader = reader
            parameters = Int(try f.attribute("parameters")?.intValue ?? 0)
            config = try f.attribute("config")?.stringValue.flatMap { try? ClozeTrainingConfig.fromJSON($0) }
            evalStep = try series("eval/step"); evalValid = try series("eval/valid_accuracy"); evalTest = try series("eval/test_accuracy")
            if f.kind(of: "results/step") == .dataset, let step = try f.read("results/step").int64s.last {
                selectedStep = Int(step)
                validAccuracy = try series("results/valid_accuracy").last
                testAccuracy = try series("results/test_accuracy").last
                wallSeconds = try series("results/wall_time").last
                var bins: [(Int, Int, Double)] = []
                for i in 0..<Int(try f.attribute("length_bins")?.intValue ?? 0) {
                    if let lo = try series("results/test_length_bin\(i)_lo").last, let hi = try series("results/test_length_bin\(i)_hi").last,
                       let a = try series("results/test_length_bin\(i)_accuracy").last { bins.append((Int(lo), Int(hi), a)) }
                }
                byLength = bins
            } else {
                selectedStep = nil; validAccuracy = nil; testAccuracy = nil; wallSeconds = nil; byLength = []
            }
        }
    }

    public static func records(under root: String) throws -> [RunRecord] {
        try RunFiles.metricsFiles(under: root).compactMap { try RunRecord(metricsPath: $0) }
            .sorted { ClozeReader.allCases.firstIndex(of: $0.reader)! < ClozeReader.allCases.firstIndex(of: $1.reader)! }
    }

    static func percent(_ x: Double?) -> String { x.map { String(format: "%.2f", $0 * 100) } ?? "-" }

    public static func table(_ runs: [RunRecord]) -> String {
        let synthetic = runs.first?.config?.data.isSynthetic ?? true
        var s = synthetic
            ? "Synthetic stand-in for CNN (generated .question items; NOT CNN, so the CNN anchors below are not comparable): accuracy (%) of the selected (best-validation) model of each reader.\n\n"
            : "Questions read from \(runs.first?.config?.data.source ?? "?") (\(runs.first?.config?.data.format ?? "?") format): accuracy (%) of the selected (best-validation) model of each reader, ours beside the published CNN anchors (comparable only when the data is CNN's).\n\n"
        s += "| reader | params | preset | steps | selected step | valid accuracy % | test accuracy % | wall time |\n|---|---|---|---|---|---|---|---|\n"
        for r in runs {
            s += "| ours: \(r.reader.label) | \(r.parameters) | \(r.config?.preset ?? "-") | \(r.config?.training.steps ?? 0) | "
                + "\(r.selectedStep.map(String.init) ?? "unfinished") | \(percent(r.validAccuracy)) | \(percent(r.testAccuracy)) | "
                + "\(r.wallSeconds.map(formatDuration) ?? "-") |\n"
        }
        for a in Brebisson2016.anchors {
            s += "| CNN anchor: \(a.what) | | | | | \(a.valid.map { String(format: "%.1f", $0) } ?? "-") | \(a.test.map { String(format: "%.1f", $0) } ?? "-") | \(a.source) |\n"
        }
        if let c = runs.first?.config {
            s += "\nData: " + (c.data.isSynthetic
                ? "synthetic, stories of \(c.data.storyLengths.map(String.init).joined(separator: "/")) tokens, \(c.data.entities) entities and \(c.data.facts) facts per story, \(c.data.splitSizes.map(String.init).joined(separator: " / ")) questions"
                : "\(c.data.format) format from \(c.data.source)" + (c.data.maxExamples.map { ", at most \($0) questions per split" } ?? ""))
            s += String(format: "; vocabulary %d, %d entity classes; embedding %d, GRUs %d%@, output %d; Adam lr %g, batch %d, clip %g, seed %d.\n",
                        c.model.vocabulary, c.model.entities, c.model.embedding, c.model.hidden, c.model.bidirectional ? " (bidirectional)" : "",
                        c.model.output, c.training.lr, c.training.batch, c.training.clip, Int(c.training.seed))
        }
        let binned = runs.filter { !$0.byLength.isEmpty }
        if let first = binned.first {
            s += "\nTest accuracy (%) by story length (one bin per length, or bins of equal question counts):\n\n| reader | "
                + first.byLength.map { $0.lo == $0.hi ? "\($0.lo) tokens" : "\($0.lo)-\($0.hi) tokens" }.joined(separator: " | ") + " |\n|---|" + first.byLength.map { _ in "---|" }.joined() + "\n"
            for r in binned { s += "| \(r.reader.label) | " + r.byLength.map { String(format: "%.2f", $0.accuracy * 100) }.joined(separator: " | ") + " |\n" }
        }
        return s
    }

    /// Writes `<root>/results.md` and `<root>/figures/`: accuracy bars per reader, accuracy during training,
    /// accuracy against story length, and (when measured) the lookup cost against story length.
    public static func write(runRoot root: String, format: String) throws -> (table: String, files: [String]) {
        let runs = try records(under: root)
        guard !runs.isEmpty else { throw StoreError("\(root): no brebisson2016 runs below it") }
        var table = table(runs), files: [String] = []
        let figures = (root as NSString).appendingPathComponent("figures")
        try FileManager.default.createDirectory(atPath: figures, withIntermediateDirectories: true)
        let finished = runs.filter { $0.testAccuracy != nil }
        if !finished.isEmpty {
            let path = (figures as NSString).appendingPathComponent("accuracy_by_reader.\(format)")
            try Gnuplot.draw(BarChart(title: "Reading comprehension: accuracy of the selected model per reader (ours)", yLabel: "accuracy (%)",
                                      categories: ["validation", "test"], seriesNames: finished.map(\.reader.label),
                                      values: finished.map { [($0.validAccuracy ?? .nan) * 100, ($0.testAccuracy ?? .nan) * 100] }), to: path)
            files.append(path)
        }
        let during = runs.filter { !$0.evalStep.isEmpty && $0.evalValid.count == $0.evalStep.count }
        if !during.isEmpty {
            let path = (figures as NSString).appendingPathComponent("valid_accuracy_during_training.\(format)")
            try Gnuplot.draw(LinePlot(title: "Validation accuracy during training", xLabel: "training step", yLabel: "accuracy (%)",
                                      series: during.map { PlotSeries(name: $0.reader.label, x: $0.evalStep, y: $0.evalValid.map { $0 * 100 }) }), to: path)
            files.append(path)
        }
        let binned = finished.filter { !$0.byLength.isEmpty }
        if !binned.isEmpty {
            let path = (figures as NSString).appendingPathComponent("accuracy_by_story_length.\(format)")
            try Gnuplot.draw(LinePlot(title: "Test accuracy against story length (x: the middle of each length bin)",
                                      xLabel: "story length (tokens)", yLabel: "accuracy (%)",
                                      series: binned.map { r in PlotSeries(name: r.reader.label, x: r.byLength.map { Double($0.lo + $0.hi) / 2 },
                                                                           y: r.byLength.map { $0.accuracy * 100 }) }), to: path)
            files.append(path)
        }
        let lookupPath = (root as NSString).appendingPathComponent(LookupResults.fileName)
        if FileManager.default.fileExists(atPath: lookupPath) {
            let lookup = try LookupResults.read(lookupPath)
            table += "\n" + lookup.markdown
            files += try lookup.drawFigures(into: figures, format: format)
        }
        let md = (root as NSString).appendingPathComponent("results.md")
        try Data(table.utf8).write(to: URL(fileURLWithPath: md))
        files.insert(md, at: 0)
        return (table, files)
    }
}

/// de Brébisson & Vincent 2016 as a paper of the suite.
public enum Brebisson2016Paper: Paper {
    public static let name = "brebisson2016"
    public static var experiment: String { ClozeTask.experiment }
    public static let title = "de Brébisson & Vincent 2016, A Cheap Linear Attention Mechanism with Fast Lookups and Fixed-Size Representations"
    public static var presets: [String] { Brebisson2016.presetNames }
    public static var publishedNumbers: [PublishedNumber] {
        Brebisson2016.anchors.flatMap { a in
            [a.valid.map { PublishedNumber("CNN valid accuracy, \(a.what)", $0, unit: "%", status: .recalled) },
             a.test.map { PublishedNumber("CNN test accuracy, \(a.what)", $0, unit: "%", status: .recalled) }].compactMap { $0 }
        }
    }
    public static var command: any ParsableCommand.Type { Brebisson2016Command.self }

    public static func report(metricsPaths: [String], root: String, format: String) throws -> PaperReport {
        try .collect(metricsPaths: metricsPaths, perRun: { try RunFigures.drawTrainLoss(metricsPath: $0, format: format) },
                     perDirectory: { dir, _ in try Brebisson2016Report.write(runRoot: dir, format: format) })
    }
}
