import ArgumentParser
import Foundation
import Runs

struct Figures: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Redraw every figure and table the runs under a directory describe, from their HDF5 files alone (no training), "
            + "and write <dir>/report.md with every paper's results, figures and runs.")

    @Argument(help: "A directory holding run directories (each with a metrics.h5).")
    var runsDir: String

    @Option(help: "Figure format: png, svg or pdf.")
    var format: String = "png"

    func validate() throws {
        guard ["png", "svg", "pdf"].contains(format) else { throw ValidationError("--format must be png, svg or pdf") }
    }

    func run() throws {
        let files = try RunFiles.metricsFiles(under: runsDir)
        let benchmarks = try papers.compactMap { paper in try paper.benchmarkReport(root: runsDir, format: format).map { (paper, $0) } }
        // `replicate bench growth`'s files (growth.h5), which belong to no paper.
        let growth = GrowthResults.report(root: runsDir, format: format)
        guard !files.isEmpty || !benchmarks.isEmpty || growth != nil else { throw StoreError("\(runsDir): no metrics.h5 files below it") }
        var byExperiment: [String: [String]] = [:]
        for path in files {
            // A run killed before its first write leaves a stub: skipped with one warning, the rest is drawn.
            do {
                let f = try HDF5File.open(path)
                byExperiment[try f.attribute("experiment")?.stringValue ?? "", default: []].append(path)
                try f.close()
            } catch {
                warn("skipping \(path): \(error)")
            }
        }
        var sections: [ReportWriter.Section] = []
        var drawn = 0
        for paper in papers {
            let bench = benchmarks.first { ObjectIdentifier($0.0) == ObjectIdentifier(paper) }?.1
            guard let runs = byExperiment.removeValue(forKey: paper.experiment) else {
                if let bench {
                    for f in bench.figures { print(f) }
                    drawn += bench.figures.count
                    sections.append(ReportWriter.Section(paper: paper, report: bench, metricsPaths: []))
                }
                continue
            }
            var report = try paper.report(metricsPaths: runs.sorted(), root: runsDir, format: format)
            if let bench {
                report.markdown += bench.markdown
                report.figures += bench.figures
            }
            for f in report.figures { print(f) }
            drawn += report.figures.count
            sections.append(ReportWriter.Section(paper: paper, report: report, metricsPaths: runs.sorted()))
        }
        // Runs of no registered paper: their training loss only.
        for path in byExperiment.values.joined().sorted() {
            do {
                for f in try RunFigures.drawTrainLoss(metricsPath: path, format: format) { print(f); drawn += 1 }
            } catch {
                warn("skipping \(path): \(error)")
            }
        }
        for f in growth?.figures ?? [] { print(f); drawn += 1 }
        if drawn == 0 { print("no figures: none of the \(files.count) runs holds a train/loss series") }
        if !sections.isEmpty { print(try ReportWriter.write(sections, root: runsDir)) }
    }
}
