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
        rb_gelu_backward_f32(xs, dy, &dx, xs.count, 0)
        var assigned = [Float](repeating: .nan, count: xs.count)  // assign: the old contents are never read
        rb_gelu_backward_f32(xs, dy, &assigned, xs.count, 1)
        let c: Float = 0.7978845608028654, k: Float = 0.044715
        for i in xs.indices {
            let x = xs[i], t = tanhf(c * (x + k * x * x * x))
            XCTAssertEqual(y[i], 0.5 * x * (1 + t), accuracy: 2e-6 * max(1, abs(x)), "gelu(\(x))")
            let d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * k * x * x)
            XCTAssertEqual(dx[i], 0.5 + dy[i] * d, accuracy: 1e-5 * max(1, abs(dy[i])), "gelu'(\(x))")
            XCTAssertEqual(assigned[i], dy[i] * d, accuracy: 1e-5 * max(1, abs(dy[i])), "gelu'(\(x)), assigned")
        }
    }

    /// The layer-norm kernels (sixteen fixed lanes) against the plain definition in Double, at widths that are and
    /// are not multiples of 16; the backward's assign form equals its accumulate form added to zero.
    func testLayerNormKernelsMatchDouble() {
        var rng = Philox(seed: 11)
        for c in [1, 7, 16, 33, 256] {
            let rows = 5
            let x = (0..<(rows * c)).map { _ in Float(3 * rng.uniform() - 1) }, g = (0..<(rows * c)).map { _ in Float(2 * rng.uniform() - 1) }
            let gamma = (0..<c).map { _ in Float(0.5 + rng.uniform()) }, beta = (0..<c).map { _ in Float(rng.uniform() - 0.5) }
            var y = [Float](repeating: 0, count: rows * c), mean = [Float](repeating: 0, count: rows), rstd = mean
            rb_layer_norm_f32(x, gamma, beta, &y, &mean, &rstd, rows, c, 1e-5)
            var dx = [Float](repeating: 0.25, count: rows * c), assigned = [Float](repeating: .nan, count: rows * c)
            rb_layer_norm_backward_f32(x, g, gamma, mean, rstd, &dx, rows, c, 0)
            rb_layer_norm_backward_f32(x, g, gamma, mean, rstd, &assigned, rows, c, 1)
            var dgamma = [Float](repeating: 0, count: c), dbeta = dgamma
            rb_layer_norm_param_grads_f32(x, g, mean, rstd, &dgamma, &dbeta, rows, c, 0, c)
            var dgammaD = [Double](repeating: 0, count: c), dbetaD = dgammaD
            for r in 0..<rows {
                let xr = (0..<c).map { Double(x[r * c + $0]) }, gr = (0..<c).map { Double(g[r * c + $0]) }
                let m = xr.reduce(0, +) / Double(c)
                let s = 1 / (xr.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(c) + 1e-5).squareRoot()
                XCTAssertEqual(Double(mean[r]), m, accuracy: 1e-6)
                XCTAssertEqual(Double(rstd[r]), s, accuracy: 1e-5 * s)
                let n = xr.map { ($0 - m) * s }, dn = (0..<c).map { gr[$0] * Double(gamma[$0]) }
                let meanDn = dn.reduce(0, +) / Double(c), meanDnN = zip(dn, n).map(*).reduce(0, +) / Double(c)
                for i in 0..<c {
                    XCTAssertEqual(Double(y[r * c + i]), n[i] * Double(gamma[i]) + Double(beta[i]), accuracy: 1e-5)
                    let want = s * (dn[i] - meanDn - n[i] * meanDnN)
                    XCTAssertEqual(Double(dx[r * c + i]), 0.25 + want, accuracy: 1e-4 * max(1, s))
                    let added: Float = dx[r * c + i] - 0.25, tolerance = Float(1e-6 * max(1, s))
                    XCTAssertEqual(assigned[r * c + i], added, accuracy: tolerance)
                    dgammaD[i] += n[i] * gr[i]
                    dbetaD[i] += gr[i]
                }
            }
            for i in 0..<c {
                XCTAssertEqual(Double(dgamma[i]), dgammaD[i], accuracy: 1e-5)
                XCTAssertEqual(Double(dbeta[i]), dbetaD[i], accuracy: 1e-5)
            }
        }
    }

    /// Column sums over a column range that crosses the kernel's 256-column tiles, against Double; the columns
    /// outside the range are untouched.
    func testColumnSumsMatchDouble() {
        var rng = Philox(seed: 12)
        let rows = 37, cols = 300, lo = 5, hi = 290
        let m = (0..<(rows * cols)).map { _ in rng.uniform() * 2 - 1 }
        var into = [Float](repeating: 1, count: cols)
        rb_column_sums_f32(m, rows, cols, lo, hi, &into)
        for c in 0..<cols {
            let expected = (lo..<hi).contains(c) ? 1 + (0..<rows).reduce(0.0) { $0 + Double(m[$1 * cols + c]) } : 1
            XCTAssertEqual(Double(into[c]), expected, accuracy: 1e-5, "column \(c)")
        }
    }

    /// The vectorised Adam update equals its definition written out in Float, operation for operation (bit for bit),
    /// with decoupled weight decay and with L2 decay.
    func testAdamKernelEqualsItsDefinition() {
        var rng = Philox(seed: 13)
        let n = 203
        let g = (0..<n).map { _ in rng.uniform() - 0.5 }, p0 = (0..<n).map { _ in rng.uniform() - 0.5 }
        let m0 = (0..<n).map { _ in (rng.uniform() - 0.5) * 0.1 }, v0 = (0..<n).map { _ in rng.uniform() * 0.01 }
        let b1: Float = 0.9, b2: Float = 0.999, step: Float = 0.003, bc2Root: Float = 0.0447, eps: Float = 1e-8, wd: Float = 0.1
        let shrink: Float = 0.9997
        for decoupled in [true, false] {
            var p = p0, m = m0, v = v0
            rb_adam_f32(&p, g, &m, &v, n, b1, b2, step, bc2Root, eps, wd, shrink, decoupled ? 1 : 0)
            for i in 0..<n {
                var pe = p0[i], grad = g[i]
                if decoupled { pe *= shrink } else { grad += wd * pe }
                let me = b1 * m0[i] + (1 - b1) * grad
                let ve = b2 * v0[i] + (1 - b2) * grad * grad
                pe -= step * me / (ve.squareRoot() / bc2Root + eps)
                XCTAssertEqual(m[i], me, "m[\(i)], decoupled \(decoupled)")
                XCTAssertEqual(v[i], ve, "v[\(i)], decoupled \(decoupled)")
                XCTAssertEqual(p[i], pe, "p[\(i)], decoupled \(decoupled)")
            }
        }
    }
}
