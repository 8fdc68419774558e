import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import XCTest

/// Finite-difference gradient checks, in Double, of every op, on several shapes including odd sizes.
final class OpGradientTests: XCTestCase {
    func testMatmulAllTransposes() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomTensor(ta ? [5, 3] : [3, 5], seed: 1), b = randomTensor(tb ? [7, 5] : [5, 7], seed: 2)
            gradCheck([a, b]) { matmul($0[0], $0[1], transA: ta, transB: tb) }
        }
    }

    func testBatchedMatmul() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomTensor(ta ? [2, 4, 3] : [2, 3, 4], seed: 3), b = randomTensor(tb ? [2, 5, 4] : [2, 4, 5], seed: 4)
            gradCheck([a, b]) { batchedMatmul($0[0], $0[1], transA: ta, transB: tb) }
        }
    }

    func testLinearWithAndWithoutBias() {
        let x = randomTensor([2, 3, 5], seed: 5), w = randomTensor([4, 5], seed: 6), b = randomTensor([4], seed: 7)
        gradCheck([x, w, b]) { linear($0[0], weight: $0[1], bias: $0[2]) }
        gradCheck([x, w]) { linear($0[0], weight: $0[1], bias: nil) }
    }

    func testLinearWithAResidual() {
        let x = randomTensor([2, 3, 5], seed: 8), w = randomTensor([4, 5], seed: 9), b = randomTensor([4], seed: 10)
        let r = randomTensor([2, 3, 4], seed: 11)
        gradCheck([x, w, b, r]) { linear($0[0], weight: $0[1], bias: $0[2], residual: $0[3]) }
        gradCheck([x, w, r]) { linear($0[0], weight: $0[1], bias: nil, residual: $0[2]) }
        // The residual's gradient already written by another use: the fused op adds to it.
        gradCheck([x, w, b, r]) { linear($0[0], weight: $0[1], bias: $0[2], residual: $0[3]) * $0[3] }
    }

    func testBinaryOpsWithBroadcasting() {
        let shapes: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([2, 3, 4], [4]), ([3, 1], [1, 5]), ([], [2, 2]), ([1, 3, 1], [2, 1, 4])]
        for (sa, sb) in shapes {
            for op in [BinaryOp.add, .sub, .mul, .div] {
                let a = randomTensor(sa, seed: 8), b = randomTensor(sb, seed: 9, lo: 0.5, hi: 2)
                gradCheck([a, b]) { binary($0[0], $0[1], op) }
            }
        }
        XCTAssertNil(broadcastShape([2, 3], [4]))
        XCTAssertEqual(broadcastShape([2, 1, 4], [3, 1]), [2, 3, 4])
    }

    func testScalarAffine() {
        gradCheck([randomTensor([3, 5], seed: 10)]) { affine($0[0], scale: -1.5, shift: 0.25) }
    }

    func testActivations() {
        for f in Activation.allCases {
            // Keep away from ReLU's and ELU's kink at 0, and log's domain.
            let x = f == .log ? randomTensor([4, 7], seed: 11, lo: 0.2, hi: 3) : randomTensor([4, 7], seed: 11, lo: 0.1, hi: 2)
            if f != .log { for i in stride(from: 0, to: x.count, by: 2) { x.data[i] = -x.data[i] } }
            gradCheck([x]) { activation($0[0], f) }
        }
    }

    func testReductions() {
        for axis in 0..<3 {
            for kind in [Reduction.sum, .mean, .max] {
                for keep in [false, true] {
                    gradCheck([randomTensor([3, 4, 5], seed: 12 + UInt64(axis))]) { reduce($0[0], axis: axis, kind, keepDims: keep) }
                }
            }
        }
        gradCheck([randomTensor([2, 3], seed: 13)]) { sumAll($0[0], mean: true) }
    }

    func testShapeOps() {
        let x = randomTensor([2, 3, 4], seed: 14)
        gradCheck([x]) { permute($0[0], [2, 0, 1]) }
        gradCheck([x]) { transpose($0[0], 0, 2) }
        gradCheck([x]) { slice($0[0], axis: 1, 1..<3) }
        gradCheck([x]) { slice($0[0], axis: -1, 0..<1) }
        let constant = randomTensor([4, 6], seed: 40, requiresGrad: false)
        gradCheck([x]) { reshape($0[0], [4, -1]) * constant }
        let y = randomTensor([2, 1, 4], seed: 15)
        gradCheck([x, y]) { concat([$0[0], $0[1], $0[0]], axis: 1) }
    }

    func testGatherWithRepeatedIndices() {
        let table = randomTensor([5, 3], seed: 16)
        gradCheck([table]) { gather($0[0], [4, 0, 4, 2, 4, 0]) }
    }

    func testLayerNorm() {
        for shape in [[3, 7], [2, 3, 5], [1, 1]] {
            let c = shape.last!
            let x = randomTensor(shape, seed: 17, lo: -2, hi: 2), g = randomTensor([c], seed: 18), b = randomTensor([c], seed: 19)
            gradCheck([x, g, b], tolerance: 1e-5) { layerNorm($0[0], gamma: $0[1], beta: $0[2]) }
        }
    }

    func testSoftmaxAndLogSoftmax() {
        let x = randomTensor([3, 4, 6], seed: 20, lo: -3, hi: 3)
        gradCheck([x]) { softmax($0[0]) }
        gradCheck([x]) { logSoftmax($0[0]) }
        gradCheck([randomTensor([2, 5, 5], seed: 21)]) { softmax(causalMask($0[0])) }
    }

    func testDropoutUsesItsStreamAndScales() {
        let x = randomTensor([6, 50], seed: 22)
        let start = Philox(seed: 5, purpose: .dropout)
        gradCheck([x]) { inputs in
            var rng = start  // the same mask at every evaluation
            return dropout(inputs[0], p: 0.3, rng: &rng)
        }
        var rng = start
        let y = Tape.withoutRecording { dropout(x, p: 0.3, rng: &rng) }
        let zeros = y.values.filter { $0 == 0 }.count
        XCTAssertGreaterThan(zeros, 60)
        XCTAssertLessThan(zeros, 120)  // 300 elements, p = 0.3: 90 expected
        for (a, b) in zip(x.values, y.values) where b != 0 { XCTAssertEqual(b, a / 0.7, accuracy: 1e-12) }
    }

    func testCrossEntropy() {
        let logits = randomTensor([6, 5], seed: 23, lo: -2, hi: 2)
        let targets: [Int32] = [0, 4, -1, 2, 2, -1]
        for reduction in [LossReduction.mean, .sum] {
            gradCheck([logits]) { crossEntropy($0[0], targets: targets, reduction: reduction) }
            gradCheck([logits]) { crossEntropyNaive($0[0], targets: targets, reduction: reduction) }
        }
        gradCheck([logits]) { crossEntropy($0[0], targets: targets, weight: 0.5) }
    }

    func testCausalSelfAttentionBlockSizesNotDividingLength() {
        // B=2, T=7, heads=2, D=3 (C=6): blocks of 3 leave a partial block; block 1 and 16 are the extremes.
        let qkv = randomTensor([2, 7, 18], seed: 24)
        for block in [1, 3, 16] {
            for keep in [false, true] {  // scores recomputed in backward, or kept from forward
                gradCheck([qkv]) { causalSelfAttention($0[0], heads: 2, blockSize: block, keepScores: keep) }
            }
        }
        gradCheck([qkv]) { causalSelfAttentionNaive($0[0], heads: 2) }
    }

    func testRecurrentCells() {
        let n = 3, h = 4
        gradCheck([randomTensor([n, 4 * h], seed: 25, lo: -2, hi: 2), randomTensor([n, h], seed: 26)]) { inputs in
            let (hOut, cOut) = lstmCell(gates: inputs[0], cPrev: inputs[1])
            return concat([hOut, cOut * 0.7], axis: 1)
        }
        gradCheck([randomTensor([n, 3 * h], seed: 27), randomTensor([n, 3 * h], seed: 28), randomTensor([n, h], seed: 29)]) {
            gruCell(gi: $0[0], gh: $0[1], hPrev: $0[2])
        }
        let x = randomTensor([n, 5], seed: 30), hp = randomTensor([n, h], seed: 31)
        let wih = randomTensor([h, 5], seed: 32), whh = randomTensor([h, h], seed: 33), b = randomTensor([h], seed: 34)
        gradCheck([x, hp, wih, whh, b]) { rnnCell(x: $0[0], hPrev: $0[1], wIH: $0[2], bIH: $0[4], wHH: $0[3], bHH: nil, activation: .tanh) }
    }
}

