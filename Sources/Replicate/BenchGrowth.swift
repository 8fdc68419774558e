import Engine
import NN
import Runs
import CharLM
import ArgumentParser
import Foundation

/// A model size of `replicate bench growth`: a softmax transformer LM with vocabulary 256, positions at the input.
struct GrowthSize: Equatable {
    var name: String
    var layers: Int
    var dModel: Int
    var heads: Int
    var dFF: Int

    /// The named sizes, smallest first: the `bench engine` cpu shape, a middle one, and its t12 shape (al-rfou2018's T12).
    static let named: [GrowthSize] = [
        GrowthSize(name: "cpu", BenchShape.named("cpu")!),
        GrowthSize(name: "6x384", layers: 6, dModel: 384, heads: 6, dFF: 1536),
        GrowthSize(name: "t12", BenchShape.named("t12")!),
    ]

    init(name: String, layers: Int, dModel: Int, heads: Int, dFF: Int) {
        (self.name, self.layers, self.dModel, self.heads, self.dFF) = (name, layers, dModel, heads, dFF)
    }

    /// A bench shape's model (its context and batch are the sweep's own).
    init(name: String, _ s: BenchShape) {
        self.init(name: name, layers: s.layers, dModel: s.dModel, heads: s.heads, dFF: s.dFF)
    }

    /// A named size, or LAYERSxWIDTH (heads = width / 64 rounded up, feed-forward 4 x width; for tests and quick looks).
    static func parse(_ text: String) throws -> GrowthSize {
        if let s = named.first(where: { $0.name == text }) { return s }
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let layers = Int(parts[0]), let width = Int(parts[1]) else {
            throw ValidationError("unknown size '\(text)' (\(named.map(\.name).joined(separator: ", ")))")
        }
        try checkRange("sizes", layers, OptionLimits.layers)
        try checkRange("sizes", width, 1...(OptionLimits.width.upperBound / 4))
        let heads = max(1, (width + 63) / 64)
        guard width % heads == 0 else { throw ValidationError("--sizes \(text): width \(width) is not a multiple of its \(heads) heads (width / 64, rounded up)") }
        return GrowthSize(name: text, layers: layers, dModel: width, heads: heads, dFF: 4 * width)
    }

    func config(context: Int) -> TransformerConfig {
        TransformerConfig(vocab: GrowthResults.vocab, layers: layers, dModel: dModel, heads: heads, dFF: dFF, context: context)
    }

    var shape: String { "\(layers) layers, width \(dModel), \(heads) heads, feed-forward \(dFF)" }
}

/// What `replicate bench growth` measured, for both engines: training tokens/s and peak resident memory of a
/// training step against context (one model size, tokens per step held fixed) and against model size (one
/// context). Stored in one HDF5 file (`growth.h5`) that `replicate figures` redraws from. NaN marks a measurement
/// that did not run.
struct GrowthResults {
    static let fileName = "growth.h5"
    static let experiment = "bench-growth"
    static let engines = ["replicate", "pytorch"]
    static let vocab = 256

    /// The size measured against context, and the contexts.
    var contextSize: GrowthSize
    var contexts: [Int]
    var tokensPerStep: Int
    /// The context the sizes are measured at, and the sizes.
    var sizeContext: Int
    var sizes: [GrowthSize]
    var steps: Int
    var warmup: Int
    /// Parameters of each point (the positions' table grows with the context).
    var contextParameters: [Int]
    var sizeParameters: [Int]
    /// [engine][point]: tokens/s, peak resident memory of the process (MB), and that minus the memory before the
    /// first step (MB).
    var contextTokensPerSecond: [[Double]]
    var contextPeakMB: [[Double]]
    var contextStepMB: [[Double]]
    var sizeTokensPerSecond: [[Double]]
    var sizePeakMB: [[Double]]
    var sizeStepMB: [[Double]]
    /// Machine, threads, BLAS, torch version, command, and which of the peer's numbers the peak memory is.
    var notes: [String: String]

    init(contextSize: GrowthSize, contexts: [Int], tokensPerStep: Int, sizeContext: Int, sizes: [GrowthSize], steps: Int, warmup: Int,
         notes: [String: String]) {
        self.contextSize = contextSize
        self.contexts = contexts
        self.tokensPerStep = tokensPerStep
        self.sizeContext = sizeContext
        self.sizes = sizes
        self.steps = steps
        self.warmup = warmup
        self.notes = notes
        contextParameters = contexts.map { contextSize.config(context: $0).parameterCount }
        sizeParameters = sizes.map { $0.config(context: sizeContext).parameterCount }
        let empty = { (n: Int) in Self.engines.map { _ in [Double](repeating: .nan, count: n) } }
        contextTokensPerSecond = empty(contexts.count)
        contextPeakMB = empty(contexts.count)
        contextStepMB = empty(contexts.count)
        sizeTokensPerSecond = empty(sizes.count)
        sizePeakMB = empty(sizes.count)
        sizeStepMB = empty(sizes.count)
    }

    /// Batch (sequences) at a context: the step's tokens held near `tokensPerStep`.
    func batch(at context: Int) -> Int { max(1, tokensPerStep / context) }

    static func ratio(_ a: Double, _ b: Double) -> Double { a.isFinite && b.isFinite && b > 0 ? a / b : .nan }

    func write(to path: String) throws {
        try HDF5File.writeAtomically(to: path, what: "benchmark results") { f in
            try f.setAttribute("experiment", .string(Self.experiment))
            try f.setAttribute("tokens_per_step", .int(Int64(tokensPerStep)))
            try f.setAttribute("size_context", .int(Int64(sizeContext)))
            try f.setAttribute("steps", .int(Int64(steps)))
            try f.setAttribute("warmup", .int(Int64(warmup)))
            try f.setAttribute("vocab", .int(Int64(Self.vocab)))
            try f.setAttribute("context_size", .string(contextSize.name))
            try f.setAttribute("size_names", .string(sizes.map(\.name).joined(separator: ",")))
            for (k, v) in notes.sorted(by: { $0.key < $1.key }) { try f.setAttribute(k, .string(v)) }
            func ints(_ v: [Int], _ name: String) throws { try f.write(NDArray(v.map(Int64.init)), to: name) }
            let c = contextSize
            try ints([c.layers, c.dModel, c.heads, c.dFF], "context_shape")
            try ints(contexts, "contexts")
            try ints(contexts.map(batch(at:)), "context_batch")
            try ints(contextParameters, "context_params")
            try ints(sizes.map(\.layers), "size_layers")
            try ints(sizes.map(\.dModel), "size_d_model")
            try ints(sizes.map(\.heads), "size_heads")
            try ints(sizes.map(\.dFF), "size_d_ff")
            try ints(sizes.map { _ in batch(at: sizeContext) }, "size_batch")
            try ints(sizeParameters, "size_params")
            for (e, engine) in Self.engines.enumerated() {
                try f.write(NDArray(contextTokensPerSecond[e]), to: "\(engine)_context_tokens_per_s")
                try f.write(NDArray(contextPeakMB[e]), to: "\(engine)_context_peak_mb")
                try f.write(NDArray(contextStepMB[e]), to: "\(engine)_context_step_mb")
                try f.write(NDArray(sizeTokensPerSecond[e]), to: "\(engine)_size_tokens_per_s")
                try f.write(NDArray(sizePeakMB[e]), to: "\(engine)_size_peak_mb")
                try f.write(NDArray(sizeStepMB[e]), to: "\(engine)_size_step_mb")
            }
            // Ours / PyTorch (NaN without the peer).
            for (name, values) in [("context_tokens_per_s", contextTokensPerSecond), ("context_peak_mb", contextPeakMB),
                                   ("size_tokens_per_s", sizeTokensPerSecond), ("size_peak_mb", sizePeakMB)] {
                try f.write(NDArray(zip(values[0], values[1]).map { Self.ratio($0, $1) }), to: "ratio_\(name)")
            }
        }
    }

    static func read(_ path: String) throws -> GrowthResults {
        let f = try HDF5File.open(path)
        defer { try? f.close() }
        guard try f.attribute("experiment")?.stringValue == experiment else { throw StoreError("\(path): not a growth benchmark") }
        func int(_ key: String) throws -> Int { Int(try f.attribute(key)?.intValue ?? 0) }
        func ints(_ name: String, _ n: Int? = nil) throws -> [Int] {
            let a = try f.read(name)
            guard a.shape.count == 1, n == nil || a.shape == [n!] else { throw StoreError("\(path): \(name) has shape \(a.shape)") }
            return a.doubles.map { Int($0) }
        }
        func doubles(_ name: String, _ n: Int) throws -> [Double] {
            let a = try f.read(name)
            guard a.shape == [n] else { throw StoreError("\(path): \(name) has shape \(a.shape), expected [\(n)]") }
            return a.doubles
        }
        var notes: [String: String] = [:]
        let structural: Set<String> = ["experiment", "tokens_per_step", "size_context", "steps", "warmup", "vocab", "context_size", "size_names"]
        for (k, v) in try f.attributes() where !structural.contains(k) { if let s = v.stringValue { notes[k] = s } }
        let shape = try ints("context_shape", 4)
        let contextSize = GrowthSize(name: try f.attribute("context_size")?.stringValue ?? "?", layers: shape[0], dModel: shape[1], heads: shape[2],
                                     dFF: shape[3])
        let names = (try f.attribute("size_names")?.stringValue ?? "").split(separator: ",").map(String.init)
        let n = names.count
        let layers = try ints("size_layers", n), widths = try ints("size_d_model", n), heads = try ints("size_heads", n), ff = try ints("size_d_ff", n)
        let sizes = names.indices.map { GrowthSize(name: names[$0], layers: layers[$0], dModel: widths[$0], heads: heads[$0], dFF: ff[$0]) }
        let contexts = try ints("contexts")
        var r = GrowthResults(contextSize: contextSize, contexts: contexts, tokensPerStep: try int("tokens_per_step"), sizeContext: try int("size_context"),
                              sizes: sizes, steps: try int("steps"), warmup: try int("warmup"), notes: notes)
        r.contextParameters = try ints("context_params", contexts.count)
        r.sizeParameters = try ints("size_params", n)
        for (e, engine) in engines.enumerated() {
            r.contextTokensPerSecond[e] = try doubles("\(engine)_context_tokens_per_s", contexts.count)
            r.contextPeakMB[e] = try doubles("\(engine)_context_peak_mb", contexts.count)
            r.contextStepMB[e] = try doubles("\(engine)_context_step_mb", contexts.count)
            r.sizeTokensPerSecond[e] = try doubles("\(engine)_size_tokens_per_s", n)
            r.sizePeakMB[e] = try doubles("\(engine)_size_peak_mb", n)
            r.sizeStepMB[e] = try doubles("\(engine)_size_step_mb", n)
        }
        return r
    }

    /// One Markdown table of every point, both engines and their ratios.
    var markdown: String {
        func f(_ x: Double, _ d: Int = 0) -> String { x.isFinite ? String(format: "%.\(d)f", x) : "-" }
        func r(_ a: Double, _ b: Double) -> String { f(Self.ratio(a, b), 2) }
        var s = "Growth of a training step's cost (softmax LM, vocabulary \(Self.vocab), Adam on random tokens, \(warmup) warm-up and \(steps) timed "
        s += "steps per point, each engine in a fresh process); \(notes["machine"] ?? ""), \(notes["threads"] ?? "?") threads; "
        s += "BLAS \(notes["blas"] ?? "?"); PyTorch \(notes["torch"] ?? "not run"). Against context: \(contextSize.name) (\(contextSize.shape)), "
        s += "about \(tokensPerStep) tokens per step (batch = \(tokensPerStep) / context). Against size: context \(sizeContext), "
        s += "batch \(batch(at: sizeContext)). Peak MB: the process's peak resident memory (its baseline included)"
        if let m = notes["pytorch_memory"], m != "peak_mb" { s += "; PyTorch's is its \(m)" }
        s += ". Command: `\(notes["command"] ?? "?")`\n\n"
        s += "| sweep | size | context | batch | params | replicate tok/s | pytorch tok/s | ratio | replicate peak MB | pytorch peak MB | ratio |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        for (c, ctx) in contexts.enumerated() {
            let t = contextTokensPerSecond, m = contextPeakMB
            s += "| context | \(contextSize.name) | \(ctx) | \(batch(at: ctx)) | \(contextParameters[c]) | \(f(t[0][c])) | \(f(t[1][c])) | \(r(t[0][c], t[1][c])) | "
            s += "\(f(m[0][c])) | \(f(m[1][c])) | \(r(m[0][c], m[1][c])) |\n"
        }
        for (i, size) in sizes.enumerated() {
            let t = sizeTokensPerSecond, m = sizePeakMB
            s += "| size | \(size.name) | \(sizeContext) | \(batch(at: sizeContext)) | \(sizeParameters[i]) | \(f(t[0][i])) | \(f(t[1][i])) | "
            s += "\(r(t[0][i], t[1][i])) | \(f(m[0][i])) | \(f(m[1][i])) | \(r(m[0][i], m[1][i])) |\n"
        }
        return s
    }

    /// One figure, four panels: tokens/s and peak MB against context (log x) and against parameters (log x); both
    /// engines (ours solid, PyTorch dashed). nil when nothing was measured.
    func drawFigure(into dir: String, format: String) throws -> String? {
        func lines(_ xs: [Int], _ values: [[Double]]) -> [PlotSeries] {
            Self.engines.indices.compactMap { e in
                let points = zip(xs, values[e]).filter { $0.1.isFinite && $0.1 > 0 }.sorted { $0.0 < $1.0 }
                guard !points.isEmpty else { return nil }
                return PlotSeries(name: Self.engines[e], x: points.map { Double($0.0) }, y: points.map(\.1), color: e, dashed: e == 1)
            }
        }
        let panels = [
            LinePlot(title: "Training tokens/s against context (\(contextSize.name), \(tokensPerStep) tokens per step)", xLabel: "context (log)",
                     yLabel: "tokens per second", logX: true, series: lines(contexts, contextTokensPerSecond)),
            LinePlot(title: "Peak resident memory against context", xLabel: "context (log)", yLabel: "MB", logX: true, series: lines(contexts, contextPeakMB)),
            LinePlot(title: "Training tokens/s against parameters (context \(sizeContext))", xLabel: "parameters (log)", yLabel: "tokens per second",
                     logX: true, series: lines(sizeParameters, sizeTokensPerSecond)),
            LinePlot(title: "Peak resident memory against parameters", xLabel: "parameters (log)", yLabel: "MB", logX: true,
                     series: lines(sizeParameters, sizePeakMB)),
        ]
        guard panels.contains(where: { !$0.series.isEmpty }) else { return nil }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = (dir as NSString).appendingPathComponent("growth.\(format)")
        let title = "Cost of a training step: \(notes["machine"] ?? "?"), \(notes["threads"] ?? "?") threads"
        try PanelFigure.draw(panels, title: title, to: path)
        return path
    }

    /// Writes `<dir>/growth.md` (the table) and `<dir>/figures/growth.<format>`; returns the files.
    func writeReport(into dir: String, format: String) throws -> [String] {
        let md = (dir as NSString).appendingPathComponent("growth.md")
        try Data(markdown.utf8).write(to: URL(fileURLWithPath: md))
        return [md] + (try drawFigure(into: (dir as NSString).appendingPathComponent("figures"), format: format).map { [$0] } ?? [])
    }

    /// Every growth file below `root` redrawn beside it (a file that cannot be read is skipped with a warning);
    /// nil when there is none.
    static func report(root: String, format: String) -> PaperReport? {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return nil }
        var report = PaperReport(markdown: "", figures: [])
        for case let rel as String in walker where (rel as NSString).lastPathComponent == fileName {
            let path = (root as NSString).appendingPathComponent(rel)
            do {
                let r = try read(path)
                report.markdown += r.markdown + "\n"
                report.figures += try r.writeReport(into: (path as NSString).deletingLastPathComponent, format: format)
            } catch {
                warn("skipping \(path): \(error)")
            }
        }
        return report.figures.isEmpty ? nil : report
    }
}

/// Several line plots as panels of one figure (gnuplot's multiplot), two to a row; written to a temporary file and
/// renamed, as Gnuplot.draw does.
enum PanelFigure {
    static func draw(_ panels: [LinePlot], title: String, to path: String) throws {
        guard let exe = Gnuplot.executable else { throw PlotError("gnuplot not found: install it with 'apt-get install gnuplot-nox'") }
        let rows = (panels.count + 1) / 2
        let terminal: String
        switch (path as NSString).pathExtension.lowercased() {
        case "png": terminal = "pngcairo size 1400,\(500 * rows) font 'Sans,10'"
        case "svg": terminal = "svg size 1400,\(500 * rows) font 'Sans,10' background rgb 'white'"
        case "pdf":
            guard Gnuplot.terminals.contains("pdfcairo") else { throw PlotError("\(path): this gnuplot has no pdfcairo terminal; write .png or .svg") }
            terminal = "pdfcairo size 11in,\(4 * rows)in font 'Sans,9'"
        default: throw PlotError("\(path): unknown figure format; use .png, .svg or .pdf")
        }
        func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        let tmp = path + ".tmp-\(getpid())." + (path as NSString).pathExtension
        var s = "set terminal \(terminal)\nset termoption noenhanced\nset output \(quote(tmp))\nset encoding utf8\n"
        for (p, panel) in panels.enumerated() {
            for (i, series) in panel.series.enumerated() {
                s += "$p\(p)s\(i) << EOD\n" + zip(series.x, series.y).map { "\($0) \($1)" }.joined(separator: "\n") + "\nEOD\n"
            }
        }
        s += "set multiplot layout \(rows),2 title \(quote(title))\nset grid\nset key below\n"
        for (p, panel) in panels.enumerated() {
            s += "set title \(quote(panel.title))\nset xlabel \(quote(panel.xLabel))\nset ylabel \(quote(panel.yLabel))\n"
            s += "unset logscale\nunset label\n"
            if panel.series.isEmpty {
                s += "set label 1 'not measured' at graph 0.5, 0.5 center\nplot [0:1] [0:1] NaN notitle\n"
                continue
            }
            if panel.logX { s += "set logscale x\n" }
            if panel.logY { s += "set logscale y\n" }
            s += "set yrange [0:*]\n"
            if panel.logY { s += "set yrange [*:*]\n" }
            let plots = panel.series.indices.map { i -> String in
                let series = panel.series[i]
                let style = (series.color.map { " lc \($0 + 1)" } ?? "") + (series.dashed ? " dt 2" : "")
                return "$p\(p)s\(i) using 1:2 with linespoints lw 2 pt 7 ps 0.8\(style) title \(quote(series.name))"
            }
            s += "plot " + plots.joined(separator: ", \\\n  ") + "\n"
        }
        s += "unset multiplot\nunset output\n"
        let r: Subprocess.Result
        do {
            r = try Subprocess.run(exe, [], input: Data(s.utf8))
        } catch {
            unlink(tmp)
            throw PlotError("\(path): \(error)")
        }
        guard r.status == 0 else {
            unlink(tmp)
            let lines = r.errorText.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "^" }
            throw PlotError("\(path): gnuplot failed: " + (lines.last { $0.contains("error") || $0.contains("line") } ?? lines.last ?? "exit \(r.status)"))
        }
        guard rename(tmp, path) == 0 else { unlink(tmp); throw PlotError("\(path): cannot write the figure") }
    }
}

/// `replicate bench growth`: how the cost of a training step grows with context and with model size, in our
/// engine and in the PyTorch twin, each point in a fresh process.
struct BenchGrowth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "growth",
        abstract: "Training tokens/s and peak memory of a step against context (fixed tokens per step) and against model size (fixed context), "
            + "in our engine and in a PyTorch twin (scripts/bench_peer.py) in the same run; prints the ratios and writes growth.h5 "
            + "(redrawn by `replicate figures`).")

    @Option(parsing: .upToNextOption, help: "Contexts of the sweep against context.") var contexts: [Int] = [256, 512, 1024, 2048, 4096]
    @Option(help: "Tokens per training step in the sweep against context (batch = this / context, at least 1); also sets the batch of the sweep against size.")
    var tokensPerStep = 4096
    @Option(help: "Model size of the sweep against context (cpu: the `bench engine` shape, 4 layers x 256).") var contextSize = "cpu"
    @Option(parsing: .upToNextOption, help: "Model sizes of the sweep against size: cpu (4 layers x 256), 6x384, t12 (12 x 512); comma- or space-separated.")
    var sizes: [String] = ["cpu", "6x384", "t12"]
    @Option(help: "Context of the sweep against size.") var sizeContext = 512
    @Option(help: "Timed training steps per point.") var steps = 3
    @Option(help: "Untimed warm-up steps per point.") var warmup = 1
    @Option(help: "Threads for both engines.") var threads = 2
    @Option(help: "Python with PyTorch 2.x for the peer (default: $REPLICATE_TORCH_PYTHON, else python3).") var python: String?
    @Flag(help: "Skip the PyTorch peer.") var noPeer = false
    @Option(help: "Directory for growth.h5, growth.md and the figure.") var out = "runs/bench/growth"

    func chosenSizes() throws -> [GrowthSize] {
        let names = sizes.flatMap { $0.split(separator: ",").map(String.init) }
        guard !names.isEmpty else { throw ValidationError("--sizes names no size") }
        return try names.map(GrowthSize.parse)
    }

    func chosenContextSize() throws -> GrowthSize {
        do { return try GrowthSize.parse(contextSize) } catch let e as ValidationError {
            throw ValidationError(e.message.replacingOccurrences(of: "--sizes", with: "--context-size"))
        }
    }

    func validate() throws {
        guard !contexts.isEmpty else { throw ValidationError("--contexts names no context") }
        for c in contexts { try checkRange("contexts", c, OptionLimits.context) }
        try checkRange("tokens-per-step", tokensPerStep, 1...(1 << 24))
        try checkRange("size-context", sizeContext, OptionLimits.context)
        try checkRange("steps", steps, OptionLimits.steps)
        try checkRange("warmup", warmup, 0...1000)
        try checkRange("threads", threads, OptionLimits.threads)
        let base = try chosenContextSize(), chosen = try chosenSizes()
        let plan = GrowthResults(contextSize: base, contexts: contexts, tokensPerStep: tokensPerStep, sizeContext: sizeContext, sizes: chosen,
                                 steps: steps, warmup: warmup, notes: [:])
        for ctx in contexts {
            let b = plan.batch(at: ctx)
            try checkFitsInMemory(base.config(context: ctx).trainingBytes(batch: b), "\(base.name) at context \(ctx), batch \(b)")
        }
        for size in chosen {
            let b = plan.batch(at: sizeContext)
            try checkFitsInMemory(size.config(context: sizeContext).trainingBytes(batch: b), "\(size.name) at context \(sizeContext), batch \(b)")
        }
    }

    /// One point's numbers from one engine.
    struct Point { var tokensPerSecond = Double.nan, peakMB = Double.nan, stepMB = Double.nan }

    func run() throws {
        try BLAS.ensureLoaded()
        let base = try chosenContextSize(), chosen = try chosenSizes()
        var notes = ["machine": "\(Machine.cpuModel), \(Machine.coreCount) cores", "threads": String(threads), "blas": BLAS.summary,
                     "command": (["replicate"] + CommandLine.arguments.dropFirst()).joined(separator: " ")]
        print("machine: \(notes["machine"]!); threads \(threads); BLAS \(notes["blas"]!)")
        print("against context: \(base.name) (\(base.shape)), \(tokensPerStep) tokens per step; against size: context \(sizeContext)")
        var results = GrowthResults(contextSize: base, contexts: contexts, tokensPerStep: tokensPerStep, sizeContext: sizeContext, sizes: chosen,
                                    steps: steps, warmup: warmup, notes: notes)
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var peerAvailable = !noPeer
        var peerMemory: String?
        // The same shape, context and batch are measured once (the cpu size at the size context is often a point
        // of the context sweep too).
        var measured: [String: [Point]] = [:]

        func measure(_ size: GrowthSize, context: Int, batch: Int) -> [Point] {
            let common = ["--layers", String(size.layers), "--d-model", String(size.dModel), "--heads", String(size.heads), "--d-ff", String(size.dFF),
                          "--vocab", String(GrowthResults.vocab), "--context", String(context), "--batch", String(batch), "--steps", String(steps),
                          "--warmup", String(warmup), "--threads", String(threads)]
            let key = common.joined(separator: " ")
            if let known = measured[key] { return known }
            var points = [Point(), Point()]
            var line = "\(size.name) context \(context) batch \(batch): "
            if let ours = jsonLine(try? capture(exe, ["bench", "step-memory", "--json", "--attention", "softmax"] + common)) {
                points[0] = Point(tokensPerSecond: ours["tokens_per_s"] as? Double ?? .nan, peakMB: ours["peak_mb"] as? Double ?? .nan,
                                  stepMB: ours["step_mb"] as? Double ?? .nan)
                line += String(format: "replicate %.0f tok/s, peak %.0f MB", points[0].tokensPerSecond, points[0].peakMB)
            } else {
                line += "replicate: measurement failed"
            }
            if peerAvailable {
                if let peer = runPython(script: "bench_peer.py", ["--mode", "train", "--attention", "softmax"] + common, python: python) {
                    let step = peer["step_mb"] as? Double ?? .nan
                    let peak = peer["peak_mb"] as? Double
                    peerMemory = peerMemory ?? (peak != nil ? "peak_mb" : "step_mb")
                    points[1] = Point(tokensPerSecond: peer["tokens_per_s"] as? Double ?? .nan, peakMB: peak ?? step, stepMB: step)
                    notes["torch"] = peer["torch"] as? String
                    line += String(format: "; pytorch %.0f tok/s, peak %.0f MB; ratio %.2f (tok/s), %.2f (MB)", points[1].tokensPerSecond, points[1].peakMB,
                                   GrowthResults.ratio(points[0].tokensPerSecond, points[1].tokensPerSecond),
                                   GrowthResults.ratio(points[0].peakMB, points[1].peakMB))
                } else {
                    peerAvailable = false
                    print(peerMissing)
                }
            }
            print(line)
            measured[key] = points
            return points
        }

        for (c, ctx) in contexts.enumerated() {
            let p = measure(base, context: ctx, batch: results.batch(at: ctx))
            for e in 0..<2 {
                results.contextTokensPerSecond[e][c] = p[e].tokensPerSecond
                results.contextPeakMB[e][c] = p[e].peakMB
                results.contextStepMB[e][c] = p[e].stepMB
            }
        }
        for (i, size) in chosen.enumerated() {
            let p = measure(size, context: sizeContext, batch: results.batch(at: sizeContext))
            for e in 0..<2 {
                results.sizeTokensPerSecond[e][i] = p[e].tokensPerSecond
                results.sizePeakMB[e][i] = p[e].peakMB
                results.sizeStepMB[e][i] = p[e].stepMB
            }
        }
        if let peerMemory { notes["pytorch_memory"] = peerMemory }
        results.notes = notes
        try RunFiles.makeDirectory(out)
        let path = (out as NSString).appendingPathComponent(GrowthResults.fileName)
        try results.write(to: path)
        print(results.markdown)
        do {
            for f in try results.writeReport(into: out, format: "png") { print(f) }
        } catch {
            warn("figure not drawn (`replicate figures` redraws it from \(path)): \(error)")
        }
        print(path)
    }
}
