import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import CRuntime
import Foundation
import XCTest

/// The vectorised Float kernels against their naive twins (libm), over the whole useful range.
final class VectorMathTests: XCTestCase {
    let xs: [Float] = stride(from: -12.0, through: 12.0, by: 0.00137).map { Float($0) } + [0, -0.0, 1e-8, -1e-8, 40, -40, 90, -90]

    func testTanhMatchesLibm() {
        var y = [Float](repeating: 0, count: xs.count)
        rb_tanh_f32(xs, &y, xs.count)
        for (x, v) in zip(xs, y) {
            XCTAssertEqual(v, tanhf(x), accuracy: 1e-6, "tanh(\(x))")
            if abs(x) < 0.01 && x != 0 { XCTAssertEqual(v / x, tanhf(x) / x, accuracy: 1e-5, "relative, tanh(\(x))") }
        }
    }

    func testGELUForwardAndBackwardMatchLibm() {
        var y = [Float](repeating: 0, count: xs.count)
        var dx = [Float](repeating: 0.5, count: xs.count)  // backward accumulates
        let dy = xs.indices.map { Float(($0 % 7) - 3) }
        rb_gelu_f32(xs, &y, xs.count)
        rb_gelu_backward_f32(xs, dy, &dx, xs.count)
        let c: Float = 0.7978845608028654, k: Float = 0.044715
        for i in xs.indices {
            let x = xs[i], t = tanhf(c * (x + k * x * x * x))
            XCTAssertEqual(y[i], 0.5 * x * (1 + t), accuracy: 2e-6 * max(1, abs(x)), "gelu(\(x))")
            let d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * k * x * x)
            XCTAssertEqual(dx[i], 0.5 + dy[i] * d, accuracy: 1e-5 * max(1, abs(dy[i])), "gelu'(\(x))")
        }
    }
}
