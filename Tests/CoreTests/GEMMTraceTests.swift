import Engine
import NN
import Foundation
import XCTest

final class GEMMTraceTests: XCTestCase {
    /// The trace counts every product a training step asks for, before any split: their work adds up to the
    /// model's three passes (forward, and backward's two products per weight) plus attention's recomputed scores.
    func testTraceCountsATrainingStepsProducts() {
        let saved = Engine.threads
        defer { Engine.setThreads(saved) }
        Engine.setThreads(2)
        let config = TransformerConfig(vocab: 32, layers: 2, dModel: 64, heads: 2, dFF: 128, context: 32)
        let model = TransformerLM<Float>(config, seed: 0)
        let ids = (0..<(4 * config.context)).map { Int32($0 % config.vocab) }
        var rng = Philox(seed: 0, purpose: .dropout)
        let trace = GEMMTrace()
        BLAS.trace = trace
        let tape = Tape()
        let loss = tape.recording { crossEntropy(model.forward(ids, batch: 4, length: config.context, rng: &rng).logits, targets: ids) }
        tape.backward(from: loss)
        BLAS.trace = nil
        let calls = trace.calls
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

}
