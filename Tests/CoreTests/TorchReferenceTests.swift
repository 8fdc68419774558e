import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation
import XCTest

/// Whole models against PyTorch. The fixture is written by scripts/make_torch_reference.py (Debian's
/// python3-torch, float64): weights, inputs, outputs, loss, every gradient and 10-step optimizer trajectories.
final class TorchReferenceTests: XCTestCase {
    var file: HDF5File!

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/torch_reference", withExtension: "h5"))
        file = try HDF5File.open(url.path)
    }

    /// max |a - b| / max |b|: the error relative to the reference's scale.
    func scaledError<T: Real>(_ a: [T], _ b: [Double]) -> Double {
        XCTAssertEqual(a.count, b.count)
        let scale = b.map(abs).max() ?? 0
        let diff = zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
        return scale > 0 ? diff / scale : diff
    }

    func lmModel<T: Real>(_: T.Type) throws -> TransformerLM<T> {
        let config = TransformerConfig(vocab: 11, layers: 2, dModel: 8, heads: 2, dFF: 32, context: 6, attention: .softmax(block: 4))
        let model = TransformerLM<T>(config, seed: 0)
        XCTAssertEqual(Set(model.params.names), Set(try file.children(of: "lm/params")))
        try model.params.read(from: file, group: "lm/params")
        return model
    }

    func checkTransformer<T: Real>(_ type: T.Type, tolerance: Double) throws {
        let model = try lmModel(type)
        let tokens = try file.read("lm/tokens").int64s.map { Int32($0) }
        let targets = try file.read("lm/targets").int64s.map { Int32($0) }
        var rng = Philox(seed: 0, purpose: .dropout)
        let tape = Tape()
        let (logits, loss) = tape.recording { () -> (Tensor<T>, Tensor<T>) in
            let logits = model.forward(tokens, batch: 2, length: 6, rng: &rng).logits
            return (logits, crossEntropy(logits, targets: targets))
        }
        XCTAssertLessThan(scaledError(logits.values, try file.read("lm/logits").doubles), tolerance, "logits")
        XCTAssertEqual(Double(loss.scalar), try file.read("lm/loss").doubles[0], accuracy: tolerance * 3)
        tape.backward(from: loss)
        for name in model.params.names {
            let err = scaledError(model.params[name]!.gradValues, try file.read("lm/grads/\(name)").doubles)
            XCTAssertLessThan(err, tolerance, "gradient of \(name)")
        }

        // Ten AdamW steps with clipping reproduce PyTorch's loss trajectory.
        let fresh = try lmModel(type)
        let adam = Adam(fresh.params, weightDecay: 0.1, decoupled: true)
        var losses: [Double] = []
        for _ in 0..<10 {
            fresh.params.zeroGrad()
            let t = Tape()
            let l = t.recording { crossEntropy(fresh.forward(tokens, batch: 2, length: 6, rng: &rng).logits, targets: targets) }
            losses.append(Double(l.scalar))
            t.backward(from: l)
            clipGradientNorm(fresh.params, maxNorm: 1.0)
            adam.step(lr: 1e-2)
        }
        let expected = try file.read("lm/adamw_losses").doubles
        for (i, (a, b)) in zip(losses, expected).enumerated() {
            XCTAssertEqual(a, b, accuracy: tolerance * 10 * max(1, abs(b)), "AdamW step \(i)")
        }
    }

    func testTransformerLMDouble() throws { try checkTransformer(Double.self, tolerance: 1e-9) }
    func testTransformerLMFloat() throws { try checkTransformer(Float.self, tolerance: 1e-4) }

    struct LSTMNet<T: Real> {
        let params = ParameterStore<T>()
        let lstm: LSTM<T>
        let head: Linear<T>
        init(_ file: HDF5File) throws {
            var rng = Philox(seed: 1)
            lstm = LSTM(params, "lstm", input: 5, hidden: 6, rng: &rng)
            head = Linear(params, "head", 6, 7, rng: &rng)
            params.finalize()
            XCTAssertEqual(Set(params.names), Set(try file.children(of: "lstm/params")))
            try params.read(from: file, group: "lstm/params")
        }
        func forward(_ x: Tensor<T>) -> (hidden: Tensor<T>, logits: Tensor<T>) {
            let steps = (0..<x.shape[0]).map { reshape(slice(x, axis: 0, $0..<($0 + 1)), [x.shape[1], x.shape[2]]) }
            let hidden = concat(lstm(steps).outputs, axis: 0)  // [T*B, H], time-major like PyTorch
            return (hidden, head(hidden))
        }
    }

    func checkLSTM<T: Real>(_ type: T.Type, tolerance: Double) throws {
        let xa = try file.read("lstm/x")
        let x = Tensor<T>(shape: xa.shape, values: xa.doubles.map { T($0) })
        let targets = try file.read("lstm/targets").int64s.map { Int32($0) }
        let net = try LSTMNet<T>(file)
        let tape = Tape()
        let (hidden, loss) = tape.recording { () -> (Tensor<T>, Tensor<T>) in
            let (h, logits) = net.forward(x)
            return (h, crossEntropy(logits, targets: targets))
        }
        XCTAssertLessThan(scaledError(hidden.values, try file.read("lstm/hidden").doubles), tolerance, "hidden states")
        XCTAssertEqual(Double(loss.scalar), try file.read("lstm/loss").doubles[0], accuracy: tolerance * 3)
        tape.backward(from: loss)
        for name in net.params.names {
            XCTAssertLessThan(scaledError(net.params[name]!.gradValues, try file.read("lstm/grads/\(name)").doubles), tolerance, name)
        }
        for (optimizerName, expectedName) in [("adam", "lstm/adam_losses"), ("sgd", "lstm/sgd_losses")] {
            let fresh = try LSTMNet<T>(file)
            let opt: Optimizer = optimizerName == "adam"
                ? Adam(fresh.params) : SGD(fresh.params, momentum: 0.9, nesterov: true, weightDecay: 0.01)
            var losses: [Double] = []
            for _ in 0..<10 {
                fresh.params.zeroGrad()
                let t = Tape()
                let l = t.recording { crossEntropy(fresh.forward(x).logits, targets: targets) }
                losses.append(Double(l.scalar))
                t.backward(from: l)
                opt.step(lr: optimizerName == "adam" ? 1e-2 : 0.1)
            }
            let expected = try file.read(expectedName).doubles
            for (i, (a, b)) in zip(losses, expected).enumerated() {
                XCTAssertEqual(a, b, accuracy: tolerance * 10 * max(1, abs(b)), "\(optimizerName) step \(i)")
            }
        }
    }

    func testLSTMDouble() throws { try checkLSTM(Double.self, tolerance: 1e-9) }
    func testLSTMFloat() throws { try checkLSTM(Float.self, tolerance: 1e-4) }
}
