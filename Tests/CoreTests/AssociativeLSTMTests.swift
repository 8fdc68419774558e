import Engine
import NN
import Runs
import XCTest

/// The Associative LSTM: the fused step against the composed layer and a scalar twin, finite differences, and a
/// PyTorch reference
/// (Fixtures/alstm.h5 from scripts/make_alstm_fixture.py: outputs, final cells and every gradient).
final class AssociativeLSTMTests: XCTestCase {
    func randomPermutations(_ n: Int, copies: Int, seed: UInt64) -> [[Int]] {
        var rng = Philox(seed: seed)
        return [Array(0..<n)] + (1..<copies).map { _ in
            var p = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, rng.below(i + 1)) }
            return p
        }
    }

    /// Weights large enough that bound() clips some components and passes others.
    func layer(hidden r: Int, input: Int, copies: Int, seed: UInt64) -> AssociativeLSTM<Double> {
        let g = AssociativeLSTM<Double>.gateRows(hidden: r)
        return AssociativeLSTM(hidden: r, wIH: randomTensor([g, input], seed: seed, lo: -1.5, hi: 1.5),
                               wHH: randomTensor([g, r], seed: seed + 1, lo: -1, hi: 1), bias: randomTensor([g], seed: seed + 2),
                               permutations: randomPermutations(r / 2, copies: copies, seed: seed + 3))
    }

    func testMatchesItsScalarTwin() {
        for (r, copies) in [(2, 1), (6, 3), (10, 4)] {
            let m = layer(hidden: r, input: 5, copies: copies, seed: UInt64(r))
            let x = (0..<4).map { t in randomTensor([3, 5], seed: 50 + UInt64(t), requiresGrad: false) }
            let ours = Tape.withoutRecording { m(x) }
            let naive = associativeLSTMNaive(x: x.map { xt in (0..<3).map { b in Array(xt.values[(b * 5)..<(b * 5 + 5)]) } },
                                             wIH: m.wIH.values, wHH: m.wHH.values, bias: m.bias.values, hidden: r, permutations: m.permutations)
            for t in 0..<4 { XCTAssertLessThan(maxRelativeError(ours.outputs[t].values, naive.h[t].flatMap { $0 }), 1e-12, "R \(r) step \(t)") }
            for s in 0..<copies { XCTAssertLessThan(maxRelativeError(ours.cells[s].values, naive.cells[s].flatMap { $0 }), 1e-12, "R \(r) copy \(s)") }
        }
    }

    func testGradientsMatchFiniteDifferences() {
        let m = layer(hidden: 6, input: 4, copies: 3, seed: 11)
        let x = (0..<3).map { t in randomTensor([2, 4], seed: 70 + UInt64(t)) }
        gradCheck([m.wIH, m.wHH, m.bias] + x, tolerance: 1e-6) { _ in
            let r = m(x)
            return concat([r.outputs.last!] + r.cells, axis: 1)
        }
    }

    func testFusedCellGradientsMatchFiniteDifferences() {
        // Gates spread so that bound() clips some units and passes others; 3 copies, R = 6.
        let gates = randomTensor([2, AssociativeLSTM<Double>.gateRows(hidden: 6)], seed: 80, lo: -2, hi: 2)
        let cells = randomTensor([2, 3, 6], seed: 81, lo: -1.5, hi: 1.5)
        let perms = randomPermutations(3, copies: 3, seed: 82)
        gradCheck([gates, cells], tolerance: 1e-6) { inputs in
            let (h, next) = associativeLSTMCell(gates: inputs[0], cells: inputs[1], permutations: perms)
            return concat([h, reshape(next, [2, 18]) * 0.7], axis: 1)
        }
    }

    /// The fused layer against the same layer composed from plain ops, in Float at the retrieval task's sizes:
    /// outputs, cells, and the gradients of every weight and input.
    func testFusedLayerMatchesItsComposedTwin() {
        for (r, copies) in [(20, 4), (50, 1)] {
            let d = layer(hidden: r, input: 16, copies: copies, seed: UInt64(100 + r))
            let m = AssociativeLSTM<Float>(hidden: r, wIH: d.wIH.converted(to: Float.self), wHH: d.wHH.converted(to: Float.self),
                                           bias: d.bias.converted(to: Float.self), permutations: d.permutations)
            let x = (0..<6).map { t in randomTensor([8, 16], seed: 200 + UInt64(t)).converted(to: Float.self) }
            func run(_ f: ([Tensor<Float>]) -> AssociativeLSTM<Float>.Output) -> [[Float]] {
                let params = [m.wIH, m.wHH, m.bias], inputs = x.map { Tensor(shape: $0.shape, values: $0.values, requiresGrad: true) }
                for p in params { p.requiresGrad = true; p.zeroGrad() }
                let tape = Tape()
                let (out, loss) = tape.recording { () -> (AssociativeLSTM<Float>.Output, Tensor<Float>) in
                    let o = f(inputs)
                    let w = randomTensor([8, r], seed: 300).converted(to: Float.self)
                    return (o, sumAll(o.outputs[2] * w) + sumAll(o.outputs.last! * w) + sumAll(o.cells.last! * w))
                }
                tape.backward(from: loss)
                return [out.outputs.flatMap(\.values), out.cells.flatMap(\.values)] + params.map(\.gradValues) + [inputs.flatMap(\.gradValues)]
            }
            let fused = run { m($0) }, composed = run { m.composed($0) }
            for (i, name) in ["outputs", "cells", "weight_ih", "weight_hh", "bias", "inputs"].enumerated() {
                XCTAssertLessThan(maxRelativeError(fused[i], composed[i]), 1e-4, "R \(r): \(name)")
            }
        }
    }

    func testMatchesThePyTorchReference() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/alstm", withExtension: "h5"))
        let f = try HDF5File.open(url.path)
        let r = Int(try XCTUnwrap(f.attribute("R")?.intValue)), input = Int(try XCTUnwrap(f.attribute("input_size")?.intValue))
        let t = Int(try XCTUnwrap(f.attribute("T")?.intValue)), b = Int(try XCTUnwrap(f.attribute("B")?.intValue))
        let copies = Int(try XCTUnwrap(f.attribute("copies")?.intValue)), g = AssociativeLSTM<Double>.gateRows(hidden: r)
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor<Double> { Tensor(shape: shape, values: try f.read(name).doubles, requiresGrad: true) }
        let perms = try f.read("permutations").doubles.map { Int($0) }
        let m = AssociativeLSTM(hidden: r, wIH: try tensor("alstm.weight_ih", [g, input]), wHH: try tensor("alstm.weight_hh", [g, r]),
                                bias: try tensor("alstm.bias", [g]),
                                permutations: (0..<copies).map { Array(perms[($0 * r / 2)..<(($0 + 1) * r / 2)]) })
        let xs = try f.read("x").doubles
        let x = (0..<t).map { i in Tensor<Double>(shape: [b, input], values: Array(xs[(i * b * input)..<((i + 1) * b * input)]), requiresGrad: true) }
        let w = try tensor("w_out", [b, r])
        let tape = Tape()
        let (out, loss) = tape.recording { () -> (AssociativeLSTM<Double>.Output, Tensor<Double>) in
            let o = m(x)
            return (o, sumAll(o.outputs.last! * w))
        }
        XCTAssertEqual(loss.scalar, try f.read("loss").doubles[0], accuracy: 1e-12)
        XCTAssertLessThan(maxRelativeError(out.outputs.flatMap(\.values), try f.read("h").doubles), 1e-12)
        XCTAssertLessThan(maxRelativeError(out.cells.flatMap(\.values), try f.read("cells").doubles), 1e-12)
        tape.backward(from: loss)
        for (name, p) in [("alstm.weight_ih", m.wIH), ("alstm.weight_hh", m.wHH), ("alstm.bias", m.bias)] {
            XCTAssertLessThan(maxRelativeError(p.gradValues, try f.read("grad/\(name)").doubles), 1e-10, name)
        }
        XCTAssertLessThan(maxRelativeError(x.flatMap(\.gradValues), try f.read("grad/x").doubles), 1e-10, "inputs")
    }
}
