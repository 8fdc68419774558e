// Figures every run has, whatever its task, drawn from its metrics file alone.
import Foundation

/// A run's metric series, read back from its metrics file.
public struct RunSeries {
    /// The run directory's name.
    public let name: String
    private let file: HDF5File

    public init(metricsPath: String) throws {
        file = try HDF5File.open(metricsPath)
        name = ((metricsPath as NSString).deletingLastPathComponent as NSString).lastPathComponent
    }

    /// The series `group/name` as Doubles (empty when absent).
    public func series(_ path: String) throws -> [Double] { file.kind(of: path) == .dataset ? try file.read(path).doubles : [] }

    public func attribute(_ name: String) throws -> AttributeValue? { try file.attribute(name) }

    /// Every `k`-th point (at most ~2000 points per line), so long runs draw quickly.
    public static func thin(_ x: [Double], _ y: [Double]) -> ([Double], [Double]) {
        let n = min(x.count, y.count)
        let k = max(1, n / 2000)
        let idx = Swift.stride(from: 0, to: n, by: k)
        return (idx.map { x[$0] }, idx.map { y[$0] })
    }
}

public enum RunFigures {
    /// `<run dir>/figures/<name>.<format>`, creating the folder.
    public static func path(metricsPath: String, _ name: String, format: String) throws -> String {
        let outDir = ((metricsPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("figures")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        return (outDir as NSString).appendingPathComponent("\(name).\(format)")
    }

    /// The training-loss curve of one run, in `<run dir>/figures/train_loss.<format>`; nothing when the run
    /// has no loss series.
    public static func drawTrainLoss(metricsPath: String, format: String) throws -> [String] {
        let run = try RunSeries(metricsPath: metricsPath)
        let step = try run.series("train/step"), loss = try run.series("train/loss")
        guard !step.isEmpty, !loss.isEmpty else { return [] }
        let (x, y) = RunSeries.thin(step, loss)
        let out = try path(metricsPath: metricsPath, "train_loss", format: format)
        try Gnuplot.draw(LinePlot(title: "\(run.name): training loss", xLabel: "step", yLabel: "loss (nats)",
                                  series: [PlotSeries(name: "train loss", x: x, y: y)]), to: out)
        return [out]
    }
}
