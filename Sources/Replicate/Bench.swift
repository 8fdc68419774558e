import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import PaperLinearAttention
import ArgumentParser
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that measure our code and its peer in the same run and print the ratio.",
        subcommands: [BenchEngine.self, BenchBLAS.self, BenchLinearAttention.self, BenchGrowth.self, BenchMPI.self, BenchStepMemory.self])
}

struct BenchEngine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Train one LM shape with our engine and with PyTorch (same model, Adam, threads), both kept alive and timed in interleaved rounds; print tokens/s, "
            + "the ratio against PyTorch eager and torch.compile, model FLOP rate against the sgemm rate, thread scaling and peak memory per step.")

    @Option(help: "Model shape: \(BenchShape.names) (the options below override its parts).") var shape = "cpu"
    @Option(help: "Layers.") var layers: Int?
    @Option(help: "Model width.") var dModel: Int?
    @Option(help: "Attention heads.") var heads: Int?
    @Option(help: "Feed-forward width.") var dFF: Int?
    @Option(help: "Context length.") var context: Int?
    @Option(help: "Batch size (sequences).") var batch: Int?
    @Option(help: "Vocabulary size.") var vocab = 256
    @Option(help: "Timed steps of each engine per round.") var steps = 3
    @Option(help: "Untimed warm-up steps of each engine before the first round.") var warmup = 2
    @Option(help: "Interleaved rounds of both engines (the median of the rounds' ratios is the headline).") var rounds = 7
    @Option(help: "Threads for both engines.") var threads = 2
    @Option(help: "Python with PyTorch 2.x for the peer (default: $REPLICATE_TORCH_PYTHON, else python3).")
    var python: String?
    @Flag(help: "Skip the PyTorch peer.") var noPeer = false
    @Flag(help: "Skip the torch.compile run of the peer.") var noCompile = false
    @Flag(help: "Skip the thread-scaling rounds (each engine at 1 thread against --threads, in the same sessions).") var noScaling = false
    @Option(help: "Interleaved thread-scaling rounds after the main rounds.") var scalingRounds = 3
    @Option(help: "Also time our engine with one lever off, in the same rounds, and print the ratio with / without it: \(BenchEngine.levers.joined(separator: ", ")) (attention's scores recomputed in backward instead of kept).")
    var without: String?
    static let levers = ["keep-scores"]
    @Option(parsing: .upToNextOption, help: "Extra contexts for our peak memory of one training step at batch 1.")
    var memoryContexts: [Int] = []

    var resolved: BenchShape? {
        guard var s = BenchShape.named(shape) else { return nil }
        s.layers = layers ?? s.layers
        s.dModel = dModel ?? s.dModel
        s.heads = heads ?? s.heads
        s.dFF = dFF ?? s.dFF
        s.context = context ?? s.context
        s.batch = batch ?? s.batch
        return s
    }

    func validate() throws {
        guard let s = resolved else { throw ValidationError("--shape must be one of \(BenchShape.names)") }
        try checkBenchmarkShape(layers: s.layers, dModel: s.dModel, heads: s.heads, dFF: s.dFF, vocab: vocab, threads: threads, steps: steps, warmup: warmup)
        try checkRange("context", s.context, OptionLimits.context)
        try checkRange("batch", s.batch, OptionLimits.batch)
        try checkRange("rounds", rounds, 1...100)
        try checkRange("scaling-rounds", scalingRounds, 1...100)
        if let w = without, !BenchEngine.levers.contains(w) { throw ValidationError("--without must be one of \(BenchEngine.levers.joined(separator: ", ")) (got '\(w)')") }
        for c in memoryContexts { try checkRange("memory-contexts", c, OptionLimits.context) }
        for (ctx, b) in [(s.context, s.batch)] + memoryContexts.map({ ($0, 1) }) {
            var m = s
            m.context = ctx
            try checkFitsInMemory(m.config(vocab: vocab).trainingBytes(batch: b), "context \(ctx), batch \(b)")
        }
    }

    func run() throws {
        try BLAS.ensureLoaded()
        Engine.setThreads(threads)
        let s = resolved!
        let config = s.config(vocab: vocab)
        print("machine: \(Machine.cpuModel), \(Machine.coreCount) cores; threads \(threads)")
        print("BLAS: \(BLAS.summary)")
        print("shape \(shape): \(s.description), vocabulary \(vocab); \(rounds) interleaved rounds of \(steps) timed steps per engine after \(warmup) warm-up")
        let gflops = EngineBenchmark.sgemmGFLOPs()
        print(String(format: "sgemm 1024^3 (%@, %d threads): %.1f GFLOP/s", BLAS.vendor, threads, gflops))
        let flopsPerToken = 3 * config.forwardFLOPsPerToken
        func rate(_ tps: Double) -> String {
            String(format: "model %.1f GFLOP/s = %.0f%% of sgemm", flopsPerToken * tps / 1e9, 100 * flopsPerToken * tps / 1e9 / gflops)
        }

        // Both engines stay alive and take turns: each round times `steps` steps of each, back to back (the first
        // engine alternates between rounds), so a round's two measurements are seconds apart and the host's drift
        // hits both alike.
        let session = EngineBenchmark.TrainingSession(config, batch: s.batch)
        session.run(warmup)
        let parameters = session.parameters
        var peer: PeerSession? = noPeer ? nil : PeerSession(python: python, peerArguments(s, threads: threads))
        if !noPeer && peer == nil { print(peerMissing) }
        let tokens = Double(steps * session.tokensPerStep)
        var ours: [Double] = [], eager: [Double] = [], withoutLever: [Double] = []
        enum Turn { case ours, peer, withoutLever }
        let turns: [Turn] = [.ours, .peer] + (without == nil ? [] : [.withoutLever])
        /// Seconds of `steps` of the peer's steps (on `threads` threads when given); nil, with the peer reaped and
        /// dropped for the rest of the run, when it stopped.
        func peerSeconds(threads: Int? = nil) -> Double? {
            guard let p = peer else { return nil }
            if let seconds = p.timedSteps(steps, threads: threads) { return seconds }
            print("pytorch: the peer stopped: \(p.lastError ?? "no message")")
            _ = p.finish()  // reaps the process (stopping it if it still runs)
            peer = nil
            return nil
        }
        for r in 1...rounds {
            var o = 0.0, e: Double?, w: Double?
            for turn in (r % 2 == 1 ? turns : turns.reversed()) {
                usleep(50_000)  // the other engine's threads settle (a finished OpenMP region spins for a while)
                switch turn {
                case .ours:
                    o = tokens / session.timed(steps)
                case .withoutLever:
                    Engine.attentionScoresKept = false
                    w = tokens / session.timed(steps)
                    Engine.attentionScoresKept = nil
                case .peer:
                    e = peerSeconds().map { tokens / $0 }
                }
            }
            ours.append(o)
            var line = String(format: "round %d: replicate %.0f tokens/s", r, o)
            if let e {
                eager.append(e)
                line += String(format: ", pytorch eager %.0f tokens/s, ratio %.2f", e, o / e)
            }
            if let w, let lever = without {
                withoutLever.append(w)
                line += String(format: "; replicate without %@ %.0f tokens/s, ratio %.2f", lever, w, o / w)
            }
            print(line)
        }
        if let lever = without {
            let perRound = zip(ours, withoutLever).map { $0 / $1 }
            print(String(format: "ratio (replicate / replicate without %@): %.3f (median of %d rounds' ratios: %@)", lever, median(perRound), rounds,
                         perRound.map { String(format: "%.3f", $0) }.joined(separator: ", ")))
        }
        // Thread scaling, in the same sessions: each round times `steps` steps of each engine at 1 thread and at
        // --threads, back to back (the engines' order alternating), so that both figures of a ratio are seconds apart.
        var scaling: (ours: [(one: Double, all: Double)], peer: [(one: Double, all: Double)])?
        if !noScaling && threads > 1 {
            var ourRounds: [(one: Double, all: Double)] = [], peerRounds: [(one: Double, all: Double)] = []
            func ourSlice(_ n: Int) -> Double {
                Engine.setThreads(n)
                defer { Engine.setThreads(threads) }
                return tokens / session.timed(steps)
            }
            for r in 1...scalingRounds {
                for turn in (r % 2 == 1 ? [Turn.ours, .peer] : [.peer, .ours]) {
                    usleep(50_000)
                    if turn == .ours {
                        let one = ourSlice(1)
                        usleep(50_000)
                        ourRounds.append((one, ourSlice(threads)))
                    } else if let one = peerSeconds(threads: 1), let all = peerSeconds(threads: threads) {
                        peerRounds.append((tokens / one, tokens / all))
                    }
                }
            }
            scaling = (ourRounds, peerRounds)
        }
        let peerResult = peer?.finish()
        let peerAvailable = peerResult != nil && eager.count == rounds
        let torchVersion = peerResult?["torch"] as? String ?? "?"
        let mOurs = median(ours)
        print(String(format: "replicate: %d params, %.0f tokens/s (%.3f s/step), %@", parameters, mOurs,
                     Double(s.batch * s.context) / mOurs, rate(mOurs)))
        if peerAvailable, !eager.isEmpty {
            let mEager = median(eager)
            print(String(format: "pytorch %@ eager: %.0f tokens/s (%.3f s/step), %@", torchVersion, mEager, Double(s.batch * s.context) / mEager, rate(mEager)))
            // The headline is the median of the rounds' ratios (robust to the host's drift); the ratio of the two
            // medians is printed beside it.
            let perRound = zip(ours, eager).map { $0 / $1 }
            print(String(format: "ratio (replicate / pytorch eager): %.2f (median of %d rounds' ratios: %@; ratio of the medians %.2f)",
                         median(perRound), rounds, perRound.map { String(format: "%.2f", $0) }.joined(separator: ", "), mOurs / mEager))
            if !noCompile {
                if let p = runPeer(s, threads: threads, warmup: max(warmup, 3), extra: ["--compile"]), let tps = p["tokens_per_s"] as? Double {
                    print(String(format: "pytorch torch.compile: %.0f tokens/s (compiled in %.0f s), %@", tps, p["compile_s"] as? Double ?? .nan, rate(tps)))
                    print(String(format: "ratio (replicate / pytorch torch.compile): %.2f", mOurs / tps))
                } else {
                    print("pytorch torch.compile: not available (the peer exited with an error; run scripts/bench_peer.py --compile to see it)")
                }
            }
        }
        if let scaling {
            func summary(_ rounds: [(one: Double, all: Double)]) -> String {
                String(format: "%.0f -> %.0f tokens/s (%.2fx; rounds %@)", median(rounds.map(\.one)), median(rounds.map(\.all)),
                       median(rounds.map { $0.all / $0.one }), rounds.map { String(format: "%.2f", $0.all / $0.one) }.joined(separator: ", "))
            }
            var line = "threads 1 -> \(threads), \(scalingRounds) interleaved rounds (median of the rounds' speed-ups): replicate " + summary(scaling.ours)
            if scaling.peer.count == scalingRounds { line += "; pytorch eager " + summary(scaling.peer) }
            print(line)
        }
        // Peak memory of training steps at this shape, each engine in a fresh process.
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let common = ["--layers", String(s.layers), "--d-model", String(s.dModel), "--heads", String(s.heads), "--d-ff", String(s.dFF),
                      "--vocab", String(vocab), "--threads", String(threads)]
        if let m = jsonLine(try? capture(exe, ["bench", "step-memory", "--json", "--context", String(s.context), "--batch", String(s.batch),
                                               "--steps", "2"] + common)) {
            var line = String(format: "peak resident memory of training steps: replicate %.0f MB (%.0f MB above the process before its first step)",
                              m["peak_mb"] as? Double ?? .nan, m["step_mb"] as? Double ?? .nan)
            if peerAvailable, !eager.isEmpty, let p = runPeer(s, threads: threads, steps: 2, warmup: 0) {
                line += String(format: "; pytorch %.0f MB (%.0f MB above)", p["peak_mb"] as? Double ?? .nan, p["step_mb"] as? Double ?? .nan)
            }
            print(line)
        }
        for ctx in memoryContexts {
            if let m = jsonLine(try? capture(exe, ["bench", "step-memory", "--json", "--context", String(ctx)] + common)) {
                print(String(format: "replicate peak resident memory, one training step, batch 1, context %d: %.0f MB", ctx, m["peak_mb"] as? Double ?? .nan))
            }
        }
    }

    private func peerArguments(_ s: BenchShape, threads: Int, steps: Int? = nil, warmup: Int? = nil) -> [String] {
        ["--mode", "train", "--attention", "softmax", "--layers", String(s.layers), "--d-model", String(s.dModel), "--heads", String(s.heads),
         "--d-ff", String(s.dFF), "--context", String(s.context), "--batch", String(s.batch), "--vocab", String(vocab),
         "--steps", String(steps ?? self.steps), "--warmup", String(warmup ?? self.warmup), "--threads", String(threads)]
    }

    private func runPeer(_ s: BenchShape, threads: Int, steps: Int? = nil, warmup: Int? = nil, extra: [String] = []) -> [String: Any]? {
        runPython(script: "bench_peer.py", peerArguments(s, threads: threads, steps: steps, warmup: warmup) + extra, python: python)
    }
}

/// The checks of a benchmark model's shape and step counts: each in its range, the width a multiple of the heads.
func checkBenchmarkShape(layers: Int, dModel: Int, heads: Int, dFF: Int, vocab: Int, threads: Int, steps: Int, warmup: Int) throws {
    try checkRange("layers", layers, OptionLimits.layers)
    for (name, v) in [("d-model", dModel), ("heads", heads), ("d-ff", dFF), ("vocab", vocab)] { try checkRange(name, v, OptionLimits.width) }
    guard dModel % heads == 0 else { throw ValidationError("--d-model must be a multiple of --heads") }
    try checkRange("threads", threads, OptionLimits.threads)
    try checkRange("steps", steps, OptionLimits.steps)
    try checkRange("warmup", warmup, 0...1000)
}

let peerMissing = "pytorch: peer not available. Install PyTorch 2.x: python3 -m venv ~/torch && ~/torch/bin/pip install torch; then pass --python ~/torch/bin/python"

/// Runs scripts/`script` with `python` (else $REPLICATE_TORCH_PYTHON, else python3) and returns the last JSON line
/// it printed; nil when the script is missing, fails or prints none.
func runPython(script: String, _ args: [String], python: String?) -> [String: Any]? {
    guard let command = pythonCommand(script: script, python: python) else { return nil }
    return jsonLine(try? capture(command.executable, command.arguments + args))
}

/// The executable and leading arguments that run scripts/`script` of this checkout with `python` (else
/// $REPLICATE_TORCH_PYTHON, else python3 from PATH); nil when the script is missing.
func pythonCommand(script: String, python: String?) -> (executable: String, arguments: [String])? {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/" + script).path
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    let py = python ?? ProcessInfo.processInfo.environment["REPLICATE_TORCH_PYTHON"] ?? "/usr/bin/env"
    return (py, (py == "/usr/bin/env" ? ["python3"] : []) + [path])
}

/// Training steps of one model in a fresh process: prints the peak resident set in MB, or with `--json` the
/// tokens/s, the steps' memory (peak RSS minus RSS before the first step) and the parameter count.
struct BenchStepMemory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "step-memory", abstract: "Peak RSS of training steps (used by the benchmarks).", shouldDisplay: false)
    @Option var context = 256
    @Option var layers = 4
    @Option var dModel = 256
    @Option var heads = 4
    @Option var dFF = 1024
    @Option var vocab = 256
    @Option var threads = 2
    @Option var attention = "softmax"
    @Option var keyDim: Int?
    @Option var batch = 1
    @Option var steps = 1
    @Option var warmup = 0
    @Flag var json = false

    func validate() throws {
        try checkBenchmarkShape(layers: layers, dModel: dModel, heads: heads, dFF: dFF, vocab: vocab, threads: threads, steps: steps, warmup: warmup)
        try checkRange("context", context, OptionLimits.context)
        try checkRange("batch", batch, OptionLimits.batch)
        try checkRange("key-dim", keyDim, OptionLimits.width)
        guard let kind = AttentionKind.named(attention, keyDim: keyDim) else { throw ValidationError("unknown attention kind '\(attention)'") }
        let config = TransformerConfig(vocab: vocab, layers: layers, dModel: dModel, heads: heads, dFF: dFF, context: context, attention: kind)
        try checkFitsInMemory(config.trainingBytes(batch: batch), "context \(context), batch \(batch)")
    }

    func run() throws {
        try BLAS.ensureLoaded()
        Engine.setThreads(threads)
        guard let kind = AttentionKind.named(attention, keyDim: keyDim) else { throw ValidationError("unknown attention kind '\(attention)'") }
        let config = TransformerConfig(vocab: vocab, layers: layers, dModel: dModel, heads: heads, dFF: dFF, context: context, attention: kind)
        let before = Machine.residentBytes ?? 0
        let r = EngineBenchmark.train(config, batch: batch, steps: steps, warmup: warmup)
        let peak = Double(Machine.peakResidentBytes ?? 0) / 1_048_576
        if json {
            print(String(format: "{\"tokens_per_s\": %.3f, \"step_mb\": %.3f, \"peak_mb\": %.3f, \"params\": %d}",
                         r.tokensPerSecond, max(0, peak - Double(before) / 1_048_576), peak, r.parameters))
        } else {
            print(String(format: "%.1f", peak))
        }
    }
}

/// `replicate bench linear-attention`: both engines, every chosen kind, training and decoding against context.
struct BenchLinearAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear-attention",
        abstract: "Training tokens/s and step memory against context, and decode time per token against context, for softmax and the "
            + "linear kinds, in our engine and in a PyTorch twin (scripts/bench_peer.py) in the same run; prints the ratios "
            + "and writes scaling.h5 (redrawn by `replicate figures`).")

    @Option(help: "Comma-separated attention kinds (softmax first is the reference).") var attention = "softmax,elu,decayed,delta,gated-delta"
    @Option(parsing: .upToNextOption, help: "Training contexts.") var contexts: [Int] = [256, 1024, 4096, 16384]
    @Option(help: "Tokens per training step (batch = this / context, at least 1).") var tokensPerStep = 16384
    @Option(help: "Timed training steps per point.") var steps = 2
    @Option(help: "Untimed warm-up steps per point.") var warmup = 1
    @Option(parsing: .upToNextOption, help: "Contexts for decode time per token.") var decodeContexts: [Int] = [1024, 8192, 65536]
    @Option(help: "Threads for both engines.") var threads = 2
    @Option(help: "Python with PyTorch 2.x for the peer (default: $REPLICATE_TORCH_PYTHON, else python3).") var python: String?
    @Flag(help: "Skip the PyTorch peer.") var noPeer = false
    @Option(help: "Directory for scaling.h5 and its figures.") var out = "runs/linear-attention/scaling"

    func kinds() throws -> [AttentionKind] {
        try attention.split(separator: ",").map(String.init).map {
            guard let k = AttentionKind.named($0) else {
                throw ValidationError("unknown attention kind '\($0)' (\(AttentionKind.catalogue.map(\.name).joined(separator: ", ")))")
            }
            return k
        }
    }

    func validate() throws {
        let chosen = try kinds()
        guard !chosen.isEmpty else { throw ValidationError("--attention names no kind") }
        for (name, list) in [("contexts", contexts), ("decode-contexts", decodeContexts)] {
            guard !list.isEmpty else { throw ValidationError("--\(name) names no context") }
            for c in list { try checkRange(name, c, OptionLimits.context) }
        }
        try checkRange("tokens-per-step", tokensPerStep, 1...(1 << 24))
        try checkRange("steps", steps, OptionLimits.steps)
        try checkRange("warmup", warmup, 0...1000)
        try checkRange("threads", threads, OptionLimits.threads)
        let base = LinearAttentionExperiment.preset("cpu", dataset: "random", vocab: 256)!
        let points = ScalingResults(kinds: chosen.map(\.name), contexts: contexts, tokensPerStep: tokensPerStep, decodeContexts: decodeContexts,
                                    notes: [:])
        for kind in chosen {
            var model = LinearAttentionExperiment.matched(base, attention: kind).config.model
            for ctx in contexts {
                model.context = ctx
                let batch = points.batch(at: ctx)
                try checkFitsInMemory(model.trainingBytes(batch: batch), "\(kind.name) at context \(ctx), batch \(batch)")
            }
        }
    }

    func run() throws {
        try BLAS.ensureLoaded()
        Engine.setThreads(threads)
        let chosen = try kinds()
        guard let base = LinearAttentionExperiment.preset("cpu", dataset: "random", vocab: 256) else { throw ValidationError("no cpu preset") }
        let m = base.model
        let shape = "the linear-attention cpu shape: \(m.layers) layers, width \(m.dModel), \(m.heads) heads, feed-forward matched per kind, vocabulary 256, "
            + "positions at the input only, no auxiliary losses, no dropout"
        var notes = ["machine": "\(Machine.cpuModel), \(Machine.coreCount) cores", "threads": String(threads), "blas": BLAS.summary,
                     "shape": shape, "command": (["replicate"] + CommandLine.arguments.dropFirst()).joined(separator: " ")]
        print("machine: \(notes["machine"]!); threads \(threads); BLAS \(notes["blas"]!)\n\(shape)")
        var results = ScalingResults(kinds: chosen.map(\.name), contexts: contexts, tokensPerStep: tokensPerStep,
                                     decodeContexts: decodeContexts, notes: notes)
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var peerAvailable = !noPeer
        for (k, kind) in chosen.enumerated() {
            let config = LinearAttentionExperiment.matched(base, attention: kind).config.model
            for (c, ctx) in contexts.enumerated() {
                let batch = results.batch(at: ctx)
                let common = ["--context", String(ctx), "--layers", String(config.layers), "--d-model", String(config.dModel), "--heads", String(config.heads),
                              "--d-ff", String(config.dFF), "--vocab", "256", "--threads", String(threads), "--attention", kind.name,
                              "--batch", String(batch), "--steps", String(steps), "--warmup", String(warmup)]
                if let ours = jsonLine(try? capture(exe, ["bench", "step-memory", "--json"] + common)) {
                    results.tokensPerSecond[0][k][c] = ours["tokens_per_s"] as? Double ?? .nan
                    results.stepMB[0][k][c] = ours["step_mb"] as? Double ?? .nan
                }
                var line = String(format: "%@ context %d batch %d: replicate %.0f tok/s, %.0f MB", kind.name, ctx, batch,
                                  results.tokensPerSecond[0][k][c], results.stepMB[0][k][c])
                if peerAvailable {
                    if let peer = runPeer(["--mode", "train"] + common) {
                        results.tokensPerSecond[1][k][c] = peer["tokens_per_s"] as? Double ?? .nan
                        results.stepMB[1][k][c] = peer["step_mb"] as? Double ?? .nan
                        notes["torch"] = peer["torch"] as? String
                        line += String(format: "; pytorch %.0f tok/s, %.0f MB; ratio %.2f", results.tokensPerSecond[1][k][c], results.stepMB[1][k][c],
                                       results.tokensPerSecond[0][k][c] / results.tokensPerSecond[1][k][c])
                    } else {
                        peerAvailable = false
                        print(peerMissing)
                    }
                }
                print(line)
            }
            for (c, ctx) in decodeContexts.enumerated() {
                results.decodeMs[0][k][c] = DecodeBenchmark.millisecondsPerToken(config, context: ctx)
            }
            if peerAvailable, let peer = runPeer(["--mode", "decode", "--attention", kind.name, "--layers", "1", "--d-model", String(config.dModel),
                                                  "--heads", String(config.heads), "--d-ff", String(config.dFF), "--threads", String(threads),
                                                  "--decode-contexts", decodeContexts.map(String.init).joined(separator: ",")]),
               let ms = peer["ms_per_token"] as? [String: Double] {
                for (c, ctx) in decodeContexts.enumerated() { results.decodeMs[1][k][c] = ms[String(ctx)] ?? .nan }
            }
            print("\(kind.name) decode ms per token (replicate / pytorch): " + decodeContexts.indices.map {
                String(format: "@%d %.3f / %.3f", decodeContexts[$0], results.decodeMs[0][k][$0], results.decodeMs[1][k][$0])
            }.joined(separator: ", "))
        }
        results.notes = notes
        try RunFiles.makeDirectory(out)
        let path = (out as NSString).appendingPathComponent(ScalingResults.fileName)
        try results.write(to: path)
        print(results.markdown)
        for f in try results.writeReport(into: out, format: "png") { print(f) }
        print(path)
    }

    private func runPeer(_ args: [String]) -> [String: Any]? { runPython(script: "bench_peer.py", args, python: python) }
}

/// The last line of `text` that is a JSON object.
func jsonLine(_ text: String?) -> [String: Any]? {
    guard let line = text?.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else { return nil }
    return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
}

func capture(_ exe: String, _ args: [String]) throws -> String {
    let r = try Subprocess.run(exe, args)
    guard r.status == 0 else { throw StoreError("\(exe) exited with \(r.status)") }
    return r.outputText
}

struct BenchMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpi",
        abstract: "Data-parallel training on this machine: al-rfou2018 as 1 process x T threads against R ranks (mpirun) x T/R threads; prints tokens/s of both, their ratio, and the all-reduce's time per step, share of the step and bandwidth.")

    @Option(help: "The al-rfou2018 preset.") var preset = "cpu"
    @Option(help: "Timed steps (after 3 untimed ones).") var steps = 20
    @Option(help: "Ranks of the data-parallel job.") var ranks = 2
    @Option(help: "Threads in all: the single process uses them all, each rank its share.") var threads = 2
    @Option(help: "mpirun to start the ranks with.") var mpirun = "/usr/bin/mpirun"

    func validate() throws {
        guard AlRfou2018.presetNames.contains(preset) else { throw ValidationError("--preset must be one of \(AlRfou2018.presetNames.joined(separator: ", "))") }
        try checkRange("steps", steps, 1...100_000)
        try checkRange("ranks", ranks, 2...1024)
        try checkRange("threads", threads, OptionLimits.threads)
        guard threads % ranks == 0 else { throw ValidationError("--threads must be a multiple of --ranks") }
        guard FileManager.default.isExecutableFile(atPath: mpirun) else { throw ValidationError("\(mpirun): not found (./setup.sh installs openmpi-bin)") }
    }

    func run() throws {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let dir = NSTemporaryDirectory() + "replicate-bench-mpi-\(getpid())"
        try RunFiles.makeDirectory(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A corpus of random words (the speed does not depend on the text).
        var rng = Philox(seed: 1)
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away"]
        var text = ""
        while text.utf8.count < 400_000 { text += words[rng.below(words.count)] + " " }
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/corpus.txt"))
        let total = steps + 3
        let common = ["al-rfou2018", "--preset", preset, "--data-file", dir + "/corpus.txt", "--alphabet", "text8", "--steps", "\(total)",
                      "--eval-every", "\(total)", "--checkpoint-every", "\(total)", "--eval-symbols", "2000"]
        func measure(_ name: String, _ command: String, _ args: [String]) throws -> (tokens: Double, allreduce: Double, params: Int) {
            let r = try Subprocess.run(command, args + ["--out", dir + "/" + name])
            guard r.status == 0 else { throw TrainingError("\(name): \(r.errorText.split(separator: "\n").last ?? "failed")") }
            let f = try HDF5File.open(dir + "/\(name)/metrics.h5")
            let tps = Array(try f.read("train/tokens_per_s").doubles.dropFirst(3))
            let reduce = f.kind(of: "train/allreduce_s") == .dataset ? Array(try f.read("train/allreduce_s").doubles.dropFirst(3)) : []
            return (median(tps), reduce.isEmpty ? 0 : median(reduce), Int(try f.attribute("parameters")?.intValue ?? 0))
        }
        print("machine: \(Machine.cpuModel), \(Machine.coreCount) cores; al-rfou2018 preset \(preset), \(steps) timed steps (medians)")
        let one = try measure("one", exe, common + ["--threads", "\(threads)"])
        let job = try measure("ranks", mpirun, ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "\(ranks)", exe]
                                             + common + ["--threads", "\(threads / ranks)"])
        let config = AlRfou2018.preset(preset, dataset: "bench", vocab: 27)!
        let stepSeconds = Double(config.training.batch * config.model.context) / job.tokens
        let bytes = Double(one.params * 4), moved = bytes * 2 * Double(ranks - 1) / Double(ranks)
        print(String(format: "1 process x %d threads: %.0f tokens/s", threads, one.tokens))
        print(String(format: "%d ranks x %d threads: %.0f tokens/s; ratio %.2f", ranks, threads / ranks, job.tokens, job.tokens / one.tokens))
        print(String(format: "all-reduce of %d parameters (%.1f MB): %.2f ms per step, %.1f%% of the step (%.1f ms); %.2f GB/s (ring: 2(R-1)/R x bytes per rank)",
                     one.params, bytes / 1e6, job.allreduce * 1e3, 100 * job.allreduce / stepSeconds, stepSeconds * 1e3, moved / job.allreduce / 1e9))
    }
}
