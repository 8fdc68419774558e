import ArgumentParser
import Core
import Foundation

struct Figures: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Redraw every figure the runs under a directory describe, from their HDF5 files alone (no training).")

    @Argument(help: "A directory holding run directories (each with a metrics.h5).")
    var runsDir: String

    @Option(help: "Figure format: png, svg or pdf.")
    var format: String = "png"

    func validate() throws {
        guard ["png", "svg", "pdf"].contains(format) else { throw ValidationError("--format must be png, svg or pdf") }
    }

    func run() throws {
        let files = try RunFiles.metricsFiles(under: runsDir)
        guard !files.isEmpty else { throw StoreError("\(runsDir): no metrics.h5 files below it") }
        var drawn = 0
        for metricsPath in files {
            for figure in try RunFigures.draw(metricsPath: metricsPath, format: format) {
                print(figure)
                drawn += 1
            }
        }
        // Runs side by side, per experiment directory (the parent of the run directories).
        let byExperiment = Dictionary(grouping: files) { (($0 as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent }
        for (dir, runs) in byExperiment.sorted(by: { $0.key < $1.key }) {
            if try runs.contains(where: { try FastWeightsReport.RunRecord(metricsPath: $0) != nil }) {
                // Ba et al. 2016's grid: Table 1 and its figures.
                for file in try FastWeightsReport.write(runRoot: dir, format: format).files {
                    print(file)
                    drawn += 1
                }
                continue
            }
            for figure in try RunFigures.drawComparison(metricsPaths: runs.sorted(), into: dir, format: format) {
                print(figure)
                drawn += 1
            }
            if let table = try RunFigures.resultsTable(metricsPaths: runs.sorted()) {
                let path = (dir as NSString).appendingPathComponent("results.md")
                try Data(table.utf8).write(to: URL(fileURLWithPath: path))
                print(path)
            }
        }
        if drawn == 0 { print("no figures: none of the \(files.count) runs holds a train/loss series") }
    }
}
