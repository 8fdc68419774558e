import Engine
import NN
import Foundation

/// A failure of the plotting driver, as one line.
public struct PlotError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One named line of (x, y) points.
public struct PlotSeries {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// A colour index shared with other series (nil: the series' own) and a dashed line (e.g. the peer's).
    public var color: Int?
    public var dashed: Bool
    public init(name: String, x: [Double], y: [Double], color: Int? = nil, dashed: Bool = false) {
        precondition(x.count == y.count, "PlotSeries \(name): x and y differ in length")
        self.name = name
        self.x = x
        self.y = y
        self.color = color
        self.dashed = dashed
    }
}

/// A line plot of several series.
public struct LinePlot {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logX = false
    public var logY = false
    public var series: [PlotSeries]
    public init(title: String, xLabel: String, yLabel: String, logX: Bool = false, logY: Bool = false, series: [PlotSeries]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logX = logX
        self.logY = logY
        self.series = series
    }
}

/// Grouped bars: one cluster per category, one bar per series within it, with optional error bars.
public struct BarChart {
    public var title: String
    public var yLabel: String
    public var categories: [String]
    public var seriesNames: [String]
    /// values[s][c]: series s in category c.
    public var values: [[Double]]
    public var errors: [[Double]]?
    /// Per series: a colour index (series with one index share a colour) and a fill pattern (nil: solid; gnuplot's
    /// pattern numbers, e.g. 4 or 5 for hatching). nil: every series its own colour, solid.
    public var styles: [(color: Int, pattern: Int?)]?
    public init(title: String, yLabel: String, categories: [String], seriesNames: [String], values: [[Double]], errors: [[Double]]? = nil,
                styles: [(color: Int, pattern: Int?)]? = nil) {
        precondition(values.count == seriesNames.count && values.allSatisfy { $0.count == categories.count }, "BarChart: values do not match series x categories")
        precondition(styles == nil || styles!.count == seriesNames.count, "BarChart: one style per series")
        self.styles = styles
        self.title = title
        self.yLabel = yLabel
        self.categories = categories
        self.seriesNames = seriesNames
        self.values = values
        self.errors = errors
    }
}

/// gnuplot through a pipe: the script and its data go to gnuplot's standard input; its errors become PlotErrors.
public enum Gnuplot {
    /// The gnuplot executable, or nil when none is installed.
    public static var executable: String? { Subprocess.find("gnuplot") }

    /// The terminals this gnuplot can draw with.
    public static let terminals: Set<String> = {
        guard let out = try? runScript("set terminal") else { return [] }
        return Set(out.split(whereSeparator: \.isNewline).compactMap { $0.split(separator: " ").first.map(String.init) })
    }()

    /// The terminal line for an output path, chosen from its extension.
    static func terminal(for path: String) throws -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "png": return "pngcairo size 900,600 enhanced font 'Sans,10'"
        case "svg": return "svg size 900,600 enhanced font 'Sans,10' background rgb 'white'"
        case "pdf":
            guard terminals.contains("pdfcairo") else { throw PlotError("\(path): this gnuplot has no pdfcairo terminal; write .png or .svg") }
            return "pdfcairo size 6in,4in enhanced font 'Sans,9'"
        default: throw PlotError("\(path): unknown figure format; use .png, .svg or .pdf")
        }
    }

    public static func draw(_ plot: LinePlot, to path: String) throws {
        var s = "set title \(quote(plot.title))\n"
        s += "set xlabel \(quote(plot.xLabel))\nset ylabel \(quote(plot.yLabel))\nset grid\nset key below\n"
        if plot.logX { s += "set logscale x\n" }
        if plot.logY { s += "set logscale y\n" }
        var plots: [String] = []
        for (i, series) in plot.series.enumerated() where !series.x.isEmpty {
            s += "$d\(i) << EOD\n"
            for (x, y) in zip(series.x, series.y) { s += "\(number(x)) \(number(y))\n" }
            s += "EOD\n"
            let style = (series.color.map { " lc \($0 + 1)" } ?? "") + (series.dashed ? " dt 2" : "")
            plots.append("$d\(i) using 1:2 with lines lw 2\(style) title \(quote(series.name))")
        }
        guard !plots.isEmpty else { throw PlotError("\(path): nothing to plot (every series is empty)") }
        s += "plot " + plots.joined(separator: ", \\\n  ") + "\n"
        try render(s, to: path)
    }

    public static func draw(_ chart: BarChart, to path: String) throws {
        var s = "set title \(quote(chart.title))\n"
        s += "set ylabel \(quote(chart.yLabel))\nset grid ytics\nset key below\nset yrange [0:*]\n"
        s += "set style fill solid 0.6 border -1\n"
        s += chart.errors == nil ? "set style histogram clustered gap 1\n" : "set style histogram errorbars gap 1 lw 1\n"
        s += "set style data histograms\n$bars << EOD\n"
        for (c, category) in chart.categories.enumerated() {
            var row = [quote(category)]
            for sIdx in chart.seriesNames.indices {
                row.append(number(chart.values[sIdx][c]))
                if let e = chart.errors { row.append(number(e[sIdx][c])) }
            }
            s += row.joined(separator: " ") + "\n"
        }
        s += "EOD\n"
        let width = chart.errors == nil ? 1 : 2
        var plots: [String] = []
        for (i, name) in chart.seriesNames.enumerated() {
            let col = 2 + i * width
            let using = chart.errors == nil ? "\(col)" : "\(col):\(col + 1)"
            var style = ""
            if let st = chart.styles?[i] {
                style = " lc \(st.color + 1)" + (st.pattern.map { " fs pattern \($0) border" } ?? " fs solid 0.6 border -1")
            }
            plots.append("$bars using \(using)\(i == 0 ? ":xtic(1)" : "") title \(quote(name))" + style)
        }
        s += "plot " + plots.joined(separator: ", \\\n  ") + "\n"
        try render(s, to: path)
    }

    /// Runs a plotting script (everything after the terminal and output lines) into `path`: gnuplot writes a
    /// temporary file that is renamed on success, so a failure leaves nothing behind.
    static func render(_ body: String, to path: String) throws {
        let tmp = path + ".tmp-\(getpid())." + (path as NSString).pathExtension
        let script = "set terminal \(try terminal(for: path))\nset output \(quote(tmp))\nset encoding utf8\n" + body + "unset output\n"
        do {
            _ = try runScript(script)
        } catch {
            unlink(tmp)
            throw PlotError("\(path): \(error)")
        }
        guard rename(tmp, path) == 0 else { unlink(tmp); throw PlotError("\(path): cannot write the figure") }
    }

    /// Feeds a script to gnuplot; returns what it printed on stderr, throws on a non-zero exit.
    @discardableResult
    static func runScript(_ script: String) throws -> String {
        guard let exe = executable else {
            throw PlotError("gnuplot not found: install it with 'apt-get install gnuplot-nox'")
        }
        let r = try Subprocess.run(exe, [], input: Data(script.utf8))
        let errText = r.errorText
        if r.status != 0 {
            let lines = errText.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "^" }
            throw PlotError("gnuplot failed: " + (lines.last { $0.contains("error") || $0.contains("line") } ?? lines.last ?? "exit \(r.status)"))
        }
        return errText
    }

    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func number(_ x: Double) -> String { x.isFinite ? String(x) : "NaN" }
}
