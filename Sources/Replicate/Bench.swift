import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import ArgumentParser
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that measure our code and its peer in the same run and print the ratio.",
        subcommands: [BenchEngine.self, BenchStepMemory.self])
}

struct BenchEngine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Train the cpu LM shape with our engine and with PyTorch (same model, Adam, threads); print tokens/s, their ratio, MFU and peak memory per step.")

    @Option(help: "Layers.") var layers = 4
    @Option(help: "Model width.") var dModel = 256
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Feed-forward width.") var dFF = 1024
    @Option(help: "Context length.") var context = 256
    @Option(help: "Batch size (sequences).") var batch = 16
    @Option(help: "Vocabulary size.") var vocab = 256
    @Option(help: "Timed steps.") var steps = 10
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Option(help: "Threads for both engines.") var threads = 2
    @Option(help: "Python with PyTorch 2.x for the peer (default: $REPLICATE_TORCH_PYTHON, else python3).")
    var python: String?
    @Flag(help: "Skip the PyTorch peer.") var noPeer = false
    @Option(parsing: .upToNextOption, help: "Contexts for the peak-memory measurement of one training step (batch 1).")
    var memoryContexts: [Int] = [256, 1024, 4096]

    func validate() throws {
        for (name, v) in [("layers", layers), ("d-model", dModel), ("heads", heads), ("d-ff", dFF), ("context", context),
                          ("batch", batch), ("vocab", vocab), ("steps", steps), ("threads", threads)] where v <= 0 {
            throw ValidationError("--\(name) must be positive")
        }
        guard dModel % heads == 0 else { throw ValidationError("--d-model must be a multiple of --heads") }
    }

    func run() throws {
        try BLAS.ensureLoaded()
        Engine.setThreads(threads)
        print("machine: \(Machine.cpuModel), \(Machine.coreCount) cores; threads \(threads)")
        print("BLAS: \(BLAS.config) (kernel \(BLAS.coreName))")
        let gflops = EngineBenchmark.sgemmGFLOPs()
        print(String(format: "sgemm 1024^3: %.1f GFLOP/s", gflops))

        let config = TransformerConfig(vocab: vocab, layers: layers, dModel: dModel, heads: heads, dFF: dFF, context: context)
        let ours = EngineBenchmark.train(config, batch: batch, steps: steps, warmup: warmup)
        let flops = 3 * config.forwardFLOPsPerToken * ours.tokensPerSecond
        print(String(format: "replicate: %d params, %.0f tokens/s (%.3f s/step), model %.1f GFLOP/s = %.0f%% of sgemm",
                     ours.parameters, ours.tokensPerSecond, ours.secondsPerStep, flops / 1e9, 100 * flops / 1e9 / gflops))

        if !noPeer {
            if let peer = runPeer() {
                let tps = peer["tokens_per_s"] as? Double ?? 0
                let peerFlops = 3 * config.forwardFLOPsPerToken * tps
                print(String(format: "pytorch %@: %.0f tokens/s (%.3f s/step), model %.1f GFLOP/s = %.0f%% of sgemm",
                             (peer["torch"] as? String) ?? "?", tps, peer["seconds_per_step"] as? Double ?? 0,
                             peerFlops / 1e9, 100 * peerFlops / 1e9 / gflops))
                print(String(format: "ratio (replicate / pytorch): %.2f", ours.tokensPerSecond / tps))
            }
        }

        for ctx in memoryContexts {
            let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            let args = ["bench", "step-memory", "--context", String(ctx), "--layers", String(layers), "--d-model", String(dModel),
                        "--heads", String(heads), "--d-ff", String(dFF), "--vocab", String(vocab), "--threads", String(threads)]
            if let out = try? capture(exe, args), let mb = Double(out.trimmingCharacters(in: .whitespacesAndNewlines)) {
                print(String(format: "peak resident memory, one training step, batch 1, context %d: %.0f MB", ctx, mb))
            } else {
                print("peak resident memory at context \(ctx): measurement failed")
            }
        }
    }

    private func runPeer() -> [String: Any]? {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/bench_peer.py").path
        guard FileManager.default.fileExists(atPath: script) else {
            print("pytorch: peer script not found at \(script)")
            return nil
        }
        let py = python ?? ProcessInfo.processInfo.environment["REPLICATE_TORCH_PYTHON"] ?? "/usr/bin/env"
        var args = [script, "--layers", String(layers), "--d-model", String(dModel), "--heads", String(heads), "--d-ff", String(dFF),
                    "--context", String(context), "--batch", String(batch), "--vocab", String(vocab), "--steps", String(steps),
                    "--warmup", String(warmup), "--threads", String(threads)]
        if py == "/usr/bin/env" { args.insert("python3", at: 0) }
        guard let out = try? capture(py, args),
              let line = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            print("pytorch: peer not available. Install PyTorch 2.x: python3 -m venv ~/torch && ~/torch/bin/pip install torch; then pass --python ~/torch/bin/python")
            return nil
        }
        return json
    }
}

/// One training step at a given context, in a fresh process; prints the peak resident set in MB.
struct BenchStepMemory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "step-memory", abstract: "Peak RSS of one training step (used by bench engine).", shouldDisplay: false)
    @Option var context = 256
    @Option var layers = 4
    @Option var dModel = 256
    @Option var heads = 4
    @Option var dFF = 1024
    @Option var vocab = 256
    @Option var threads = 2

    func run() throws {
        Engine.setThreads(threads)
        let config = TransformerConfig(vocab: vocab, layers: layers, dModel: dModel, heads: heads, dFF: dFF, context: context)
        _ = EngineBenchmark.train(config, batch: 1, steps: 1, warmup: 0)
        print(String(format: "%.1f", Double(Machine.peakResidentBytes ?? 0) / 1_048_576))
    }
}

func capture(_ exe: String, _ args: [String]) throws -> String {
    let r = try Subprocess.run(exe, args)
    guard r.status == 0 else { throw StoreError("\(exe) exited with \(r.status)") }
    return r.outputText
}
