// The protocol a paper implements to plug into the suite: its command, presets, published numbers and report.
import ArgumentParser
import Foundation

/// Where a published number comes from.
public enum NumberStatus: String, Sendable {
    /// Read in the paper's own text.
    case confirmed = "confirmed from the paper's text"
    /// Quoted from memory or secondary sources; not checked against the paper's text here.
    case recalled = "recalled, not checked against the paper's text"
}

/// One number the paper reports, labelled with its source.
public struct PublishedNumber: Sendable {
    /// What was measured, e.g. "T12 test bpc, text8".
    public let what: String
    public let value: Double
    public let unit: String
    public let status: NumberStatus
    public init(_ what: String, _ value: Double, unit: String, status: NumberStatus) {
        self.what = what
        self.value = value
        self.unit = unit
        self.status = status
    }
}

/// A paper's report on the runs found under a directory: a Markdown results table (the paper's numbers beside
/// ours, each labelled) and the figures drawn, all from the run files alone.
public struct PaperReport {
    public var markdown: String
    public var figures: [String]
    public init(markdown: String, figures: [String]) {
        self.markdown = markdown
        self.figures = figures
    }
}

extension PaperReport {
    /// The usual shape of a paper's report: `perRun` draws each run's own figures; then, per experiment directory
    /// (the parent of the run directories), `perDirectory` writes its table and figures from those runs' files.
    public static func collect(metricsPaths: [String], perRun: (String) throws -> [String],
                               perDirectory: (_ dir: String, _ runs: [String]) throws -> (table: String, files: [String])) throws -> PaperReport {
        var figures: [String] = []
        var readable: [String] = []
        for path in metricsPaths {
            do {
                figures += try perRun(path)
                readable.append(path)
            } catch {
                warn("skipping \(path): \(error)")
            }
        }
        var markdown = ""
        let byDirectory = Dictionary(grouping: readable) { (($0 as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent }
        for (dir, runs) in byDirectory.sorted(by: { $0.key < $1.key }) {
            let written = try perDirectory(dir, runs.sorted())
            figures += written.files
            if !written.table.isEmpty { markdown += written.table + "\n" }
        }
        return PaperReport(markdown: markdown, figures: figures)
    }
}

/// A paper of the suite. Registering its type in the CLI's list adds its command, and `replicate figures`
/// then redraws its runs; nothing outside the paper's own folder names it.
public protocol Paper {
    /// The subcommand, e.g. "al-rfou2018".
    static var name: String { get }
    /// The `experiment` attribute of its run files (by default the name).
    static var experiment: String { get }
    /// Authors, year and title.
    static var title: String { get }
    /// Preset names, smallest first; `smoke` (seconds) and `cpu` (minutes) come first in every paper.
    static var presets: [String] { get }
    /// The paper's own numbers, each with its status.
    static var publishedNumbers: [PublishedNumber] { get }
    /// The command line of the paper (`replicate <name> ...`).
    static var command: any ParsableCommand.Type { get }
    /// Redraws every figure and table of this paper's runs (`metricsPaths`, all below `root`).
    static func report(metricsPaths: [String], root: String, format: String) throws -> PaperReport
    /// Tables and figures of the paper's benchmark files below `root` (files that are not runs); nil when there
    /// are none.
    static func benchmarkReport(root: String, format: String) throws -> PaperReport?
}

extension Paper {
    public static var experiment: String { name }
    public static func benchmarkReport(root: String, format: String) throws -> PaperReport? { nil }

    /// The paper's numbers as a Markdown table with their status.
    public static var publishedTable: String {
        var s = "| paper: \(title) | value | source |\n|---|---|---|\n"
        for n in publishedNumbers { s += "| \(n.what) | \(formatNumber(n.value)) \(n.unit) | \(n.status.rawValue) |\n" }
        return s
    }
}

func formatNumber(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(format: "%g", x)
}

/// One warning line on standard error (the run or file it names is skipped; the rest goes on).
public func warn(_ message: String) {
    let line = message.replacingOccurrences(of: "\n", with: "\\n")
    FileHandle.standardError.write(Data("warning: \(line)\n".utf8))
}
