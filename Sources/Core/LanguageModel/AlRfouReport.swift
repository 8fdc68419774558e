import Foundation

/// The results table: the paper's numbers beside ours, each labelled.
public enum AlRfouReport {
    public static func protocolLabel(stride: Int, symbols: Int) -> String {
        stride == 1 ? "paper's protocol, \(symbols) symbols" : "stride \(stride) approximation (not the paper's protocol), \(symbols) symbols"
    }

    public static func table(corpus: String, preset: String, parameters: Int, steps: Int,
                             rows: [(split: String, bpc: Double, stride: Int, symbols: Int)], wallSeconds: Double?) -> String {
        var s = "| model | params | text8 test bpc | enwik8 test bpc |\n|---|---|---|---|\n"
        for p in AlRfou2018.paperBPC { s += "| paper: \(p.model) | \(p.params) | \(p.text8) | \(p.enwik8) |\n" }
        s += "\n| ours: preset | corpus | params | steps | split | bpc | evaluation |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += String(format: "| %@ | %@ | %.2fM | %d | %@ | %.4f | %@ |\n", preset, corpus, Double(parameters) / 1e6, steps, r.split, r.bpc,
                        protocolLabel(stride: r.stride, symbols: r.symbols))
        }
        if corpus != "text8" && corpus != "enwik8" {
            s += "\nOur corpus is \(corpus), not text8/enwik8: the numbers are not comparable with the paper's.\n"
        }
        if let w = wallSeconds { s += "Training wall time: \(formatDuration(w)).\n" }
        return s
    }
}
