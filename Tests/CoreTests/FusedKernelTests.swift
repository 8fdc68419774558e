import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import XCTest

/// Every fused kernel against its naive twin, in Float at realistic sizes: outputs and all input gradients.
final class FusedKernelTests: XCTestCase {
    /// Runs f on copies of the inputs, backpropagates sum(out * W), returns (output, gradients).
    func forwardBackward(_ inputs: [Tensor<Float>], _ f: ([Tensor<Float>]) -> Tensor<Float>) -> ([Float], [[Float]]) {
        let copies = inputs.map { Tensor(shape: $0.shape, values: $0.values, requiresGrad: true) }
        let tape = Tape()
        var out: Tensor<Float>!
        let loss = tape.recording { () -> Tensor<Float> in
            out = f(copies)
            var rng = Philox(seed: 3, stream: 1)
            let w = Tensor<Float>(shape: out.shape, values: (0..<out.count).map { _ in rng.uniform() - 0.5 })
            return sumAll(out * w)
        }
        tape.backward(from: loss)
        return (out.values, copies.map { $0.gradValues })
    }

    func floatTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor<Float> {
        var rng = Philox(seed: seed, stream: 5)
        return Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in (rng.uniform() * 2 - 1) * scale })
    }

    func assertTwins(_ inputs: [Tensor<Float>], tolerance: Double, fused: ([Tensor<Float>]) -> Tensor<Float>,
                     naive: ([Tensor<Float>]) -> Tensor<Float>, file: StaticString = #filePath, line: UInt = #line) {
        let (o1, g1) = forwardBackward(inputs, fused)
        let (o2, g2) = forwardBackward(inputs, naive)
        XCTAssertLessThan(maxRelativeError(o1, o2), tolerance, "outputs", file: file, line: line)
        for (i, (a, b)) in zip(g1, g2).enumerated() {
            XCTAssertLessThan(maxRelativeError(a, b), tolerance, "gradient of input \(i)", file: file, line: line)
        }
    }

    func testAttentionMatchesNaive() {
        // T not divisible by the block, several heads, a realistic head size.
        // Both backward paths: the strips kept from forward and recomputed.
        for (t, block) in [(37, 16), (64, 64), (50, 7)] {
            let qkv = floatTensor([2, t, 3 * 32], seed: UInt64(t), scale: 2)
            for keep in [false, true] {
                assertTwins([qkv], tolerance: 2e-5,
                            fused: { causalSelfAttention($0[0], heads: 4, blockSize: block, keepScores: keep) },
                            naive: { causalSelfAttentionNaive($0[0], heads: 4) })
            }
        }
    }

    func testAttentionAddsToAGradientAlreadyWritten() {
        // qkv feeds two attentions: the first backward writes its gradient (no zero fill), the second must add to it.
        let qkv = floatTensor([2, 40, 3 * 16], seed: 9, scale: 2)
        for (first, second) in [(false, false), (true, true), (true, false), (false, true)] {
            assertTwins([qkv], tolerance: 2e-5,
                        fused: {
                            causalSelfAttention($0[0], heads: 2, blockSize: 16, keepScores: first)
                                + causalSelfAttention($0[0], heads: 4, blockSize: 8, keepScores: second)
                        },
                        naive: { causalSelfAttentionNaive($0[0], heads: 2) + causalSelfAttentionNaive($0[0], heads: 4) })
        }
    }

    func testAttentionKeepsScoresOnlyForShortContexts() {
        // Kept while a layer's strips (heads x T^2 / 2) fit in its q, k, v (3 x T x C): T up to 6 x the head width.
        XCTAssertTrue(attentionKeepsScores(heads: 4, length: 256, width: 256))  // bench cpu shape
        XCTAssertTrue(attentionKeepsScores(heads: 4, length: 384, width: 256))
        XCTAssertFalse(attentionKeepsScores(heads: 4, length: 385, width: 256))
        XCTAssertFalse(attentionKeepsScores(heads: 8, length: 512, width: 512))  // T12 and T64
        XCTAssertFalse(attentionKeepsScores(heads: 4, length: 4096, width: 256))
        // The estimate counts exactly the strips' values: T = 100 in blocks of 64 is 64 x 64 + 36 x 100 per head.
        XCTAssertEqual(attentionKeptScoresPerToken(heads: 2, length: 100, width: 64), (2 * (64 * 64 + 36 * 100) + 99) / 100)
        XCTAssertEqual(attentionKeptScoresPerToken(heads: 4, length: 4096, width: 256), 0)
    }

    func testLinearWithResidualMatchesLinearPlusResidual() {
        // In Float at a realistic size; the residual also feeds a later op, so its gradient has two writers.
        let x = floatTensor([4, 33, 64], seed: 21), w = floatTensor([96, 64], seed: 22, scale: 0.2)
        let b = floatTensor([96], seed: 23), r = floatTensor([4, 33, 96], seed: 24)
        assertTwins([x, w, b, r], tolerance: 1e-5,
                    fused: { linear($0[0], weight: $0[1], bias: $0[2], residual: $0[3]) * $0[3] },
                    naive: { ($0[3] + linear($0[0], weight: $0[1], bias: $0[2])) * $0[3] })
    }

    func testAttentionIsCausal() {
        // Changing the last position's inputs must not change any earlier output.
        let qkv = floatTensor([1, 9, 3 * 8], seed: 4)
        let a = Tape.withoutRecording { causalSelfAttention(qkv, heads: 2, blockSize: 4) }.values
        for j in 0..<24 { qkv.data[8 * 24 + j] += 1 }
        let b = Tape.withoutRecording { causalSelfAttention(qkv, heads: 2, blockSize: 4) }.values
        XCTAssertEqual(Array(a[..<(8 * 8)]), Array(b[..<(8 * 8)]))
        XCTAssertNotEqual(Array(a[(8 * 8)...]), Array(b[(8 * 8)...]))
    }

    func testCrossEntropyMatchesNaive() {
        let logits = floatTensor([40, 27], seed: 6, scale: 4)
        var rng = Philox(seed: 1, stream: 2)
        let targets = (0..<40).map { i in i % 9 == 0 ? Int32(-1) : Int32(rng.below(27)) }
        for reduction in [LossReduction.mean, .sum] {
            assertTwins([logits], tolerance: 1e-5,
                        fused: { crossEntropy($0[0], targets: targets, reduction: reduction) },
                        naive: { crossEntropyNaive($0[0], targets: targets, reduction: reduction) })
        }
    }

    func testLayerNormMatchesNaive() {
        let x = floatTensor([33, 64], seed: 7, scale: 3), g = floatTensor([64], seed: 8), b = floatTensor([64], seed: 9)
        assertTwins([x, g, b], tolerance: 1e-4,
                    fused: { layerNorm($0[0], gamma: $0[1], beta: $0[2]) },
                    naive: { layerNormNaive($0[0], gamma: $0[1], beta: $0[2]) })
    }

    func testLSTMAndGRUMatchNaive() {
        let gates = floatTensor([5, 4 * 20], seed: 10, scale: 3), c = floatTensor([5, 20], seed: 11)
        assertTwins([gates, c], tolerance: 1e-5,
                    fused: { let (h, c) = lstmCell(gates: $0[0], cPrev: $0[1]); return concat([h, c], axis: 1) },
                    naive: { let (h, c) = lstmCellNaive(gates: $0[0], cPrev: $0[1]); return concat([h, c], axis: 1) })
        let gi = floatTensor([5, 60], seed: 12, scale: 2), gh = floatTensor([5, 60], seed: 13, scale: 2), h = floatTensor([5, 20], seed: 14)
        assertTwins([gi, gh, h], tolerance: 1e-5,
                    fused: { gruCell(gi: $0[0], gh: $0[1], hPrev: $0[2]) },
                    naive: { gruCellNaive(gi: $0[0], gh: $0[1], hPrev: $0[2]) })
    }

    func testFloatAndDoubleKernelsAgree() {
        // The same generic kernel in both precisions: a check that the Float specialisation is the same code.
        let qkv = floatTensor([1, 20, 48], seed: 15)
        let f = Tape.withoutRecording { causalSelfAttention(qkv, heads: 4, blockSize: 8) }.values
        let d = Tape.withoutRecording { causalSelfAttention(qkv.converted(to: Double.self), heads: 4, blockSize: 8) }.values
        XCTAssertLessThan(maxRelativeError(f, d.map(Float.init)), 1e-5)
    }

    func testEvaluationModeRecordsNothing() {
        let x = floatTensor([4, 8], seed: 16)
        x.requiresGrad = true
        let tape = Tape()
        tape.recording {
            _ = Tape.withoutRecording { gelu(matmul(x, x, transB: true)) }
        }
        XCTAssertEqual(tape.count, 0)
        let y = tape.recording { gelu(matmul(x, x, transB: true)) }
        XCTAssertEqual(tape.count, 2)
        XCTAssertTrue(y.requiresGrad)
    }
}
