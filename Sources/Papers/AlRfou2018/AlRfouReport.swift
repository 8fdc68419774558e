import ArgumentParser
import CharLM
import Foundation
import Runs

/// Al-Rfou et al. 2018 as a paper of the suite: its command, presets, published numbers and report.
public enum AlRfou2018Paper: Paper {
    public static let name = "al-rfou2018"
    public static let title = "Al-Rfou et al. 2018, Character-Level Language Modeling with Deeper Self-Attention"
    public static var presets: [String] { AlRfou2018.presetNames }
    public static var publishedNumbers: [PublishedNumber] {
        AlRfou2018.paperBPC.flatMap { p in
            [PublishedNumber("\(p.model) (\(p.params)) test, text8", p.text8, unit: "bpc", status: .recalled),
             PublishedNumber("\(p.model) (\(p.params)) test, enwik8", p.enwik8, unit: "bpc", status: .recalled)]
        }
    }
    public static var command: any ParsableCommand.Type { AlRfouCommand.self }

    /// Per run: training loss and bits-per-character figures. Per experiment directory (the parent of the
    /// run directories): comparison figures when it holds several runs, and `results.md`.
    public static func report(metricsPaths: [String], root: String, format: String) throws -> PaperReport {
        try .collect(metricsPaths: metricsPaths, perRun: { try LMFigures.draw(metricsPath: $0, format: format) }) { dir, runs in
            let figures = try LMFigures.drawComparison(metricsPaths: runs, into: dir, format: format)
            let rows = try LMFigures.resultRows(metricsPaths: runs)
            guard !rows.isEmpty else { return ("", figures) }
            let table = AlRfouReport.paperTable + "\n| ours: run | step | split | bpc | evaluation |\n|---|---|---|---|---|\n"
                + rows.joined(separator: "\n") + "\n"
            let path = (dir as NSString).appendingPathComponent("results.md")
            try Data(table.utf8).write(to: URL(fileURLWithPath: path))
            return (table, figures + [path])
        }
    }
}

/// The results table: the paper's numbers beside ours, each labelled.
public enum AlRfouReport {
    static var paperTable: String {
        var s = "| paper (recalled) | params | text8 test bpc | enwik8 test bpc |\n|---|---|---|---|\n"
        for p in AlRfou2018.paperBPC { s += "| paper: \(p.model) | \(p.params) | \(p.text8) | \(p.enwik8) |\n" }
        return s
    }

    public static func table(corpus: String, preset: String, parameters: Int, steps: Int,
                             rows: [(split: String, bpc: Double, stride: Int, symbols: Int)], wallSeconds: Double?) -> String {
        var s = paperTable
        s += "\n| ours: preset | corpus | params | steps | split | bpc | evaluation |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += String(format: "| %@ | %@ | %.2fM | %d | %@ | %.4f | %@ |\n", preset, corpus, Double(parameters) / 1e6, steps, r.split, r.bpc,
                        evaluationProtocolLabel(stride: r.stride, symbols: r.symbols))
        }
        if corpus != "text8" && corpus != "enwik8" {
            s += "\nOur corpus is \(corpus), not text8/enwik8: the numbers are not comparable with the paper's.\n"
        }
        if let w = wallSeconds { s += "Training wall time: \(formatDuration(w)).\n" }
        return s
    }
}
