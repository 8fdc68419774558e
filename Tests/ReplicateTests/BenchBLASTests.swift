import Engine
import NN
import Runs
import Foundation
import XCTest

final class BenchBLASTests: XCTestCase {
    /// The trace counts every product a training step asks for, before any split: their work adds up to the
    /// model's three passes (forward, and backward's two products per weight) plus attention's recomputed scores.
    func testTraceCountsATrainingStepsProducts() {
        let saved = Engine.threads
        defer { Engine.setThreads(saved) }
        Engine.setThreads(2)
        let config = TransformerConfig(vocab: 32, layers: 2, dModel: 64, heads: 2, dFF: 128, context: 32)
        let trace = GEMMTrace()
        _ = EngineBenchmark.train(config, batch: 4, steps: 1, warmup: 0, trace: trace)
        let calls = trace.calls
        XCTAssertNil(BLAS.trace, "tracing stops after the timed steps")
        let flops = calls.reduce(0) { $0 + $1.call.flops * Double($1.count) }
        let tokens = Double(4 * config.context)
        let dense = 3 * tokens * (Double(config.layers) * 2 * (4 * 64 * 64 + 2 * 64 * 128) + 2 * 64 * 32)
        XCTAssertGreaterThan(flops, dense, "the dense layers' products at least")
        XCTAssertLessThan(flops, 1.5 * dense)
        // The weight gradients are TN products over all tokens; attention's per-head tiles run on one thread.
        XCTAssertTrue(calls.contains { $0.call.transA && $0.call.k == Int(tokens) })
        XCTAssertTrue(calls.contains { $0.call.single && $0.call.k == config.dModel / config.heads })
        // Largest total work first.
        let work = calls.map { $0.call.flops * Double($0.count) }
        XCTAssertEqual(work, work.sorted(by: >))
    }

    /// `bench blas` replays the step on every library it finds and compares each with OpenBLAS.
    func testBenchBLASComparesTheLibrariesFound() throws {
        let r = try Subprocess.run(try replicateBinary(), ["bench", "blas", "--rounds", "1", "--top", "3"])
        XCTAssertEqual(r.status, 0, r.errorText)
        let out = r.outputText
        XCTAssertTrue(out.contains("one step: "), out)
        let rows = out.split(separator: "\n").filter { $0.hasPrefix("| OpenBLAS ") || $0.hasPrefix("| BLIS ") || $0.hasPrefix("| Intel(R) oneAPI") }
        XCTAssertTrue(rows.contains { $0.hasPrefix("| OpenBLAS ") && $0.hasSuffix("| 1.00x |") }, out)
        if FileManager.default.fileExists(atPath: "/opt/replicate-mkl/lib/libmkl_rt.so.3") {
            XCTAssertTrue(rows.contains { $0.hasPrefix("| Intel(R) oneAPI") }, out)
        }
        XCTAssertTrue(out.contains("fastest here: "), out)
    }
}
