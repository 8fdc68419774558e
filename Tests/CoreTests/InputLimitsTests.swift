import CharLM
import Foundation
import NN
import PaperAlRfou2018
import PaperFastWeights2016
import Runs
import XCTest

/// The shared checks of the commands' input: ranges, memory estimates, the stride, CRLF files.
final class InputLimitsTests: XCTestCase {
    func message(_ body: () throws -> Void) -> String? {
        do { try body() } catch { return "\(error)" }
        return nil
    }

    func testRangeChecksNameTheOptionTheRangeAndTheValue() {
        XCTAssertEqual(message { try checkRange("batch", -5, OptionLimits.batch) }, "--batch must be positive and at most 1048576 (got -5)")
        XCTAssertEqual(message { try checkRange("seed", UInt64.max, OptionLimits.seed) },
                       "--seed must be between 0 and 9223372036854775807 (got 18446744073709551615)")
        XCTAssertNil(message { try checkRange("seed", UInt64(Int64.max), OptionLimits.seed) })
        XCTAssertNil(message { try checkRange("batch", 1, OptionLimits.batch) })
        XCTAssertNil(message { try checkRange("batch", Int?.none, OptionLimits.batch) })
        XCTAssertEqual(try positiveIntegers("20,50", option: "hidden"), [20, 50])
        XCTAssertEqual(message { _ = try positiveIntegers("20,70000", option: "hidden") }, "--hidden must be positive and at most 65536 (got 70000)")
        XCTAssertEqual(message { _ = try positiveIntegers("20,x", option: "hidden") }, "--hidden: 'x' is not a positive integer")
    }

    /// The parameter count behind the memory estimate is the models' own, for every attention kind.
    func testParameterCountIsTheModels() {
        for kind in [AttentionKind.softmax(block: 64)] + AttentionKind.catalogue.compactMap({ AttentionKind.named($0.name) }) {
            for (everyLayer, nextButOne) in [(false, false), (true, true)] {
                let c = TransformerConfig(vocab: 27, layers: 2, dModel: 16, heads: 2, dFF: 24, context: 12, positionsEveryLayer: everyLayer,
                                          attention: kind, predictsNextButOne: nextButOne)
                XCTAssertEqual(c.parameterCount, TransformerLM<Float>(c, seed: 1).params.count, "\(kind.name)")
            }
        }
    }

    /// The estimate agrees with the peak memory measured for the paper's shapes (papers/al-rfou2018.md: t12 at
    /// batch 16, 5.4 GB; t64 at batch 4, 9.1 GB) within 25%, and grows with the batch.
    func testTrainingMemoryEstimateMatchesMeasuredPeaks() throws {
        var t12 = try XCTUnwrap(AlRfou2018.preset("t12", dataset: "text8", vocab: 27))
        var t64 = try XCTUnwrap(AlRfou2018.preset("t64", dataset: "text8", vocab: 27))
        t64.training.batch = 4
        XCTAssertEqual(t12.estimatedTrainingBytes / 5.4e9, 1, accuracy: 0.25)
        XCTAssertEqual(t64.estimatedTrainingBytes / 9.1e9, 1, accuracy: 0.25)
        let b16 = t12.estimatedTrainingBytes
        t12.training.batch = 32
        XCTAssertGreaterThan(t12.estimatedTrainingBytes, 1.8 * b16)
        // The retrieval models: the cpu grid fits anywhere, R = 65536 nowhere near a workstation.
        for kind in RetrievalModelKind.allCases {
            XCTAssertLessThan(try XCTUnwrap(FastWeights2016.preset("cpu", kind: kind, hidden: 100)).estimatedTrainingBytes, 1e9, kind.rawValue)
            XCTAssertGreaterThan(try XCTUnwrap(FastWeights2016.preset("cpu", kind: kind, hidden: 65536)).estimatedTrainingBytes, 6e10, kind.rawValue)
        }
    }

    /// A stride longer than the context cannot be honoured (a window scores at most its context): a problem of
    /// the configuration, not silently the context.
    func testEvaluationStrideLongerThanTheContextIsAProblem() throws {
        var c = try XCTUnwrap(AlRfou2018.preset("smoke", dataset: "text8", vocab: 27))
        c.evalStride = c.model.context
        XCTAssertEqual(c.problems, [])
        c.evalStride = c.model.context + 1
        XCTAssertEqual(c.problems, [strideProblem(option: "eval-stride", stride: 33, context: 32)])
    }

    /// "\r\n" is one Character in Swift: CRLF files must still split into their lines.
    func testRetrievalTSVWithCRLFReadsLikeLF() throws {
        let lf = "c9k8j3f1??c\t9\na1b2c3d4??b\t2\n\nq5w6e7r8??e\t7\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        XCTAssertEqual(try RetrievalSet.parse(crlf, name: "x.tsv"), try RetrievalSet.parse(lf, name: "x.tsv"))
        XCTAssertEqual(try RetrievalSet.parse(crlf, name: "x.tsv").count, 3)
        // Errors still name the right line.
        XCTAssertThrowsError(try RetrievalSet.parse(crlf + "a1b2c3d4??q\t2\r\n", name: "x.tsv")) { e in
            XCTAssertTrue("\(e)".hasPrefix("x.tsv:5: the query is not one of the keys"), "\(e)")
        }
    }

    /// Wikipedia XML with CRLF line ends cleans to the same text as with LF (the filter works on bytes, and
    /// wikifil.pl maps both "\r" and "\n" to a space).
    func testWikiFilterCleansCRLFLikeLF() {
        let xml = "<page><title>T</title><text xml:space=\"preserve\">One [[two|Three]]\n{{cite|x}} 4 &amp; five\n[[Category:Six]]</text></page>\n"
        let lf = WikiFilter().clean(Array(xml.utf8))
        XCTAssertEqual(String(decoding: lf, as: UTF8.self), " one three four five six")
        XCTAssertEqual(WikiFilter().clean(Array(xml.replacingOccurrences(of: "\n", with: "\r\n").utf8)), lf)
    }

    /// --clip reaches the configuration (0: no clipping), other values stay the preset's.
    func testClipOptionOverridesThePreset() throws {
        var t = TrainingConfig(steps: 10, batch: 4, optimizer: .adam, lr: 1e-3, clip: 5, evalEvery: 5, checkpointEvery: 5, seed: 1)
        try TrainingOptions.parse(["--clip", "0"]).apply(to: &t)
        XCTAssertEqual(t.clip, 0)
        try TrainingOptions.parse([]).apply(to: &t)
        XCTAssertEqual(t.clip, 0)
        XCTAssertEqual(t.lr, 1e-3)
    }
}
