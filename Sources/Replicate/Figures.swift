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
        if drawn == 0 { print("no figures: none of the \(files.count) runs holds a train/loss series") }
    }
}
