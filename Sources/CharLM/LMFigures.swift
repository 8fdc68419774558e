// The figures and tables of language-model runs, drawn from their metrics files alone.
import Foundation
import Runs

/// How an evaluation was made, for every table that shows bits per character.
public func evaluationProtocolLabel(stride: Int, symbols: Int) -> String {
    stride == 1 ? "paper's protocol, \(symbols) symbols" : "stride \(stride) approximation (not the paper's protocol), \(symbols) symbols"
}

public enum LMFigures {
    /// Every figure of one LM run, in `<run dir>/figures/`: training loss, bits per character against step and
    /// against wall time. Returns their paths.
    public static func draw(metricsPath: String, format: String) throws -> [String] {
        var written = try RunFigures.drawTrainLoss(metricsPath: metricsPath, format: format)
        let run = try RunSeries(metricsPath: metricsPath)
        let trainStep = try run.series("train/step"), trainBPC = try run.series("train/bpc_final"), trainWall = try run.series("train/wall_time")
        let evalStep = try run.series("eval/step"), evalBPC = try run.series("eval/bpc"), evalWall = try run.series("eval/wall_time")
        guard !evalBPC.isEmpty else { return written }
        var series: [PlotSeries] = []
        if !trainBPC.isEmpty { let (x, y) = RunSeries.thin(trainStep, trainBPC); series.append(PlotSeries(name: "train (next character)", x: x, y: y)) }
        series.append(PlotSeries(name: "validation", x: evalStep, y: evalBPC))
        let byStep = try RunFigures.path(metricsPath: metricsPath, "bpc_by_step", format: format)
        try Gnuplot.draw(LinePlot(title: "\(run.name): bits per character", xLabel: "step", yLabel: "bits per character", series: series), to: byStep)
        written.append(byStep)
        if evalWall.count == evalBPC.count {
            var wallSeries: [PlotSeries] = []
            if trainWall.count == trainBPC.count, !trainBPC.isEmpty {
                let (x, y) = RunSeries.thin(trainWall.map { $0 / 60 }, trainBPC)
                wallSeries.append(PlotSeries(name: "train (next character)", x: x, y: y))
            }
            wallSeries.append(PlotSeries(name: "validation", x: evalWall.map { $0 / 60 }, y: evalBPC))
            let byWall = try RunFigures.path(metricsPath: metricsPath, "bpc_by_wall_time", format: format)
            try Gnuplot.draw(LinePlot(title: "\(run.name): bits per character", xLabel: "wall time (minutes)", yLabel: "bits per character",
                                      series: wallSeries), to: byWall)
            written.append(byWall)
        }
        return written
    }

    /// Compares the runs of one experiment directory (e.g. the auxiliary-loss ablation): validation and training
    /// bpc of every run against step and wall time, in `<dir>/figures/`. Returns the paths drawn.
    public static func drawComparison(metricsPaths: [String], into dir: String, format: String) throws -> [String] {
        let runs = try metricsPaths.map(RunSeries.init).filter { !(try $0.series("eval/bpc")).isEmpty }
        guard runs.count >= 2 else { return [] }
        let outDir = (dir as NSString).appendingPathComponent("figures")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let experiment = (dir as NSString).lastPathComponent
        var written: [String] = []
        let minutes: ([Double]) -> [Double] = { $0.map { $0 / 60 } }
        let plots: [(String, String, String, String, String, (([Double]) -> [Double])?, Bool)] = [
            ("valid_bpc_by_step", "step", "validation bpc", "eval/step", "eval/bpc", nil, false),
            ("valid_bpc_by_wall_time", "wall time (minutes)", "validation bpc", "eval/wall_time", "eval/bpc", minutes, false),
            ("train_bpc_by_step", "step", "training bpc (next character, final layer)", "train/step", "train/bpc_final", nil, true),
            ("train_bpc_by_wall_time", "wall time (minutes)", "training bpc (next character, final layer)", "train/wall_time", "train/bpc_final",
             minutes, true),
        ]
        for (name, xl, yl, xs, ys, transform, thin) in plots {
            let series = try runs.compactMap { r -> PlotSeries? in
                var x = try r.series(xs), y = try r.series(ys)
                if let transform { x = transform(x) }
                if thin { (x, y) = RunSeries.thin(x, y) }
                return x.count == y.count && !x.isEmpty ? PlotSeries(name: r.name, x: x, y: y) : nil
            }
            guard series.count >= 2 else { continue }
            let path = (outDir as NSString).appendingPathComponent("\(name).\(format)")
            try Gnuplot.draw(LinePlot(title: "\(experiment): \(yl)", xLabel: xl, yLabel: yl, series: series), to: path)
            written.append(path)
        }
        return written
    }

    /// Markdown rows (`| run | step | split | bpc | evaluation |`) of every run's last periodic validation, its
    /// selected model's results (validation and whole test split) and every `eval` command's result
    /// (results_<split>), each labelled with its protocol.
    public static func resultRows(metricsPaths: [String]) throws -> [String] {
        var rows: [String] = []
        for path in metricsPaths {
            let run = try RunSeries(metricsPath: path)
            let config = try run.attribute("config")?.stringValue.flatMap { try? LMTrainingConfig.fromJSON($0) }
            if let bpc = try run.series("eval/bpc").last, let step = try run.series("eval/step").last {
                let symbols = Int(try run.series("eval/symbols").last ?? 0)
                rows.append(String(format: "| %@ | %d | valid (periodic) | %.4f | %@ |", run.name, Int(step), bpc,
                                   evaluationProtocolLabel(stride: config?.evalStride ?? 0, symbols: symbols)))
            }
            if let step = try run.series("results/step").last {
                let stride = Int(try run.series("results/stride").last ?? 0)
                for split in ["valid", "test"] {
                    guard let bpc = try run.series("results/\(split)_bpc").last else { continue }
                    let symbols = Int(try run.series("results/\(split)_symbols").last ?? 0)
                    rows.append(String(format: "| %@ | %d | %@ (selected model) | %.4f | %@ |", run.name, Int(step), split, bpc,
                                       evaluationProtocolLabel(stride: stride, symbols: symbols)))
                }
            }
            for split in ["train", "valid", "test"] {
                let bpcs = try run.series("results_\(split)/bpc"), steps = try run.series("results_\(split)/step")
                let strides = try run.series("results_\(split)/stride"), symbols = try run.series("results_\(split)/symbols")
                for i in bpcs.indices where i < steps.count && i < strides.count && i < symbols.count {
                    rows.append(String(format: "| %@ | %d | %@ | %.4f | %@ |", run.name, Int(steps[i]), split, bpcs[i],
                                       evaluationProtocolLabel(stride: Int(strides[i]), symbols: Int(symbols[i]))))
                }
            }
        }
        return rows
    }
}
