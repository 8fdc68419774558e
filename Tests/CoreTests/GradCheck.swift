import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import XCTest

/// Random values in [lo, hi) from a fixed stream.
func randomTensor(_ shape: [Int], seed: UInt64, lo: Double = -1, hi: Double = 1, requiresGrad: Bool = true) -> Tensor<Double> {
    var rng = Philox(seed: seed, stream: 99)
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, values: (0..<n).map { _ in lo + (hi - lo) * rng.uniformDouble() }, requiresGrad: requiresGrad)
}

/// Checks every input's gradient of loss = sum(f(inputs) * W) (W fixed random) against central differences,
/// in Double. Returns the largest error relative to max(1, |numeric|).
@discardableResult
func gradCheck(
    _ inputs: [Tensor<Double>], tolerance: Double = 1e-6, step: Double = 1e-6,
    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor<Double>]) -> Tensor<Double>
) -> Double {
    let probe = Tape.withoutRecording { f(inputs) }
    let weights = randomTensor(probe.shape, seed: 7, requiresGrad: false)
    func lossValue() -> Double {
        Tape.withoutRecording {
            let out = f(inputs)
            var s = 0.0
            for i in 0..<out.count { s += out.data[i] * weights.data[i] }
            return s
        }
    }
    for x in inputs { x.zeroGrad() }
    let tape = Tape()
    let loss = tape.recording { sumAll(f(inputs) * weights) }
    XCTAssertEqual(loss.scalar, lossValue(), accuracy: 1e-9 * max(1, abs(loss.scalar)), "recorded and unrecorded forward differ", file: file, line: line)
    tape.backward(from: loss)
    var worst = 0.0
    for (n, x) in inputs.enumerated() where x.requiresGrad {
        let analytic = x.gradValues
        for i in 0..<x.count {
            let saved = x.data[i]
            x.data[i] = saved + step
            let up = lossValue()
            x.data[i] = saved - step
            let down = lossValue()
            x.data[i] = saved
            let numeric = (up - down) / (2 * step)
            let err = abs(analytic[i] - numeric) / max(1, abs(numeric))
            worst = max(worst, err)
            if err > tolerance {
                XCTFail("input \(n) element \(i): analytic \(analytic[i]) vs numeric \(numeric)", file: file, line: line)
                return err
            }
        }
    }
    return worst
}

/// Max |a - b| / max(1, |b|) over two equally long arrays.
func maxRelativeError<T: BinaryFloatingPoint>(_ a: [T], _ b: [T]) -> Double {
    precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
    var worst = 0.0
    for (x, y) in zip(a, b) { worst = max(worst, abs(Double(x) - Double(y)) / max(1, abs(Double(y)))) }
    return worst
}
