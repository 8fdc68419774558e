import CharLM
import Engine
import Foundation
import NN
import PaperAlRfou2018
import PaperBrebisson2016
import PaperFastWeights2016
import Runs
import XCTest

/// The one trainer's promises, checked against every task of the suite: a killed run resumes to the same end,
/// a diverging run stops in one line and keeps its last good checkpoint, a good run is never overwritten and a
/// resumed run must have the same configuration.
final class TrainerTests: XCTestCase {
    /// One task of the suite, made small: builds a trainer for a configuration changed by `edit`.
    struct TaskCase {
        let name: String
        /// The series whose values must not depend on an interruption (wall times and speeds aside).
        let series: [String]
        /// Whether a huge learning rate makes it diverge: not for a model whose activations are all bounded (the
        /// readers: saturated GRUs and a tanh layer give a huge but finite loss), so the NaN stop is checked on the
        /// others (it is the trainer's, the same code for every task).
        var diverges = true
        let make: (_ dir: String, _ resume: Bool, _ edit: (inout TrainingConfig) -> Void) throws -> AnyTrainer
    }

    /// The part of `Trainer<Task>` the tests use, whatever the task.
    struct AnyTrainer {
        let step: () -> Int
        let run: () throws -> TrainingSummary
        let stopAfter: (Int) -> Void
        let parameters: () -> [Float]
    }

    static func wrap<T: TrainingTask>(_ t: Trainer<T>) -> AnyTrainer {
        AnyTrainer(step: { t.step }, run: { try t.run() }, stopAfter: { t.stopAfterStep = $0 },
                   parameters: { Array(UnsafeBufferPointer(start: t.task.params.values, count: t.task.params.count)) })
    }

    static let lmCorpus: CharCorpus = {
        var rng = Philox(seed: 3)
        let words = ["the cat", "a dog", "sat on", "ran to", "the mat", "a tree"]
        var text = ""
        while text.count < 20_000 { text += words[rng.below(words.count)] + " " }
        let ids = try! Alphabet.text8.encode(Array(text.prefix(20_000).utf8), source: "generated")
        let (a, b, c) = CharCorpus.standardSplit(ids)
        return CharCorpus(name: "generated", alphabet: .text8, train: a, valid: b, test: c)
    }()

    static let retrievalSplits = RetrievalSet.generateSplits(seed: 1, pairs: 4, distinctDigits: false, sizes: (2_000, 300, 300))

    static let clozeData = try! ClozeData.synthetic(storyLength: 40, entities: 4, facts: 2, seed: 2, counts: (300, 40, 40))

    let cases: [TaskCase] = [
        TaskCase(name: "al-rfou2018 LM", series: ["train/step", "train/loss", "train/grad_norm", "train/lr", "train/loss_next2", "eval/bpc",
                                                    "results/test_bpc", "results/valid_bpc"]) { dir, resume, edit in
            var c = AlRfou2018.preset("smoke", dataset: "generated", vocab: 27)!
            c.training.steps = 40
            c.training.checkpointEvery = 20
            c.training.evalEvery = 10
            c.model.dropout = 0.1  // the dropout stream must resume too
            edit(&c.training)
            return wrap(try Trainer(task: LMTask(config: c, corpus: TrainerTests.lmCorpus, experiment: "al-rfou2018"), runDir: dir,
                                    resume: resume, provenance: Provenance(command: ["test"], configJSON: c.json, seed: 1, threads: 2)))
        },
        TaskCase(name: "fastweights retrieval", series: ["train/step", "train/loss", "train/grad_norm", "train/error", "eval/valid_error",
                                                         "eval/test_error", "results/test_error"]) { dir, resume, edit in
            var c = FastWeights2016.preset("smoke", kind: .fastWeights, hidden: 20)!
            c.training.steps = 40
            c.training.checkpointEvery = 20
            c.training.evalEvery = 10
            edit(&c.training)
            return wrap(try Trainer(task: RetrievalTask(config: c, splits: TrainerTests.retrievalSplits), runDir: dir, resume: resume,
                                    provenance: Provenance(command: ["test"], configJSON: c.json, seed: 1, threads: 1)))
        },
        TaskCase(name: "brebisson2016 reader", series: ["train/step", "train/loss", "train/grad_norm", "train/accuracy", "eval/valid_error",
                                                        "eval/test_accuracy", "results/test_accuracy", "results/test_length_bin0_accuracy"],
                 diverges: false) { dir, resume, edit in
            var c = Brebisson2016.preset("smoke", reader: .gatedLinear)!
            let d = TrainerTests.clozeData
            c.model.vocabulary = d.vocabulary.count
            c.model.entities = d.vocabulary.entityCount
            c.model.hidden = 8
            c.model.dropout = 0.1  // the dropout stream must resume too
            c.training.batch = 16
            c.training.steps = 40
            c.training.checkpointEvery = 20
            c.training.evalEvery = 10
            edit(&c.training)
            return wrap(try Trainer(task: ClozeTask(config: c, train: d.train, validation: d.validation, test: d.test), runDir: dir,
                                    resume: resume, provenance: Provenance(command: ["test"], configJSON: c.json, seed: 1, threads: 1)))
        },
    ]

    /// Killed after step 27 (last checkpoint at 20) and resumed: every series, the selection, the results and the
    /// final parameters equal those of an uninterrupted run; resuming the finished run trains nothing.
    func testResumeEndsWhereAnUninterruptedRunEndsForEveryTask() throws {
        for t in cases {
            let root = try makeTempDir()
            let straight = try t.make(root + "/a", false) { _ in }
            let s1 = try straight.run()

            let killed = try t.make(root + "/b", false) { _ in }
            killed.stopAfter(27)
            XCTAssertTrue(try killed.run().stoppedEarly, t.name)
            let resumed = try t.make(root + "/b", true) { _ in }
            XCTAssertEqual(resumed.step(), 20, t.name)
            let s2 = try resumed.run()
            XCTAssertEqual(s1.bestStep, s2.bestStep, t.name)
            XCTAssertEqual(s1.results.filter { $0.key != "wall_time" }, s2.results.filter { $0.key != "wall_time" }, t.name)
            XCTAssertEqual(straight.parameters(), resumed.parameters(), t.name)
            do {  // (closed before the run is resumed again below)
                let fa = try HDF5File.open(root + "/a/metrics.h5"), fb = try HDF5File.open(root + "/b/metrics.h5")
                for series in t.series {
                    XCTAssertEqual(try fa.read(series).doubles, try fb.read(series).doubles, "\(t.name): \(series)")
                }
                XCTAssertEqual(try fa.read("train/step").int64s.count, 40, t.name)
            }
            for file in ["checkpoint.h5", "best.h5"] {
                let name = try firstParam(root + "/a/" + file)
                XCTAssertEqual(try Checkpoint.open(root + "/a/" + file).read(name), try Checkpoint.open(root + "/b/" + file).read(name),
                               "\(t.name): \(file)")
            }

            // Resuming a finished run trains nothing and reports the same results.
            let again = try t.make(root + "/b", true) { _ in }
            let s3 = try again.run()
            XCTAssertEqual(s3.steps, 40, t.name)
            XCTAssertEqual(s3.results, s2.results, t.name)
            XCTAssertEqual(try HDF5File.open(root + "/b/metrics.h5").read("results/step").int64s.count, 1, "\(t.name): results recorded once")
        }
    }

    /// The name of the first parameter stored in a run file.
    func firstParam(_ path: String) throws -> String { "params/" + (try HDF5File.open(path).children(of: "params").sorted()[0]) }

    /// A diverging run stops with one line naming the step and the last good checkpoint, which stays readable
    /// and holds finite parameters.
    func testNonFiniteLossStopsAndKeepsTheLastGoodCheckpointForEveryTask() throws {
        for t in cases where t.diverges {
            let dir = try makeTempDir()
            let run = try t.make(dir, false) { c in
                c.lr = 1e30
                c.warmup = 0
                c.schedule = .constant
                c.clip = 0
                c.checkpointEvery = 1
            }
            XCTAssertThrowsError(try run.run(), t.name) { e in
                let s = "\(e)"
                XCTAssertTrue(s.contains("run stopped") && s.contains("The last good checkpoint is") && !s.contains("\n"), "\(t.name): \(s)")
            }
            let f = try Checkpoint.open(dir + "/checkpoint.h5")
            let step = try XCTUnwrap(try f.attribute("step")?.intValue)
            XCTAssertGreaterThanOrEqual(step, 1, t.name)
            XCTAssertLessThan(Int(step), run.step(), t.name)
            XCTAssertTrue(try f.read(firstParam(dir + "/checkpoint.h5")).doubles.allSatisfy(\.isFinite), t.name)
        }
    }

    /// A new run refuses a directory that holds one; resuming needs a checkpoint and the same configuration.
    func testNeverOverwritesAndResumeNeedsTheSameConfigurationForEveryTask() throws {
        for t in cases {
            let dir = try makeTempDir()
            assertOneLineError(try t.make(dir, true) { _ in }, contains: "nothing to resume")
            let first = try t.make(dir, false) { $0.steps = 5 }
            _ = try first.run()
            assertOneLineError(try t.make(dir, false) { $0.steps = 5 }, contains: "already holds a run")
            assertOneLineError(try t.make(dir, true) { $0.steps = 5; $0.lr *= 2 }, contains: "different configuration")
        }
    }

    /// Checkpoints from before the one trainer (format version 1) are refused in one line naming the version.
    func testOldCheckpointFormatIsRefusedNamingItsVersion() throws {
        let dir = try makeTempDir()
        let path = dir + "/checkpoint.h5"
        let f = try HDF5File.create(path)
        try f.setAttribute("format", .string(Checkpoint.format))
        try f.setAttribute("format_version", .int(1))
        try f.close()
        assertOneLineError(try LMTask.loadModel(checkpoint: path), contains: "checkpoint format version 1, this build reads version 2")
    }
}
