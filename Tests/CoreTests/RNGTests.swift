import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import XCTest

final class RNGTests: XCTestCase {
    func testPhiloxKnownAnswers() {
        // Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
        let a = Philox.block(counter: (0, 0, 0, 0), key: (0, 0))
        XCTAssertEqual([a.0, a.1, a.2, a.3], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let b = Philox.block(counter: (.max, .max, .max, .max), key: (.max, .max))
        XCTAssertEqual([b.0, b.1, b.2, b.3], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let c = Philox.block(counter: (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
        XCTAssertEqual([c.0, c.1, c.2, c.3], [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    func testSameSeedSameStreamDifferentStreamsDiffer() {
        var a = Philox(seed: 42, purpose: .data), b = Philox(seed: 42, purpose: .data), c = Philox(seed: 42, purpose: .dropout)
        let xa = (0..<100).map { _ in a.nextUInt32() }, xb = (0..<100).map { _ in b.nextUInt32() }
        let xc = (0..<100).map { _ in c.nextUInt32() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, xc)
    }

    func testSkipEqualsDrawing() {
        // From every position within a block, skips of every remainder and of several blocks.
        for start in 0..<6 {
            for n in [0, 1, 2, 3, 4, 5, 7, 8, 13, 64, 1001] {
                var drawn = Philox(seed: 5, stream: 3), skipped = Philox(seed: 5, stream: 3)
                for _ in 0..<start { _ = drawn.nextUInt32(); _ = skipped.nextUInt32() }
                for _ in 0..<n { _ = drawn.nextUInt32() }
                skipped.skip(n)
                XCTAssertEqual(skipped, drawn, "start \(start), skip \(n)")
                XCTAssertEqual((0..<9).map { _ in skipped.nextUInt32() }, (0..<9).map { _ in drawn.nextUInt32() })
            }
        }
    }

    /// A data-parallel job's ranks draw, between them, exactly the dropout mask of one process.
    func testShardedDropoutMasksAreTheWholeBatchsMask() {
        let x = Tensor<Float>(shape: [6, 5], values: (0..<30).map { Float($0) + 1 })
        var one = Philox(seed: 2, purpose: .dropout)
        let whole = Tape.withoutRecording { dropout(x, p: 0.5, rng: &one) }.values
        var rows: [Float] = []
        var last: Philox?
        for rank in 0..<3 {
            Engine.dropoutShard = (rank, 3)
            defer { Engine.dropoutShard = nil }
            var r = Philox(seed: 2, purpose: .dropout)
            let part = Tensor<Float>(shape: [2, 5], values: Array(x.values[(rank * 10)..<(rank * 10 + 10)]))
            rows += Tape.withoutRecording { dropout(part, p: 0.5, rng: &r) }.values
            if let l = last { XCTAssertEqual(r, l, "every rank ends at the same position") }
            last = r
        }
        XCTAssertEqual(rows, whole)
        XCTAssertEqual(last, one)
    }

    func testStateSaveAndRestoreContinuesIdentically() {
        var rng = Philox(seed: 9, purpose: .initialisation)
        for k in 0..<7 { _ = k % 2 == 0 ? Double(rng.uniform()) : rng.normal() }
        let saved = rng.state
        let expected = (0..<50).map { _ in rng.nextUInt32() }
        var restored = Philox(state: saved)
        XCTAssertEqual((0..<50).map { _ in restored.nextUInt32() }, expected)
    }

    func testDistributions() {
        var rng = Philox(seed: 1)
        let n = 100_000
        let u = (0..<n).map { _ in Double(rng.uniform()) }
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(u.reduce(0, +) / Double(n), 0.5, accuracy: 0.005)
        let z = (0..<n).map { _ in rng.normal() }
        let mean = z.reduce(0, +) / Double(n)
        let variance = z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.02)
        let coins = (0..<n).filter { _ in rng.bernoulli(0.3) }.count
        XCTAssertEqual(Double(coins) / Double(n), 0.3, accuracy: 0.01)
        var counts = [Int](repeating: 0, count: 3)
        for _ in 0..<n { counts[rng.categorical([1.0, 0.0, 3.0])] += 1 }
        XCTAssertEqual(counts[1], 0)
        XCTAssertEqual(Double(counts[2]) / Double(n), 0.75, accuracy: 0.01)
        var hist = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { hist[rng.below(7)] += 1 }
        XCTAssertTrue(hist.allSatisfy { abs($0 - 10_000) < 400 }, "\(hist)")
        let p = rng.permutation(1000)
        XCTAssertEqual(p.sorted(), Array(0..<1000))
        XCTAssertNotEqual(p, Array(0..<1000))
    }
}
