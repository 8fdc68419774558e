import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation
import XCTest

final class CorpusTests: XCTestCase {
    func testZipRoundTripSplitAndAlphabet() throws {
        let dir = try makeTempDir()
        var rng = Philox(seed: 3)
        let letters = Array(" abcdefghijklmnopqrstuvwxyz".utf8)
        let text = (0..<1000).map { _ in letters[rng.below(27)] }
        for deflate in [true, false] {
            let zip = dir + "/c\(deflate).zip"
            try Archive.write(to: zip, members: [("text8", text)], format: .zip(deflate: deflate))
            let corpus = try CharCorpus.load(file: zip, alphabet: .text8)
            XCTAssertEqual([corpus.train.count, corpus.valid.count, corpus.test.count], [900, 50, 50])
            XCTAssertEqual(corpus.alphabet.decode(corpus.train + corpus.valid + corpus.test), String(decoding: text, as: UTF8.self))
            XCTAssertEqual(corpus.train.first, text[0] == 32 ? 0 : text[0] - 96)
            XCTAssertTrue((corpus.train + corpus.valid + corpus.test).allSatisfy { $0 < 27 })
        }
        let bytes = try CharCorpus.load(file: dir + "/ctrue.zip", alphabet: .bytes)
        XCTAssertEqual(bytes.train, Array(text[..<900]))
        XCTAssertEqual(bytes.test, Array(text[950...]))
    }

    func testStandardSplitBoundariesAtFullSize() {
        var ids = [UInt8](repeating: 0, count: 100_000_000)
        ids[89_999_999] = 1; ids[90_000_000] = 2; ids[94_999_999] = 3; ids[95_000_000] = 4
        let (tr, va, te) = CharCorpus.standardSplit(ids)
        XCTAssertEqual([tr.count, va.count, te.count], [90_000_000, 5_000_000, 5_000_000])
        XCTAssertEqual([tr.last, va.first, va.last, te.first], [1, 2, 3, 4])
    }

    func testKnownCorporaByNameAndTheirErrors() throws {
        let dir = try makeTempDir()
        assertOneLineError(try CharCorpus.load("text8", dataDir: dir), contains: "replicate data fetch text8")
        try Archive.write(to: dir + "/text8.zip", members: [("text8", Array(" short text".utf8))], format: .zip(deflate: true))
        assertOneLineError(try CharCorpus.load("text8", dataDir: dir), contains: "expected exactly 100000000")
        try Archive.write(to: dir + "/enwik8.zip", members: [("wrong-name", [1, 2, 3])], format: .zip(deflate: true))
        assertOneLineError(try CharCorpus.load("enwik8", dataDir: dir), contains: "no member 'enwik8'")
        assertOneLineError(try CharCorpus.load("nope", dataDir: dir), contains: "unknown dataset")
        assertOneLineError(try CharCorpus.load("wiki-sample", dataDir: dir), contains: "setup.sh")
        try Data(String(repeating: "hello world ", count: 20).appending("Hello").utf8).write(to: URL(fileURLWithPath: dir + "/upper.txt"))
        assertOneLineError(try CharCorpus.load(file: dir + "/upper.txt", alphabet: .text8), contains: "not in text8's alphabet")
    }

    func testCorruptAndTruncatedArchivesAreRefused() throws {
        let dir = try makeTempDir()
        let payload = [UInt8](repeating: 97, count: 5000) + Array(" the end".utf8)
        try Archive.write(to: dir + "/ok.zip", members: [("m", payload)], format: .zip(deflate: true))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/ok.zip")))
        try Data(bytes.prefix(bytes.count - 30)).write(to: URL(fileURLWithPath: dir + "/truncated.zip"))
        assertOneLineError(try CharCorpus.readMember(dir + "/truncated.zip", member: "m"), contains: "truncated.zip")
        var corrupt = bytes
        // inside the deflated data: past the local header (30 bytes), the name and the extra fields
        corrupt[30 + (Int(bytes[26]) | Int(bytes[27]) << 8) + (Int(bytes[28]) | Int(bytes[29]) << 8) + 2] ^= 0xFF
        try Data(corrupt).write(to: URL(fileURLWithPath: dir + "/corrupt.zip"))
        assertOneLineError(try CharCorpus.readMember(dir + "/corrupt.zip", member: "m"), contains: "corrupt.zip")
        try Data("not a zip at all".utf8).write(to: URL(fileURLWithPath: dir + "/plain.zip"))
        assertOneLineError(try CharCorpus.readMember(dir + "/plain.zip", member: "m"), contains: "plain.zip: not a readable archive")
        XCTAssertEqual(try CharCorpus.readMember(dir + "/ok.zip", member: "m"), payload)
    }

    func testSHA256KnownAnswers() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}

final class WikiFilterTests: XCTestCase {
    func clean(_ s: String) -> String { String(decoding: WikiFilter().clean(Array(s.utf8)), as: UTF8.self) }

    func testMarkupLinksReferencesTablesDigitsAndRedirects() {
        // Expected output produced by running Matt Mahoney's wikifil.pl (perl) on this exact input.
        let xml = """
            <page><title>Test</title><revision><text xml:space="preserve">'''Anarchism''' is a [[political philosophy]] founded in 1840 by [[Pierre-Joseph Proudhon|Proudhon]].&lt;ref name="a"&gt;A source&lt;/ref&gt; See [http://example.org/x the site] and {{cite book|title=X}}.
            [[Image:Flag.png|thumb|left|200px|A black flag]] &amp;nbsp;Costs $2,000 &mdash; or 30%.
            [[Category:Political ideologies|Anarchism]] [[fr:Anarchisme]] {| table |} THE END</text></revision></page>
            <page><title>Redir</title><revision><text xml:space="preserve">#REDIRECT [[Anarchism]]</text></revision></page>
            <page><title>Second</title><revision><text xml:space="preserve">Zürich 7 élan</text></revision></page>

            """
        XCTAssertEqual(clean(xml), " anarchism is a political philosophy founded in one eight four zero by proudhon see the site and a black flag costs two zero zero zero or three zero political ideologies the end z rich seven lan")
    }

    func testOnlyTextElementsAreKept() {
        XCTAssertEqual(clean("<page><title>Title Words</title><comment>edit</comment></page>"), "")
        XCTAssertEqual(clean("<text xml:space=\"preserve\">One two</text><title>no</title>"), " one two")
    }

    func testReproducesText8FromEnwik8WhereSharedDataExists() throws {
        // ../shared/data beside the checkout: the real first 1 MB of enwik8 and the first 703,856 characters of text8.
        let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data")
        let enwik = shared.appendingPathComponent("enwik8_head/enwik6"), text8 = shared.appendingPathComponent("text8_head/text8_head_703856.txt")
        guard let xml = FileManager.default.contents(atPath: enwik.path), let expected = FileManager.default.contents(atPath: text8.path) else {
            throw XCTSkip("../shared/data not present")
        }
        let out = WikiFilter().clean([UInt8](xml))
        XCTAssertEqual(out.count, expected.count)
        XCTAssertTrue(out == [UInt8](expected), "clean(enwik6) differs from text8's first 703,856 characters")
    }
}

final class LanguageModelTests: XCTestCase {
    func testIntermediateLossSchedule() {
        // n = 4 layers, 80 steps: layer l stops after l/8 of training, i.e. after step 10 l; the last layer never counts.
        let active = { (l: Int, s: Int) in AuxiliaryLosses.intermediateActive(layer: l, of: 4, step: s, totalSteps: 80) }
        XCTAssertTrue(active(1, 1)); XCTAssertTrue(active(1, 10)); XCTAssertFalse(active(1, 11))
        XCTAssertTrue(active(3, 30)); XCTAssertFalse(active(3, 31))
        XCTAssertFalse(active(4, 1))
        XCTAssertEqual((1...80).filter { s in (1..<4).contains { active($0, s) } }.last, 30, "all gone by step 3/8 x 80 (half-way for n = 64)")
        // 64 layers: everything intermediate is gone by the half-way point.
        XCTAssertFalse((1..<64).contains { AuxiliaryLosses.intermediateActive(layer: $0, of: 64, step: 501, totalSteps: 1000) })
        XCTAssertTrue(AuxiliaryLosses.intermediateActive(layer: 63, of: 64, step: 492, totalSteps: 1000))
    }

    /// A generated corpus with structure: words from a small vocabulary in a fixed grammar.
    func generatedCorpus(_ n: Int, seed: UInt64 = 11) -> CharCorpus {
        let subjects = ["the cat", "a dog", "the bird"], verbs = ["sat on", "ran to", "looked at"], objects = ["the mat", "a tree", "the house"]
        var rng = Philox(seed: seed)
        var text = ""
        while text.count < n {
            text += subjects[rng.below(3)] + " " + verbs[rng.below(3)] + " " + objects[rng.below(3)] + " "
        }
        let ids = try! Alphabet.text8.encode(Array(text.prefix(n).utf8), source: "generated")
        let (a, b, c) = CharCorpus.standardSplit(ids)
        return CharCorpus(name: "generated", alphabet: .text8, train: a, valid: b, test: c)
    }

    func smokeConfig(steps: Int = 80) -> LMTrainingConfig {
        var c = AlRfou2018.preset("smoke", dataset: "generated", vocab: 27)!
        c.training.steps = steps
        return c
    }

    func makeRun(_ c: LMTrainingConfig, _ corpus: CharCorpus, _ dir: String, resume: Bool = false) throws -> Trainer<LMTask> {
        try Trainer(task: LMTask(config: c, corpus: corpus, experiment: "al-rfou2018"), runDir: dir, resume: resume,
                    provenance: Provenance(command: ["test"], configJSON: c.json, seed: 1, threads: 2))
    }

    func testSmokeTrainingLearnsAGeneratedCorpus() throws {
        let dir = try makeTempDir()
        let c = smokeConfig(steps: 150)
        let corpus = generatedCorpus(40_000)
        let run = try makeRun(c, corpus, dir)
        let summary = try run.run()
        // Uniform guessing is log2(27) = 4.75 bpc; the grammar leaves well under 1.5 bpc of real uncertainty.
        XCTAssertLessThan(summary.results["valid_bpc"]!, 2.2, "validation bpc after 150 smoke steps")
        let f = try HDF5File.open(dir + "/metrics.h5")
        XCTAssertEqual(try f.read("train/step").int64s.count, 150)
        XCTAssertEqual(try f.read("eval/step").int64s, [40, 80, 120, 150])
        for key in ["loss", "loss_final", "loss_intermediate", "loss_next2", "lr", "grad_norm", "tokens_per_s", "wall_time"] {
            XCTAssertEqual(try f.read("train/\(key)").count, 150, key)
        }
        XCTAssertEqual(try f.attribute("experiment"), .string("al-rfou2018"))
        // Intermediate losses follow the schedule: with 2 layers, layer 1 stops after a quarter of training.
        let active = try f.read("train/active_intermediate").doubles
        XCTAssertEqual(active[0], 1)
        XCTAssertEqual(active[37], 1)  // step 38: 37/150 < 1/4
        XCTAssertEqual(active[38], 0)  // step 39: 38/150 >= 1/4

        // The run ends with the selected (best-validation) model scored on the whole test split.
        let evalBPC = try f.read("eval/bpc").doubles, evalSteps = try f.read("eval/step").int64s
        let best = evalBPC.indices.min { evalBPC[$0] < evalBPC[$1] }!
        XCTAssertEqual(try f.read("results/step").int64s, [evalSteps[best]])
        XCTAssertEqual(summary.bestStep, Int(evalSteps[best]))
        XCTAssertEqual(try f.read("results/valid_bpc").doubles, [evalBPC[best]], "the selected model's validation score is its periodic one")
        XCTAssertEqual(try f.read("results/test_symbols").doubles, [Double(corpus.test.count - 1)], "every test symbol but the first is scored")
        let testBPC = try f.read("results/test_bpc").doubles[0]
        XCTAssertLessThan(testBPC, 2.2)
        // best.h5 holds that model: rebuilt from its own stored configuration, it gives the same test score.
        let (selected, stored, step) = try LMTask.loadModel(checkpoint: dir + "/best.h5")
        XCTAssertEqual(stored, c)
        XCTAssertEqual(step, Int(evalSteps[best]))
        XCTAssertEqual(evaluateBPC(selected, ids: corpus.test, stride: c.evalStride).bpc, testBPC)
    }

    /// A checkpoint rebuilds exactly the model it was trained with, attention kind included.
    func testCheckpointRebuildsItsModelFromItsStoredConfiguration() throws {
        let corpus = generatedCorpus(5_000)
        for attention in [AttentionKind.softmax(block: 3), .decayedFastWeights(lambda: 0.9, eta: 0.5)] {
            var c = smokeConfig(steps: 3)
            c.model.attention = attention
            c.training.checkpointEvery = 3
            let dir = try makeTempDir()
            let run = try makeRun(c, corpus, dir)
            _ = try run.run()
            let (model, stored, _) = try LMTask.loadModel(checkpoint: dir + "/checkpoint.h5")
            XCTAssertEqual(stored.model.attention, attention)
            XCTAssertEqual(try HDF5File.open(dir + "/metrics.h5").attribute("attention"), .string(attention.name))
            let ids = Array(corpus.valid.prefix(200))
            XCTAssertEqual(evaluateBPC(model, ids: ids, stride: 4).bpc, evaluateBPC(run.task.model, ids: ids, stride: 4).bpc, "\(attention)")
        }
    }

    func testSlidingEvaluationMatchesBruteForce() {
        let config = TransformerConfig(vocab: 27, layers: 2, dModel: 16, heads: 2, dFF: 32, context: 8, positionsEveryLayer: true, attention: .softmax(block: 3))
        let model = TransformerLM<Float>(config, seed: 5)
        var rng = Philox(seed: 2)
        let ids = (0..<41).map { _ in UInt8(rng.below(27)) }
        // Brute force: each symbol p >= 1 predicted by running the model on exactly its history window.
        func bruteForce(historyStart: (Int) -> Int) -> Double {
            var nats = 0.0
            var r = Philox(seed: 0)
            for p in 1..<ids.count {
                let start = historyStart(p)
                let x = ids[start..<p].map { Int32($0) }
                let logits = Tape.withoutRecording { model.forward(x, batch: 1, length: x.count, rng: &r).logits }
                let row = Array(logits.values[((x.count - 1) * 27)..<(x.count * 27)]).map(Double.init)
                let m = row.max()!
                nats += m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +)) - row[Int(ids[p])]
            }
            return nats / Double(ids.count - 1) / Foundation.log(2.0)
        }
        let slide = evaluateBPC(model, ids: ids, stride: 1, batch: 5)
        XCTAssertEqual(slide.symbols, 40)
        XCTAssertEqual(slide.bpc, bruteForce { max(0, $0 - 8) }, accuracy: 1e-5)
        // stride = context: non-overlapping windows; 41 = 1 + 5 x 8 symbols, so every window is full.
        let blocks = evaluateBPC(model, ids: ids, stride: 8, batch: 2)
        XCTAssertEqual(blocks.symbols, 40)
        XCTAssertEqual(blocks.bpc, bruteForce { (($0 - 1) / 8) * 8 }, accuracy: 1e-5)
        XCTAssertEqual(evaluateBPC(model, ids: ids, stride: 1, maxSymbols: 10).symbols, 10)
    }
}
