import CharLM
import Engine
import Foundation
import NN
import PaperAlRfou2018
import Runs
import XCTest

/// Activation recomputation (`--recompute`): the same numbers as keeping the activations, with far fewer of them
/// held by the tape.
final class RecomputeTests: XCTestCase {
    func lmConfig(attention: AttentionKind, recompute: Bool) -> LMTrainingConfig {
        var c = AlRfou2018.preset("smoke", dataset: "generated", vocab: 27)!
        c.model.attention = attention
        c.model.dropout = 0.2  // the masks drawn again in the backward pass must be the same masks
        c.training.steps = 12
        c.training.evalEvery = 6
        c.training.checkpointEvery = 6
        c.recompute = recompute ? true : nil
        return c
    }

    /// Whole training runs (all auxiliary losses on, dropout, Adam): every loss, gradient norm and final parameter
    /// bit-identical with and without recomputation, for softmax and a linear kind.
    func testTrainingIsBitIdenticalWithRecomputation() throws {
        for attention in [AttentionKind.softmax(block: 64), AttentionKind.named("gated-delta", keyDim: nil)!] {
            var series: [[Double]] = [], parameters: [[Float]] = []
            for recompute in [false, true] {
                let dir = try makeTempDir() + "/\(recompute)"
                let c = lmConfig(attention: attention, recompute: recompute)
                let task = try LMTask(config: c, corpus: TrainerTests.lmCorpus, experiment: "al-rfou2018")
                let run = try Trainer(task: task, runDir: dir, resume: false,
                                      provenance: Provenance(command: ["test"], configJSON: c.json, seed: 1, threads: 2))
                _ = try run.run()
                let f = try HDF5File.open(dir + "/metrics.h5")
                series.append(try f.read("train/loss").doubles + f.read("train/grad_norm").doubles + f.read("eval/bpc").doubles)
                parameters.append(Array(UnsafeBufferPointer(start: task.params.values, count: task.params.count)))
            }
            XCTAssertEqual(series[0].count, 12 + 12 + 2)
            XCTAssertEqual(series[0], series[1], attention.name)
            XCTAssertEqual(parameters[0], parameters[1], attention.name)
        }
    }

    /// The tape keeps one entry per block instead of every op of it.
    func testTheTapeKeepsOneEntryPerBlock() {
        let c = lmConfig(attention: .softmax(block: 64), recompute: false)
        let model = TransformerLM<Float>(c.model, seed: 1)
        var counts: [Int] = []
        for recompute in [false, true] {
            let tape = Tape()
            var rng = Philox(seed: 2)
            let ids = (0..<(2 * c.model.context)).map { Int32($0 % 27) }
            _ = tape.recording { model.forward(ids, batch: 2, length: c.model.context, dropout: 0.2, recompute: recompute, rng: &rng) }
            counts.append(tape.count)
        }
        XCTAssertGreaterThan(counts[0] - counts[1], 5 * c.model.layers, "\(counts)")
    }
}
