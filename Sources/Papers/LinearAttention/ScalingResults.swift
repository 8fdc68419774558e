import Foundation
import Runs

/// What `replicate bench linear-attention` measured, for both engines: training tokens/s and the memory of one
/// training step against context, and decode time per token against context, per attention kind. Stored in one
/// HDF5 file (`scaling.h5`) that `replicate figures` redraws from. NaN marks a measurement that did not run.
public struct ScalingResults {
    public static let fileName = "scaling.h5"
    public static let experiment = "linear-attention-scaling"
    public static let engines = ["replicate", "pytorch"]

    public var kinds: [String]
    public var contexts: [Int]
    public var tokensPerStep: Int
    /// [engine][kind][context]
    public var tokensPerSecond: [[[Double]]]
    public var stepMB: [[[Double]]]
    public var decodeContexts: [Int]
    /// [engine][kind][decode context]
    public var decodeMs: [[[Double]]]
    /// Machine, threads, BLAS, torch version, command, shape.
    public var notes: [String: String]

    public init(kinds: [String], contexts: [Int], tokensPerStep: Int, decodeContexts: [Int], notes: [String: String]) {
        self.kinds = kinds
        self.contexts = contexts
        self.tokensPerStep = tokensPerStep
        self.decodeContexts = decodeContexts
        self.notes = notes
        let empty = { (n: Int) in Self.engines.map { _ in kinds.map { _ in [Double](repeating: .nan, count: n) } } }
        tokensPerSecond = empty(contexts.count)
        stepMB = empty(contexts.count)
        decodeMs = empty(decodeContexts.count)
    }

    /// Batch (sequences) at a context: the step's tokens held near `tokensPerStep`.
    public func batch(at context: Int) -> Int { max(1, tokensPerStep / context) }

    public func write(to path: String) throws {
        try HDF5File.writeAtomically(to: path, what: "benchmark results") { f in
            try f.setAttribute("experiment", .string(Self.experiment))
            try f.setAttribute("kinds", .string(kinds.joined(separator: ",")))
            try f.setAttribute("tokens_per_step", .int(Int64(tokensPerStep)))
            for (k, v) in notes.sorted(by: { $0.key < $1.key }) { try f.setAttribute(k, .string(v)) }
            try f.write(NDArray(contexts.map(Int64.init)), to: "contexts")
            try f.write(NDArray(decodeContexts.map(Int64.init)), to: "decode_contexts")
            for (e, engine) in Self.engines.enumerated() {
                try f.write(NDArray(tokensPerSecond[e].flatMap { $0 }, shape: [kinds.count, contexts.count]), to: "\(engine)_tokens_per_s")
                try f.write(NDArray(stepMB[e].flatMap { $0 }, shape: [kinds.count, contexts.count]), to: "\(engine)_step_mb")
                try f.write(NDArray(decodeMs[e].flatMap { $0 }, shape: [kinds.count, decodeContexts.count]), to: "\(engine)_decode_ms")
            }
        }
    }

    public static func read(_ path: String) throws -> ScalingResults {
        let f = try HDF5File.open(path)
        defer { try? f.close() }
        guard try f.attribute("experiment")?.stringValue == experiment, let kindList = try f.attribute("kinds")?.stringValue else {
            throw StoreError("\(path): not a linear-attention scaling benchmark")
        }
        var notes: [String: String] = [:]
        for (k, v) in try f.attributes() where !["experiment", "kinds", "tokens_per_step"].contains(k) { notes[k] = v.stringValue }
        let kinds = kindList.split(separator: ",").map(String.init)
        let contexts = try f.read("contexts").doubles.map { Int($0) }, decode = try f.read("decode_contexts").doubles.map { Int($0) }
        var r = ScalingResults(kinds: kinds, contexts: contexts, tokensPerStep: Int(try f.attribute("tokens_per_step")?.intValue ?? 0),
                               decodeContexts: decode, notes: notes)
        func rows(_ name: String, _ n: Int) throws -> [[Double]] {
            let a = try f.read(name)
            guard a.shape == [kinds.count, n] else { throw StoreError("\(path): \(name) has shape \(a.shape), expected [\(kinds.count), \(n)]") }
            let v = a.doubles
            return (0..<kinds.count).map { Array(v[($0 * n)..<(($0 + 1) * n)]) }
        }
        for (e, engine) in engines.enumerated() {
            r.tokensPerSecond[e] = try rows("\(engine)_tokens_per_s", contexts.count)
            r.stepMB[e] = try rows("\(engine)_step_mb", contexts.count)
            r.decodeMs[e] = try rows("\(engine)_decode_ms", decode.count)
        }
        return r
    }

    /// The smallest measured context from which on `kind` trains at least as fast as softmax on `engine`, at every
    /// larger measured context too (nil: not at the largest, or softmax not measured).
    public func crossover(_ kind: String, engine: Int = 0) -> Int? {
        guard let s = kinds.firstIndex(of: "softmax"), let k = kinds.firstIndex(of: kind) else { return nil }
        var from: Int?
        for c in contexts.indices.reversed() {
            guard tokensPerSecond[engine][k][c] >= tokensPerSecond[engine][s][c] else { break }
            from = contexts[c]
        }
        return from
    }

    /// The Markdown tables (training, memory, decoding; ratios ours / PyTorch) and the crossover contexts.
    public var markdown: String {
        func f(_ x: Double, _ d: Int = 0) -> String { x.isFinite ? String(format: "%.\(d)f", x) : "-" }
        func ratio(_ a: Double, _ b: Double) -> String { a.isFinite && b.isFinite && b > 0 ? String(format: "%.2f", a / b) : "-" }
        var s = "Linear-attention scaling benchmark (\(notes["shape"] ?? "")); \(notes["machine"] ?? ""), \(notes["threads"] ?? "?") threads; "
        s += "PyTorch \(notes["torch"] ?? "not run"). Training: Adam on random tokens, about \(tokensPerStep) tokens per step "
        s += "(batch = \(tokensPerStep) / context). Memory: peak resident memory during the steps minus that before the first. "
        s += "Command: `\(notes["command"] ?? "?")`\n\n"
        s += "| kind | context | batch | replicate tok/s | pytorch tok/s | ratio | replicate step MB | pytorch step MB |\n|---|---|---|---|---|---|---|---|\n"
        for (k, kind) in kinds.enumerated() {
            for (c, ctx) in contexts.enumerated() {
                let o = tokensPerSecond[0][k][c], p = tokensPerSecond[1][k][c]
                s += "| \(kind) | \(ctx) | \(batch(at: ctx)) | \(f(o)) | \(f(p)) | \(ratio(o, p)) | \(f(stepMB[0][k][c])) | \(f(stepMB[1][k][c])) |\n"
            }
        }
        s += "\n| kind | " + decodeContexts.map { "decode ms @\($0): replicate / pytorch (ratio pytorch / replicate)" }.joined(separator: " | ") + " |\n"
        s += "|---|" + decodeContexts.map { _ in "---|" }.joined() + "\n"
        for (k, kind) in kinds.enumerated() {
            s += "| \(kind) | " + decodeContexts.indices.map { c in
                let o = decodeMs[0][k][c], p = decodeMs[1][k][c]
                return "\(f(o, 3)) / \(f(p, 3)) (\(ratio(p, o)))"
            }.joined(separator: " | ") + " |\n"
        }
        let linear = kinds.filter { $0 != "softmax" }
        if kinds.contains("softmax"), !linear.isEmpty {
            s += "\nTraining crossover (smallest context from which the kind trains at least as fast as softmax, ours): "
            s += linear.map { "\($0) \(crossover($0).map(String.init) ?? "none up to \(contexts.max() ?? 0)")" }.joined(separator: ", ") + ".\n"
        }
        return s
    }

    /// Figures: training tokens/s and step memory against context, decode time against context; both engines
    /// (one colour per kind; ours solid, PyTorch dashed).
    public func drawFigures(into dir: String, format: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func lines(_ values: [[[Double]]], _ xs: [Int]) -> [PlotSeries] {
            Self.engines.indices.flatMap { e in
                kinds.indices.compactMap { k -> PlotSeries? in
                    let points = zip(xs, values[e][k]).filter { $0.1.isFinite && $0.1 > 0 }
                    guard !points.isEmpty else { return nil }
                    return PlotSeries(name: "\(kinds[k]) (\(Self.engines[e]))", x: points.map { Double($0.0) }, y: points.map(\.1),
                                      color: k, dashed: e == 1)
                }
            }
        }
        var files: [String] = []
        for (name, plot) in [
            ("train_tokens_per_s_by_context", LinePlot(title: "Training tokens/s against context", xLabel: "context", yLabel: "tokens per second",
                                                       logX: true, logY: true, series: lines(tokensPerSecond, contexts))),
            ("step_memory_by_context", LinePlot(title: "Memory of a training step against context", xLabel: "context", yLabel: "MB",
                                                logX: true, logY: true, series: lines(stepMB, contexts))),
            ("decode_engines_by_context", LinePlot(title: "Decode time per token, one block, both engines", xLabel: "context (positions seen)",
                                                   yLabel: "milliseconds per token", logX: true, logY: true, series: lines(decodeMs, decodeContexts))),
        ] where !plot.series.isEmpty {
            let path = (dir as NSString).appendingPathComponent("\(name).\(format)")
            try Gnuplot.draw(plot, to: path)
            files.append(path)
        }
        return files
    }

    /// Writes `<dir>/scaling.md` (the tables) and `<dir>/figures/`; returns the files.
    public func writeReport(into dir: String, format: String) throws -> [String] {
        let md = (dir as NSString).appendingPathComponent("scaling.md")
        try Data(markdown.utf8).write(to: URL(fileURLWithPath: md))
        return [md] + (try drawFigures(into: (dir as NSString).appendingPathComponent("figures"), format: format))
    }

    /// Every scaling file below `root`: its tables (also written beside it as scaling.md) and figures.
    public static func report(root: String, format: String) throws -> PaperReport? {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return nil }
        var report = PaperReport(markdown: "", figures: [])
        for case let rel as String in walker where (rel as NSString).lastPathComponent == fileName {
            let path = (root as NSString).appendingPathComponent(rel), dir = (path as NSString).deletingLastPathComponent
            let r = try read(path)
            report.markdown += r.markdown + "\n"
            report.figures += try r.writeReport(into: dir, format: format)
        }
        return report.figures.isEmpty ? nil : report
    }
}
