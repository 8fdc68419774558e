import Engine
import NN
import Runs
import PaperBrebisson2016
import XCTest

/// de Brébisson & Vincent's readers: a PyTorch reference for every reader in both directions
/// (Fixtures/cloze_readers.h5 from scripts/make_cloze_fixture.py), the linear readers' fixed-size memory against
/// the states they summarise, and finite differences.
final class ClozeModelTests: XCTestCase {
    struct Fixture {
        let file: HDF5File
        let config: (vocabulary: Int, entities: Int, embedding: Int, hidden: Int, output: Int)
        let examples: [ClozeExample]
    }

    func fixture() throws -> Fixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/cloze_readers", withExtension: "h5"))
        let f = try HDF5File.open(url.path)
        func attr(_ name: String) throws -> Int { Int(try XCTUnwrap(f.attribute(name)?.intValue)) }
        let entities = try attr("entities")
        func rows(_ ids: String, _ lengths: String) throws -> [[Int32]] {
            let l = try f.read(lengths).doubles.map { Int($0) }, all = try f.read(ids).doubles
            let width = all.count / l.count
            return l.enumerated().map { i, n in all[(i * width)..<(i * width + n)].map { Int32($0) } }
        }
        let stories = try rows("story_ids", "story_lengths"), queries = try rows("query_ids", "query_lengths")
        let answers = try f.read("answers").doubles, mask = try f.read("candidate_mask").doubles
        let examples = stories.indices.map { i in
            ClozeExample(story: stories[i], query: queries[i], answer: Int32(answers[i]),
                         candidates: (0..<entities).filter { mask[i * entities + $0] == 1 }.map { Int32($0) })
        }
        return Fixture(file: f, config: (try attr("vocabulary"), entities, try attr("embedding"), try attr("hidden"), try attr("output")),
                       examples: examples)
    }

    func model(_ fx: Fixture, reader: ClozeReader, bidirectional: Bool) -> ClozeModel<Double> {
        let c = fx.config
        return ClozeModel<Double>(ClozeModelConfig(reader: reader, vocabulary: c.vocabulary, entities: c.entities, embedding: c.embedding,
                                                   hidden: c.hidden, output: c.output, bidirectional: bidirectional), seed: 1)
    }

    func testEveryReaderMatchesThePyTorchReference() throws {
        let fx = try fixture()
        let batch = ClozeBatch(fx.examples)
        for reader in ClozeReader.allCases {
            for bidirectional in [false, true] {
                let group = "\(reader.rawValue)_\(bidirectional ? "bi" : "uni")"
                let m = model(fx, reader: reader, bidirectional: bidirectional)
                for name in m.params.names {
                    let values = try fx.file.read("\(group)/params/\(name)").doubles
                    let p = try XCTUnwrap(m.params[name])
                    XCTAssertEqual(values.count, p.count, "\(group): \(name)")
                    p.data.update(from: values, count: p.count)
                }
                let tape = Tape()
                var none: Philox? = nil
                let (logits, loss) = tape.recording { () -> (Tensor<Double>, Tensor<Double>) in
                    let l = m.logits(batch, rng: &none)
                    return (l, crossEntropy(l, targets: batch.answers))
                }
                XCTAssertLessThan(maxRelativeError(logits.values, try fx.file.read("\(group)/logits").doubles), 1e-10, group)
                XCTAssertEqual(loss.scalar, try fx.file.read("\(group)/loss").doubles[0], accuracy: 1e-10, group)
                tape.backward(from: loss)
                for name in m.params.names {
                    let expected = try fx.file.read("\(group)/grad/\(name)").doubles
                    XCTAssertLessThan(maxRelativeError(try XCTUnwrap(m.params[name]).gradValues, expected), 1e-9, "\(group): grad \(name)")
                }
            }
        }
    }

    /// The linear readers' read equals C q / T with C = sum_t g_t h_t h_t^T formed explicitly from the story
    /// states: the d x d memory a story is reduced to, queried without its states.
    func testLinearReadIsTheFixedSizeMemoryQueried() throws {
        let fx = try fixture()
        let batch = ClozeBatch(fx.examples)
        for reader in [ClozeReader.linear, .gatedLinear] {
            let m = model(fx, reader: reader, bidirectional: true)
            if reader == .gatedLinear {  // a gate that differs per position
                let w = try XCTUnwrap(m.params["gate.weight"])
                for i in 0..<w.count { w.data[i] = Double(i % 3) - 0.7 }
            }
            var none: Philox? = nil
            let (states, _, q) = Tape.withoutRecording { m.encode(batch, rng: &none) }
            let read = Tape.withoutRecording { m.read(states: states, q: q, lengths: batch.storyLengths) }
            let d = m.config.stateSize, steps = states.shape[1]
            for b in 0..<batch.size {
                let h = (0..<batch.storyLengths[b]).map { t in Array(states.values[((b * steps + t) * d)..<((b * steps + t + 1) * d)]) }
                let memory = LinearStoryMemory(states: h.flatMap { $0 }, dimension: d, gates: reader == .gatedLinear ? m.gateValues(h) : nil)
                XCTAssertEqual(memory.bytes, d * d * MemoryLayout<Double>.size)
                let expected = memory.lookup(Array(q.values[(b * d)..<((b + 1) * d)]))
                XCTAssertLessThan(maxRelativeError(Array(read.values[(b * d)..<((b + 1) * d)]), expected), 1e-12, "\(reader) example \(b)")
            }
        }
    }

    func testGradientsMatchFiniteDifferences() throws {
        let fx = try fixture()
        let batch = ClozeBatch(fx.examples)
        for reader in ClozeReader.allCases {
            let m = model(fx, reader: reader, bidirectional: reader == .softmax)
            var none: Philox? = nil
            // Probabilities, not logits: the -1e9 of the non-candidates would drown the differences.
            gradCheck(m.params.tensors, tolerance: 1e-6) { _ in softmax(m.logits(batch, rng: &none)) }
        }
    }

    func testPaddingDoesNotChangeAnExample() throws {
        // An example alone and in a batch beside a longer one: the same logits (padding never enters a state).
        let fx = try fixture()
        for reader in ClozeReader.allCases {
            let m = model(fx, reader: reader, bidirectional: true)
            var none: Philox? = nil
            let together = Tape.withoutRecording { m.logits(ClozeBatch(fx.examples), rng: &none) }.values
            let e = fx.config.entities
            for (i, example) in fx.examples.enumerated() {
                let alone = Tape.withoutRecording { m.logits(ClozeBatch([example]), rng: &none) }.values
                XCTAssertLessThan(maxRelativeError(alone, Array(together[(i * e)..<((i + 1) * e)])), 1e-12, "\(reader) example \(i)")
            }
        }
    }
}
