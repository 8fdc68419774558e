import ArgumentParser
import CharLM
import Foundation
import NN
import Runs

/// The linear-attention comparison as a paper of the suite.
public enum LinearAttentionPaper: Paper {
    public static let name = "linear-attention"
    public static let title = "Linear attention against softmax attention in a character LM (Katharopoulos 2020, Schlag 2021, Yang 2024; "
        + "anchor: Zhai et al. 2021, Table 4)"
    public static var presets: [String] { LinearAttentionExperiment.presetNames }
    public static var publishedNumbers: [PublishedNumber] {
        [PublishedNumber("Zhai et al. 2021 Table 4, enwik8 test, 12 layers x 512: softmax transformer", 1.137, unit: "bpc", status: .recalled),
         PublishedNumber("same table: linear transformer (elu+1)", 1.207, unit: "bpc", status: .recalled),
         PublishedNumber("same table: Performer", 1.199, unit: "bpc", status: .recalled),
         PublishedNumber("same table: AFT-local-32", 1.180, unit: "bpc", status: .recalled)]
    }
    public static var command: any ParsableCommand.Type { LinearAttentionCommand.self }

    /// Per run: the LM figures. Per comparison directory: the table (`results.md`) and its figures.
    public static func report(metricsPaths: [String], root: String, format: String) throws -> PaperReport {
        try .collect(metricsPaths: metricsPaths, perRun: { try LMFigures.draw(metricsPath: $0, format: format) },
                     perDirectory: { dir, _ in try LinearAttentionReport.write(experimentDir: dir, format: format) })
    }

    /// The scaling benchmark's files (`replicate bench linear-attention`).
    public static func benchmarkReport(root: String, format: String) throws -> PaperReport? {
        try ScalingResults.report(root: root, format: format)
    }
}

/// The comparison table and figures, from the runs' metrics files alone.
public enum LinearAttentionReport {
    struct Run {
        let name: String
        let config: LMTrainingConfig
        let parameters: Int
        let series: RunSeries
        let testBPC: Double?, testCarried: Double?, validBPC: Double?
        let tokensPerSecond: Double?
        let decode: [(context: Int, ms: Double)]
    }

    static func runs(under dir: String) throws -> [Run] {
        try RunFiles.metricsFiles(under: dir).compactMap { path -> Run? in
            let s = try RunSeries(metricsPath: path)
            guard try s.attribute("experiment")?.stringValue == LinearAttentionPaper.name,
                  let json = try s.attribute("config")?.stringValue, let config = try? LMTrainingConfig.fromJSON(json) else { return nil }
            let tps = try s.series("train/tokens_per_s").filter(\.isFinite).sorted()
            let steps = try s.series("decode/context"), ms = try s.series("decode/ms_per_token")
            return Run(name: s.name, config: config, parameters: Int(try s.attribute("parameters")?.intValue ?? 0), series: s,
                       testBPC: try s.series("results/test_bpc").last, testCarried: try s.series("results/test_bpc_carried").last,
                       validBPC: try s.series("results/valid_bpc").last, tokensPerSecond: tps.isEmpty ? nil : tps[tps.count / 2],
                       decode: zip(steps, ms).map { (Int($0), $1) })
        }
        .sorted { ($0.config.model.attention.hasFixedState ? 1 : 0, $0.name) < ($1.config.model.attention.hasFixedState ? 1 : 0, $1.name) }
    }

    /// Writes `<dir>/results.md` and `<dir>/figures/`; returns the table and the files.
    public static func write(experimentDir dir: String, format: String) throws -> (table: String, files: [String]) {
        let all = try runs(under: dir)
        guard !all.isEmpty else { throw StoreError("\(dir): no linear-attention runs below it") }
        let softmax = all.first { !$0.config.model.attention.hasFixedState }
        let contexts = Array(Set(all.flatMap { $0.decode.map(\.context) })).sorted()
        func f(_ x: Double?, _ digits: Int = 4) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "-" }
        let c0 = all[0].config
        let shape = "\(c0.model.layers) layers, width \(c0.model.dModel), \(c0.model.heads) heads, context \(c0.model.context)"
        let budget = "\(c0.training.steps) steps of \(c0.training.batch) windows, seed \(c0.training.seed)"
        let stride: String = c0.evalStride == 1 ? "the paper's protocol (stride 1)" : "stride \(c0.evalStride) windows (an approximation)"
        var s = "Linear attention against softmax, \(c0.dataset), preset \(c0.preset): " + shape + ", " + budget + ". "
        s += "Parameters are matched to softmax by the feed-forward width. Test bpc: the selected (best-validation) model, " + stride + "; "
        s += "carried: the whole test split as one stream, the state carried across windows (positions restart each window). "
        s += "Decode: one block, milliseconds per token with that many positions seen.\n\n"
        s += "| kind | params | vs softmax | d_ff | state per layer | test bpc | test bpc, carried state | gap to softmax | train tok/s | "
            + contexts.map { "decode ms @\($0)" }.joined(separator: " | ") + " |\n"
        s += "|---|---|---|---|---|---|---|---|---|" + contexts.map { _ in "---|" }.joined() + "\n"
        for r in all {
            let m = r.config.model
            let delta = softmax.map { String(format: "%+.2f%%", 100 * Double(r.parameters - $0.parameters) / Double($0.parameters)) } ?? "-"
            let state = m.attention.stateBytes(dModel: m.dModel, heads: m.heads, context: m.context)
            let gap = (r.testBPC != nil && softmax?.testBPC != nil) ? String(format: "%+.4f", r.testBPC! - softmax!.testBPC!) : "-"
            let decode = contexts.map { c in f(r.decode.first { $0.context == c }?.ms, 3) }
            let fixed = m.attention.hasFixedState
            let stateText: String = formatBytes(state) + (fixed ? "" : " (KV cache at \(m.context))")
            let carriedText: String = fixed ? f(r.testCarried) : "-"
            var row = "| \(r.name) | \(r.parameters) | \(delta) | \(m.dFF) | " + stateText + " | "
            row += f(r.testBPC) + " | " + carriedText + " | " + gap + " | " + f(r.tokensPerSecond, 0) + " | "
            s += row + decode.joined(separator: " | ") + " |\n"
        }
        let md = (dir as NSString).appendingPathComponent("results.md")
        try Data(s.utf8).write(to: URL(fileURLWithPath: md))
        var files = [md]
        let figures = (dir as NSString).appendingPathComponent("figures")
        try FileManager.default.createDirectory(atPath: figures, withIntermediateDirectories: true)
        // Validation bpc against training tokens.
        let lines = try all.compactMap { r -> PlotSeries? in
            let steps = try r.series.series("eval/step"), bpc = try r.series.series("eval/bpc")
            guard !bpc.isEmpty else { return nil }
            let tokens = Double(r.config.training.batch * r.config.model.context)
            return PlotSeries(name: r.name, x: steps.map { $0 * tokens / 1e6 }, y: bpc)
        }
        if !lines.isEmpty {
            let path = (figures as NSString).appendingPathComponent("valid_bpc_by_tokens.\(format)")
            try Gnuplot.draw(LinePlot(title: "Validation bits per character", xLabel: "training tokens (millions)", yLabel: "bits per character",
                                      series: lines), to: path)
            files.append(path)
        }
        let finished = all.filter { $0.testBPC != nil }
        if !finished.isEmpty {
            let path = (figures as NSString).appendingPathComponent("test_bpc_bars.\(format)")
            let carried = finished.map { $0.config.model.attention.hasFixedState ? ($0.testCarried ?? .nan) : ($0.testBPC ?? .nan) }
            try Gnuplot.draw(BarChart(title: "Test bits per character (softmax is the first group)", yLabel: "bits per character",
                                      categories: finished.map(\.name), seriesNames: ["window protocol", "state carried (softmax: window)"],
                                      values: [finished.map { $0.testBPC ?? .nan }, carried]), to: path)
            files.append(path)
        }
        let decodeLines = all.filter { !$0.decode.isEmpty }.map {
            PlotSeries(name: $0.name, x: $0.decode.map { Double($0.context) }, y: $0.decode.map(\.ms))
        }
        if !decodeLines.isEmpty {
            let path = (figures as NSString).appendingPathComponent("decode_time_by_context.\(format)")
            try Gnuplot.draw(LinePlot(title: "Decode time per token, one block", xLabel: "context (positions seen)", yLabel: "milliseconds per token",
                                      logX: true, logY: true, series: decodeLines), to: path)
            files.append(path)
        }
        // Key-size sweep: test bpc against the per-head key features, for every kind trained at several sizes.
        var sweep: [PlotSeries] = []
        for (base, group) in Dictionary(grouping: finished.filter { $0.config.model.attention.hasFixedState }, by: { baseName($0.name) }) {
            let points = group.map { (Double(keyFeatures($0.config.model)), $0.testBPC!) }.sorted { $0.0 < $1.0 }
            guard points.count >= 2 else { continue }
            sweep.append(PlotSeries(name: base, x: points.map(\.0), y: points.map(\.1)))
        }
        if !sweep.isEmpty, let soft = softmax?.testBPC {
            let xs = sweep.flatMap(\.x)
            sweep.sort { $0.name < $1.name }
            sweep.append(PlotSeries(name: "softmax", x: [xs.min()!, xs.max()!], y: [soft, soft]))
            let path = (figures as NSString).appendingPathComponent("key_size_sweep.\(format)")
            try Gnuplot.draw(LinePlot(title: "Test bpc against key size at near-equal parameters", xLabel: "key features per head (log)",
                                      yLabel: "bits per character", logX: true, series: sweep), to: path)
            files.append(path)
        }
        return (s, files)
    }

    /// The family a run belongs to in the sweep: "delta" for "delta-k64"; "dpfp" for every DPFP run (nu and the
    /// key size both set its key features).
    static func baseName(_ name: String) -> String {
        var base = name
        if let r = name.range(of: "-k", options: .backwards), Int(name[r.upperBound...]) != nil { base = String(name[..<r.lowerBound]) }
        return base.hasPrefix("dpfp") ? "dpfp" : base
    }

    /// Per-head key features after the feature map.
    static func keyFeatures(_ m: TransformerConfig) -> Int {
        guard case .linear(let name, let spec) = m.attention else { return m.dModel / m.heads }
        return LinearAttentionKernel(spec, name: name).keyFeatures(dModel: m.dModel, heads: m.heads)
    }

    static func formatBytes(_ b: Int) -> String {
        b >= 1 << 20 ? String(format: "%.1f MB", Double(b) / Double(1 << 20)) : String(format: "%.1f KB", Double(b) / 1024)
    }
}
