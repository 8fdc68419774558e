import Foundation

/// The figures and tables that runs' metrics files describe; drawn from the HDF5 files alone.
public enum RunFigures {
    /// A run's series, read back from its metrics file.
    struct RunSeries {
        let name: String
        let trainStep: [Double], trainLoss: [Double], trainBPC: [Double], trainWall: [Double]
        let evalStep: [Double], evalBPC: [Double], evalWall: [Double]

        init(metricsPath: String) throws {
            let f = try HDF5File.open(metricsPath)
            func read(_ n: String) throws -> [Double] { f.kind(of: n) == .dataset ? try f.read(n).doubles : [] }
            name = ((metricsPath as NSString).deletingLastPathComponent as NSString).lastPathComponent
            trainStep = try read("train/step"); trainLoss = try read("train/loss"); trainBPC = try read("train/bpc_final")
            trainWall = try read("train/wall_time")
            evalStep = try read("eval/step"); evalBPC = try read("eval/bpc"); evalWall = try read("eval/wall_time")
        }

        /// Every `k`-th point (at most ~2000 points per line), so long runs draw quickly.
        func thin(_ x: [Double], _ y: [Double]) -> ([Double], [Double]) {
            let n = min(x.count, y.count)
            let k = max(1, n / 2000)
            let idx = Swift.stride(from: 0, to: n, by: k)
            return (idx.map { x[$0] }, idx.map { y[$0] })
        }
    }

    /// Draws every figure for one run into `<run dir>/figures/` and returns their paths.
    public static func draw(metricsPath: String, format: String) throws -> [String] {
        let run = try RunSeries(metricsPath: metricsPath)
        let outDir = ((metricsPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("figures")
        var written: [String] = []
        func out(_ name: String) throws -> String {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            let p = (outDir as NSString).appendingPathComponent("\(name).\(format)")
            written.append(p)
            return p
        }
        if !run.trainStep.isEmpty && !run.trainLoss.isEmpty {
            let (x, y) = run.thin(run.trainStep, run.trainLoss)
            try Gnuplot.draw(LinePlot(title: "\(run.name): training loss", xLabel: "step", yLabel: "loss (nats)",
                                      series: [PlotSeries(name: "train loss", x: x, y: y)]), to: try out("train_loss"))
        }
        if !run.evalBPC.isEmpty {
            var series: [PlotSeries] = []
            if !run.trainBPC.isEmpty { let (x, y) = run.thin(run.trainStep, run.trainBPC); series.append(PlotSeries(name: "train (next character)", x: x, y: y)) }
            series.append(PlotSeries(name: "validation", x: run.evalStep, y: run.evalBPC))
            try Gnuplot.draw(LinePlot(title: "\(run.name): bits per character", xLabel: "step", yLabel: "bits per character", series: series),
                             to: try out("bpc_by_step"))
            if run.evalWall.count == run.evalBPC.count {
                var wallSeries: [PlotSeries] = []
                if run.trainWall.count == run.trainBPC.count, !run.trainBPC.isEmpty {
                    let (x, y) = run.thin(run.trainWall.map { $0 / 60 }, run.trainBPC)
                    wallSeries.append(PlotSeries(name: "train (next character)", x: x, y: y))
                }
                wallSeries.append(PlotSeries(name: "validation", x: run.evalWall.map { $0 / 60 }, y: run.evalBPC))
                try Gnuplot.draw(LinePlot(title: "\(run.name): bits per character", xLabel: "wall time (minutes)", yLabel: "bits per character",
                                          series: wallSeries), to: try out("bpc_by_wall_time"))
            }
        }
        return written
    }

    /// Compares the runs of one experiment directory (e.g. the auxiliary-loss ablation): validation and training
    /// bpc of every run against step and wall time, in `<dir>/figures/`. Returns the paths drawn.
    public static func drawComparison(metricsPaths: [String], into dir: String, format: String) throws -> [String] {
        let runs = try metricsPaths.map(RunSeries.init).filter { !$0.evalBPC.isEmpty }
        guard runs.count >= 2 else { return [] }
        let outDir = (dir as NSString).appendingPathComponent("figures")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let experiment = (dir as NSString).lastPathComponent
        var written: [String] = []
        let plots: [(String, String, String, (RunSeries) -> ([Double], [Double]))] = [
            ("valid_bpc_by_step", "step", "validation bpc", { ($0.evalStep, $0.evalBPC) }),
            ("valid_bpc_by_wall_time", "wall time (minutes)", "validation bpc", { ($0.evalWall.map { $0 / 60 }, $0.evalBPC) }),
            ("train_bpc_by_step", "step", "training bpc (next character, final layer)", { $0.thin($0.trainStep, $0.trainBPC) }),
            ("train_bpc_by_wall_time", "wall time (minutes)", "training bpc (next character, final layer)", { $0.thin($0.trainWall.map { $0 / 60 }, $0.trainBPC) }),
        ]
        for (name, xl, yl, pick) in plots {
            let series = runs.compactMap { r -> PlotSeries? in
                let (x, y) = pick(r)
                return x.count == y.count && !x.isEmpty ? PlotSeries(name: r.name, x: x, y: y) : nil
            }
            guard series.count >= 2 else { continue }
            let path = (outDir as NSString).appendingPathComponent("\(name).\(format)")
            try Gnuplot.draw(LinePlot(title: "\(experiment): \(yl)", xLabel: xl, yLabel: yl, series: series), to: path)
            written.append(path)
        }
        return written
    }

    /// A markdown table of every run's final validation bpc and every recorded evaluation (results_<split>),
    /// each labelled with its protocol; nil when no run has any.
    public static func resultsTable(metricsPaths: [String]) throws -> String? {
        var rows: [String] = []
        for path in metricsPaths {
            let f = try HDF5File.open(path)
            let name = ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent
            var config: LMTrainingConfig?
            if let json = try f.attribute("config")?.stringValue { config = try? LMTrainingConfig.fromJSON(json) }
            if f.kind(of: "eval/bpc") == .dataset, let bpc = try f.read("eval/bpc").doubles.last, let step = try f.read("eval/step").int64s.last {
                let symbols = f.kind(of: "eval/symbols") == .dataset ? Int(try f.read("eval/symbols").doubles.last ?? 0) : 0
                let label = AlRfouReport.protocolLabel(stride: config?.evalStride ?? 0, symbols: symbols)
                rows.append(String(format: "| %@ | %lld | valid (periodic) | %.4f | %@ |", name, step, bpc, label))
            }
            for split in ["train", "valid", "test"] where f.kind(of: "results_\(split)/bpc") == .dataset {
                let bpcs = try f.read("results_\(split)/bpc").doubles, steps = try f.read("results_\(split)/step").int64s
                let strides = try f.read("results_\(split)/stride").doubles, symbols = try f.read("results_\(split)/symbols").doubles
                for i in bpcs.indices {
                    rows.append(String(format: "| %@ | %lld | %@ | %.4f | %@ |", name, steps[i], split, bpcs[i],
                                       AlRfouReport.protocolLabel(stride: Int(strides[i]), symbols: Int(symbols[i]))))
                }
            }
        }
        guard !rows.isEmpty else { return nil }
        var s = "| model | params | text8 test bpc | enwik8 test bpc |\n|---|---|---|---|\n"
        for p in AlRfou2018.paperBPC { s += "| paper: \(p.model) | \(p.params) | \(p.text8) | \(p.enwik8) |\n" }
        s += "\n| ours: run | step | split | bpc | evaluation |\n|---|---|---|---|---|\n" + rows.joined(separator: "\n") + "\n"
        return s
    }
}
