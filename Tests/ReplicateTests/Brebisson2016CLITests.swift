import Engine
import Runs
import PaperBrebisson2016
import Foundation
import XCTest

/// `replicate brebisson2016` end to end through the binary: the readers separate on the synthetic default, the
/// report and figures come back from the run files alone, every input format reads the same questions, and bad
/// input is one line.
final class Brebisson2016CLITests: XCTestCase {
    func testAttendingReadersBeatNoAttentionAndTheReportRedraws() throws {
        let dir = try makeTempDirectory(), root = dir + "/runs/brebisson2016/smoke"
        var (rc, out, err) = try runReplicate(["brebisson2016", "--preset", "smoke", "--readers", "softmax,linear,none", "--out", root])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("NOT CNN") && out.contains("| CNN anchor: Attentive Reader (Hermann et al. 2015) | | | | | 61.6 | 63.0 |"), out)
        func accuracy(_ reader: String) throws -> Double {
            try XCTUnwrap(try HDF5File.open(root + "/\(reader)/metrics.h5").read("results/test_accuracy").doubles.last)
        }
        // A loose bound: both attending readers clearly above the reader that keeps only the story's final state.
        let none = try accuracy("none")
        XCTAssertGreaterThan(try accuracy("softmax"), none + 0.1)
        XCTAssertGreaterThan(try accuracy("linear"), none + 0.1)
        // The lookup cost: the linear reader's story is d x d bytes whatever its length, the softmax reader's grows.
        let lookup = try LookupResults.read(root + "/lookup.h5")
        XCTAssertEqual(lookup.costs.map(\.length), LookupBenchmark.lengths)
        XCTAssertEqual(Set(lookup.costs.map(\.linearBytes)), [32 * 32 * 4])
        XCTAssertEqual(lookup.costs.map(\.softmaxBytes), LookupBenchmark.lengths.map { $0 * 32 * 4 })
        XCTAssertTrue(lookup.costs.allSatisfy { $0.softmaxSeconds > 0 && $0.linearSeconds > 0 })

        // `figures` rebuilds the same table from the files alone.
        let table = try String(contentsOfFile: root + "/results.md", encoding: .utf8)
        try FileManager.default.removeItem(atPath: root + "/results.md")
        try FileManager.default.removeItem(atPath: root + "/figures")
        (rc, out, err) = try runReplicate(["figures", dir + "/runs"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(try String(contentsOfFile: root + "/results.md", encoding: .utf8), table)
        if Gnuplot.executable != nil {
            for f in ["accuracy_by_reader", "valid_accuracy_during_training", "accuracy_by_story_length", "lookup_time_by_story_length",
                      "story_bytes_by_story_length"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/figures/\(f).png"), f)
            }
        }
        let report = try String(contentsOfFile: dir + "/runs/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("de Brébisson & Vincent 2016") && report.contains("| CNN test accuracy, Attentive Reader"), report)
    }

    /// The same questions as a directory of .question files, a .tar.gz and a .zip of it, and Chen et al.'s text
    /// files: the same run, to the last bit.
    func testEveryInputFormatGivesTheSameRun() throws {
        let dir = try makeTempDirectory()
        let generator = try SyntheticCloze(storyLength: 40, entities: 4, facts: 2, seed: 9)
        let counts = (train: 60, validation: 12, test: 12)
        try generator.write(to: dir + "/tree", counts: counts)
        var members: [(name: String, bytes: [UInt8])] = []
        for split in ClozeSplit.allCases {
            let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/tree/" + split.directory).sorted()
            var chen = ""
            for f in files {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/tree/\(split.directory)/\(f)")))
                members.append(("cnn/questions/\(split.directory)/\(f)", bytes))
                let blocks = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\n\n")
                chen += "\(blocks[2])\n\(blocks[3])\n\(blocks[1])\n\n"  // query, answer, story, blank line
            }
            try FileManager.default.createDirectory(atPath: dir + "/chen", withIntermediateDirectories: true)
            try Data(chen.utf8).write(to: URL(fileURLWithPath: dir + "/chen/" + split.chenFile))
        }
        try Archive.write(to: dir + "/cnn.tar.gz", members: members, format: .tarGz)
        try Archive.write(to: dir + "/cnn.zip", members: members.reversed(), format: .zip(deflate: true))

        var results: [[Double]] = []
        for (i, input) in [(dir + "/tree", "question"), (dir + "/cnn.tar.gz", "question"), (dir + "/cnn.zip", "question"), (dir + "/chen", "chen")].enumerated() {
            let root = dir + "/runs\(i)"
            let (rc, out, err) = try runReplicate(["brebisson2016", "--preset", "smoke", "--data", input.0, "--format", input.1, "--readers", "gated-linear",
                                                   "--steps", "6", "--eval-every", "3", "--no-lookup", "--out", root])
            XCTAssertEqual(rc, 0, "\(input): \(err)")
            XCTAssertTrue(out.contains("60 / 12 / 12 questions") && out.contains("Questions read from"), out)
            let f = try HDF5File.open(root + "/gated-linear/metrics.h5")
            results.append(try f.read("train/loss").doubles + f.read("eval/test_loss").doubles + f.read("results/valid_accuracy").doubles)
        }
        for r in results.dropFirst() { XCTAssertEqual(r, results[0]) }
    }

    func testBadInputIsOneLineAndKeepsGoodRuns() throws {
        let dir = try makeTempDirectory()
        let generator = try SyntheticCloze(storyLength: 40, entities: 4, facts: 2, seed: 3)
        try generator.write(to: dir + "/data", counts: (train: 30, validation: 6, test: 6))
        let broken = dir + "/data/training/0-broken.question"
        try Data("http://example\n\nno story here\n".utf8).write(to: URL(fileURLWithPath: broken))
        let cases: [([String], String)] = [
            (["--data", dir + "/missing"], "no such file or directory"),
            (["--data", dir + "/data", "--format", "xml"], "--format must be question or chen"),
            (["--format", "chen"], "--format chen needs --data"),
            (["--readers", "softmax,bogus"], "unknown reader 'bogus'"),
            (["--data", dir + "/data", "--story-lengths", "50"], "--story-lengths shapes the synthetic task"),
            (["--data", dir + "/data", "--strict"], "0-broken.question"),
            (["--data", dir + "/data/training/0-broken.question"], "not a readable archive"),
            (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
            (["--preset", "huge"], "--preset must be one of smoke, cpu, paper"),
            (["--story-lengths", "100000"], "needs an estimated"),
            (["--story-lengths", "10"], "needs 56...1000000 tokens"),
        ]
        for (args, expected) in cases {
            let (rc, _, err) = try runReplicate(["brebisson2016", "--out", dir + "/runs"] + args)
            XCTAssertNotEqual(rc, 0, "\(args)")
            let lines = err.split(separator: "\n").filter { !$0.hasPrefix("warning:") }
            XCTAssertEqual(lines.count, 1, "\(args): \(err)")
            XCTAssertTrue(err.contains(expected), "\(args): \(err)")
        }
        // Without --strict the broken file is skipped, named in a warning, and counted; the run goes on.
        var (rc, out, err) = try runReplicate(["brebisson2016", "--preset", "smoke", "--data", dir + "/data", "--readers", "none", "--steps", "4",
                                               "--eval-every", "2", "--no-lookup", "--out", dir + "/runs"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(err.contains("warning:") && err.contains("0-broken.question"), err)
        XCTAssertTrue(out.contains("30 / 6 / 6 questions"), out)
        // A second run into the same directory refuses before touching the finished one.
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/runs/none/checkpoint.h5"))
        (rc, out, err) = try runReplicate(["brebisson2016", "--preset", "smoke", "--data", dir + "/data", "--readers", "none", "--steps", "4",
                                           "--no-lookup", "--out", dir + "/runs"])
        XCTAssertNotEqual(rc, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/runs/none/checkpoint.h5")), before)
    }
}
