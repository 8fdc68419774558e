import Engine
import Foundation
import NN
import PaperFastWeights2016
import Runs
import XCTest

/// RMSProp against torch.optim.RMSprop (fixture from scripts/make_rmsprop_fixture.py, float64), its state
/// round-trip, and a resumed trainer run with it.
final class RMSPropTests: XCTestCase {
    var file: HDF5File!

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/rmsprop", withExtension: "h5"))
        file = try HDF5File.open(url.path)
    }

    /// The fixture's parameters as a store: `w` a [3, 4] matrix (decayed by default), `b` a [5] vector (not).
    func fixtureParams() throws -> ParameterStore<Double> {
        let params = ParameterStore<Double>()
        var rng = Philox(seed: 0)
        _ = params.make("w", [3, 4], .zeros, rng: &rng)
        _ = params.make("b", [5], .zeros, rng: &rng)
        params.finalize()
        XCTAssertEqual(params.entries.map(\.decay), [true, false])
        XCTAssertEqual(Set(params.names), Set(try file.children(of: "params")))
        try params.read(from: file, group: "params")
        return params
    }

    /// Puts step `k`'s gradients of the fixture into the store.
    func loadGradients(_ params: ParameterStore<Double>, step k: Int) throws {
        for e in params.entries {
            let g = try file.read("grads/\(k)/\(e.name)").doubles
            XCTAssertEqual(g.count, e.count)
            for i in 0..<e.count { params.gradients[e.offset + i] = g[i] }
        }
    }

    func values(_ params: ParameterStore<Double>) -> [Double] { Array(UnsafeBufferPointer(start: params.values, count: params.count)) }

    /// max |a - b| / max |b|.
    func scaledError(_ a: [Double], _ b: [Double]) -> Double {
        XCTAssertEqual(a.count, b.count)
        let scale = b.map(abs).max() ?? 0
        let diff = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        return scale > 0 ? diff / scale : diff
    }

    func testMatchesPyTorchAfterEveryStep() throws {
        let params = try fixtureParams()
        let wd = try XCTUnwrap(file.attribute("weight_decay")?.doubleValue)
        let alpha = try XCTUnwrap(file.attribute("alpha")?.doubleValue), eps = try XCTUnwrap(file.attribute("eps")?.doubleValue)
        XCTAssertEqual(alpha, 0.99)
        XCTAssertEqual(eps, 1e-8)
        let opt = RMSProp(params, weightDecay: wd)  // the defaults are PyTorch's
        let lrs = try file.read("lrs").doubles
        XCTAssertEqual(lrs.count, 5)
        for (k, lr) in lrs.enumerated() {
            try loadGradients(params, step: k)
            opt.step(lr: lr)
            for e in params.entries {
                let ours = Array(values(params)[e.offset..<(e.offset + e.count)])
                XCTAssertLessThan(scaledError(ours, try file.read("after/\(k)/\(e.name)").doubles), 1e-12, "\(e.name) after step \(k)")
            }
        }
        XCTAssertEqual(opt.steps, 5)
        let squareAvg = try opt.state.array("square_avg", count: params.count)
        for e in params.entries {
            let ours = Array(squareAvg[e.offset..<(e.offset + e.count)])
            XCTAssertLessThan(scaledError(ours, try file.read("square_avg/\(e.name)").doubles), 1e-12, "square_avg of \(e.name)")
        }
    }

    /// Three steps, state saved and restored into a fresh optimizer, two more: bit-for-bit five uninterrupted steps.
    func testStateRoundTripResumesExactly() throws {
        let lrs = try file.read("lrs").doubles
        let straight = try fixtureParams()
        let a = RMSProp(straight, weightDecay: 0.01)
        for k in 0..<5 {
            try loadGradients(straight, step: k)
            a.step(lr: lrs[k])
        }

        let first = try fixtureParams()
        let b = RMSProp(first, weightDecay: 0.01)
        for k in 0..<3 {
            try loadGradients(first, step: k)
            b.step(lr: lrs[k])
        }
        let saved = b.state
        XCTAssertEqual(saved.steps, 3)
        XCTAssertEqual(saved.arrays.map(\.name), ["square_avg"])

        let second = try fixtureParams()
        second.values.update(from: first.values, count: first.count)
        let c = RMSProp(second, weightDecay: 0.01)
        try c.restore(saved)
        for k in 3..<5 {
            try loadGradients(second, step: k)
            c.step(lr: lrs[k])
        }
        XCTAssertEqual(c.steps, 5)
        XCTAssertEqual(values(second), values(straight))
        XCTAssertEqual(c.state.arrays[0].values, a.state.arrays[0].values)

        // A state of another shape or kind is refused.
        XCTAssertThrowsError(try c.restore(OptimizerState(arrays: [("square_avg", [0])], steps: 1)))
        XCTAssertThrowsError(try c.restore(Adam(second).state))
    }

    /// A retrieval run with `optimizer: .rmsprop` killed after step 27 and resumed from its step-20 checkpoint
    /// ends with the metrics and parameters of an uninterrupted run; the checkpoint holds RMSProp's state.
    func testTrainerResumesAnRMSPropRun() throws {
        func make(_ dir: String, _ resume: Bool) throws -> TrainerTests.AnyTrainer {
            var c = FastWeights2016.preset("smoke", kind: .fastWeights, hidden: 20)!
            c.training.steps = 40
            c.training.checkpointEvery = 20
            c.training.evalEvery = 10
            c.training.optimizer = .rmsprop
            c.training.lr = 1e-3
            c.training.weightDecay = 0.01
            return TrainerTests.wrap(try Trainer(task: RetrievalTask(config: c, splits: TrainerTests.retrievalSplits), runDir: dir,
                                                 resume: resume, provenance: Provenance(command: ["test"], configJSON: c.json, seed: 1, threads: 1)))
        }
        let root = try makeTempDir()
        let straight = try make(root + "/a", false)
        let s1 = try straight.run()

        let killed = try make(root + "/b", false)
        killed.stopAfter(27)
        XCTAssertTrue(try killed.run().stoppedEarly)
        do {
            let f = try Checkpoint.open(root + "/b/checkpoint.h5")
            XCTAssertEqual(f.kind(of: "optimizer/square_avg"), .dataset)
            XCTAssertNil(f.kind(of: "optimizer/m"))
            XCTAssertEqual(try f.read("optimizer/steps").int64s, [20])
        }
        let resumed = try make(root + "/b", true)
        XCTAssertEqual(resumed.step(), 20)
        let s2 = try resumed.run()
        XCTAssertEqual(s1.bestStep, s2.bestStep)
        XCTAssertEqual(s1.results.filter { $0.key != "wall_time" }, s2.results.filter { $0.key != "wall_time" })
        XCTAssertEqual(straight.parameters(), resumed.parameters())
        let fa = try HDF5File.open(root + "/a/metrics.h5"), fb = try HDF5File.open(root + "/b/metrics.h5")
        for series in ["train/step", "train/loss", "train/grad_norm", "train/error", "eval/valid_error", "eval/test_error", "results/test_error"] {
            XCTAssertEqual(try fa.read(series).doubles, try fb.read(series).doubles, series)
        }
        XCTAssertEqual(try fa.read("train/step").int64s.count, 40)
        XCTAssertTrue(try fa.read("train/loss").doubles.allSatisfy(\.isFinite))
    }
}
