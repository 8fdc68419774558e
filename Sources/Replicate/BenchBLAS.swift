import Engine
import NN
import Runs
import ArgumentParser
import Foundation

/// The model shapes the engine benchmarks train: the cpu LM shape and a T12-like one.
struct BenchShape {
    var layers: Int, dModel: Int, heads: Int, dFF: Int, context: Int, batch: Int

    static let named: [(name: String, shape: BenchShape)] = [
        ("cpu", BenchShape(layers: 4, dModel: 256, heads: 4, dFF: 1024, context: 256, batch: 16)),
        ("t12", BenchShape(layers: 12, dModel: 512, heads: 8, dFF: 2048, context: 512, batch: 4)),
    ]
    static var names: String { named.map(\.name).joined(separator: ", ") }
    static func named(_ name: String) -> BenchShape? { named.first { $0.name == name }?.shape }

    func config(vocab: Int) -> TransformerConfig {
        TransformerConfig(vocab: vocab, layers: layers, dModel: dModel, heads: heads, dFF: dFF, context: context)
    }
    var description: String { "\(layers) layers, width \(dModel), \(heads) heads, ff \(dFF), context \(context), batch \(batch)" }
}

/// The BLAS libraries `bench blas` compares: every one found on this machine (oneMKL where the loader looks first).
enum BLASCandidates {
    static func paths() -> [(label: String, path: String)] {
        [("OpenBLAS", "libopenblas.so.0"), ("BLIS", "libblis.so.4"), ("oneMKL", BLAS.mklPath)]
    }
}

struct BenchBLAS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas",
        abstract: "Replay one training step's matrix products (every shape it asks for, skinny and transposed ones included) on each BLAS "
            + "found here (OpenBLAS, BLIS, oneMKL), run as the engine runs them, in interleaved rounds; print each library's product time per "
            + "step and its ratio to OpenBLAS.")

    @Option(help: "Model shape: \(BenchShape.names).") var shape = "cpu"
    @Option(help: "Vocabulary size.") var vocab = 256
    @Option(help: "Threads (each replays the calls concurrently, as the engine's split products run).") var threads = 2
    @Option(help: "Interleaved rounds (the median is printed).") var rounds = 5
    @Option(help: "Shapes to list (largest total work first).") var top = 12

    func validate() throws {
        guard let s = BenchShape.named(shape) else { throw ValidationError("--shape must be one of \(BenchShape.names)") }
        try checkRange("vocab", vocab, OptionLimits.width)
        try checkRange("threads", threads, OptionLimits.threads)
        try checkRange("rounds", rounds, 1...100)
        try checkRange("top", top, 0...1000)
        try checkFitsInMemory(s.config(vocab: vocab).trainingBytes(batch: s.batch), "shape \(shape)")
    }

    func run() throws {
        try BLAS.ensureLoaded()
        Engine.setThreads(threads)
        let s = BenchShape.named(shape)!
        print("machine: \(Machine.cpuModel), \(Machine.coreCount) cores; threads \(threads); shape \(shape): \(s.description)")
        print("in use: \(BLAS.summary)")
        // The products of one training step (after a warm-up step), as the engine calls them.
        let trace = GEMMTrace()
        _ = EngineBenchmark.train(s.config(vocab: vocab), batch: s.batch, steps: 1, warmup: 1, trace: trace)
        let calls = trace.calls
        let totalFlops = calls.reduce(0) { $0 + $1.call.flops * Double($1.count) }
        print(String(format: "one step: %d products of %d shapes, %.1f GFLOP", calls.reduce(0) { $0 + $1.count }, calls.count, totalFlops / 1e9))

        var libraries: [BLASLibrary] = []
        for (label, path) in BLASCandidates.paths() {
            do { libraries.append(try BLASLibrary(path: path)) } catch { print("\(label): not available (\(error))") }
        }
        guard !libraries.isEmpty else { throw ValidationError("no BLAS library could be loaded") }
        // Each library as the engine runs it: a large product split over the engine's threads, one single-threaded
        // call per piece.
        var seconds = [[Double]](repeating: [Double](repeating: 0, count: calls.count), count: libraries.count)
        var totals = [[Double]](repeating: [], count: libraries.count)
        let workspace = GEMMWorkspace(calls: calls.map(\.call), threads: threads)
        for _ in 0..<rounds {
            for (l, lib) in libraries.enumerated() {
                var total = 0.0
                for (i, entry) in calls.enumerated() {
                    let t = workspace.time(entry.call, count: entry.count, on: lib)
                    seconds[l][i] += t / Double(rounds)
                    total += t
                }
                totals[l].append(total)
            }
        }
        let medians = totals.map(median)
        let reference = libraries.firstIndex { $0.vendor == "OpenBLAS" } ?? 0
        print("\nproducts of one step, median of \(rounds) interleaved rounds:")
        print("| library | kernels | seconds | GFLOP/s | speed vs \(libraries[reference].vendor) |")
        print("|---|---|---|---|---|")
        for (l, lib) in libraries.enumerated() {
            print(String(format: "| %@ | %@ | %.4f | %.1f | %.2fx |", lib.config, lib.coreName, medians[l], totalFlops / medians[l] / 1e9,
                         medians[reference] / medians[l]))
        }
        if top > 0 {
            print("\nlargest products (op(A) m x k times op(B) k x n; \"one thread\": run inside a parallel region or too small to split; "
                  + "GFLOP/s of all threads together, mean of rounds):")
            print("| product | count | " + libraries.map(\.vendor).joined(separator: " | ") + " |")
            print("|---|---|" + String(repeating: "---|", count: libraries.count))
            for (i, entry) in calls.prefix(top).enumerated() {
                let c = entry.call
                let name = "\(c.transA ? "T" : "N")\(c.transB ? "T" : "N") \(c.m)x\(c.n)x\(c.k)\(c.accumulate ? " +=" : "")\(c.single ? ", one thread" : "")"
                let rates = libraries.indices.map { String(format: "%.1f", c.flops * Double(entry.count) / seconds[$0][i] / 1e9) }
                print("| \(name) | \(entry.count) | " + rates.joined(separator: " | ") + " |")
            }
        }
        let fastest = medians.indices.min { medians[$0] < medians[$1] }!
        print("\nfastest here: \(libraries[fastest].vendor) (\(String(format: "%.2f", medians[reference] / medians[fastest]))x \(libraries[reference].vendor)); "
              + "in use: \(BLAS.vendor) (REPLICATE_BLAS=mkl|openblas chooses)")
    }
}

/// Buffers for replaying products: per thread, operands as large as the largest call needs, filled with values
/// in [-1, 1] (denormal-free, so no library meets a slow path the real step would not).
final class GEMMWorkspace {
    private let a: [UnsafeMutablePointer<Float>], b: [UnsafeMutablePointer<Float>], c: [UnsafeMutablePointer<Float>]
    private let threads: Int

    init(calls: [GEMMTrace.Call], threads: Int) {
        self.threads = threads
        func extent(rows: Int, cols: Int, ld: Int) -> Int { max(1, (rows - 1) * ld + cols) }
        let sizeA = calls.map { extent(rows: $0.transA ? $0.k : $0.m, cols: $0.transA ? $0.m : $0.k, ld: $0.lda) }.max() ?? 1
        let sizeB = calls.map { extent(rows: $0.transB ? $0.n : $0.k, cols: $0.transB ? $0.k : $0.n, ld: $0.ldb) }.max() ?? 1
        let sizeC = calls.map { extent(rows: $0.m, cols: $0.n, ld: $0.ldc) }.max() ?? 1
        var rng = Philox(seed: 7)
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64).bindMemory(to: Float.self, capacity: n)
            for i in 0..<n { p[i] = 2 * rng.uniform() - 1 }
            return p
        }
        a = (0..<threads).map { _ in buffer(sizeA) }
        b = (0..<threads).map { _ in buffer(sizeB) }
        c = (0..<threads).map { _ in buffer(sizeC) }
    }

    /// Seconds for `count` calls of `call` as the engine runs them: a product run on one thread is spread over the
    /// threads as concurrent calls on private buffers; a larger one is split over the threads as the engine splits it.
    func time(_ call: GEMMTrace.Call, count: Int, on lib: BLASLibrary) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let beta: Float = call.accumulate ? 1 : 0
        if call.single || threads == 1 {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var i = t
                while i < count {
                    lib.sgemm(transA: call.transA, transB: call.transB, m: call.m, n: call.n, k: call.k, alpha: 1, a: a[t], lda: call.lda,
                              b: b[t], ldb: call.ldb, beta: beta, c: c[t], ldc: call.ldc)
                    i += threads
                }
            }
        } else {  // the engine's split (gemmAccumulate)
            let pieces = gemmPieces(m: call.m, n: call.n, k: call.k, threads: threads)
            for _ in 0..<count {
                splitProduct(transA: call.transA, transB: call.transB, m: call.m, n: call.n, lda: call.lda, ldb: call.ldb, ldc: call.ldc,
                             pieces: pieces) { m, n, ao, bo, co in
                    lib.sgemm(transA: call.transA, transB: call.transB, m: m, n: n, k: call.k, alpha: 1, a: a[0] + ao, lda: call.lda,
                              b: b[0] + bo, ldb: call.ldb, beta: beta, c: c[0] + co, ldc: call.ldc)
                }
            }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
}
