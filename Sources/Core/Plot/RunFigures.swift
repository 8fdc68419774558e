import Foundation

/// The figures a single run's metrics file describes.
public enum RunFigures {
    /// Draws every figure for one run into `<run dir>/figures/` and returns their paths.
    public static func draw(metricsPath: String, format: String) throws -> [String] {
        let file = try HDF5File.open(metricsPath)
        let runDir = (metricsPath as NSString).deletingLastPathComponent
        let outDir = (runDir as NSString).appendingPathComponent("figures")
        var written: [String] = []
        if file.kind(of: "train/loss") == .dataset, file.kind(of: "train/step") == .dataset {
            let steps = try file.read("train/step").doubles
            let loss = try file.read("train/loss").doubles
            let n = min(steps.count, loss.count)
            if n > 0 {
                try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
                let path = (outDir as NSString).appendingPathComponent("train_loss.\(format)")
                let name = (runDir as NSString).lastPathComponent
                try Gnuplot.draw(
                    LinePlot(title: "\(name): training loss", xLabel: "step", yLabel: "loss (nats)",
                             series: [PlotSeries(name: "train loss", x: Array(steps[..<n]), y: Array(loss[..<n]))]),
                    to: path)
                written.append(path)
            }
        }
        return written
    }
}
