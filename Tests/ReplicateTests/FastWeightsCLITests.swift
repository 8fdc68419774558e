import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation
import XCTest

/// `replicate fastweights` end to end through the binary: export, train from the exported files, resume,
/// redraw, and bad input.
final class FastWeightsCLITests: XCTestCase {
    func testExportTrainFromFilesAndRedraw() throws {
        let dir = try makeTempDirectory()
        var (rc, out, err) = try runReplicate(["fastweights", "export-data", dir + "/data", "--pairs", "3", "--sizes", "600,100,120", "--seed", "4"])
        XCTAssertEqual(rc, 0, err)
        let train = try String(contentsOfFile: dir + "/data/train.tsv", encoding: .utf8)
        XCTAssertEqual(train.split(separator: "\n").count, 600)
        XCTAssertEqual(train.split(separator: "\n")[0].count, 11)  // 9 symbols, a tab, the digit
        // The same export again gives the same bytes (same seed, same data).
        (rc, _, err) = try runReplicate(["fastweights", "export-data", dir + "/again", "--pairs", "3", "--sizes", "600,100,120", "--seed", "4"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(try String(contentsOfFile: dir + "/again/train.tsv", encoding: .utf8), train)

        let root = dir + "/runs/fastweights/retrieval"
        let common = ["fastweights", "--task", "retrieval", "--preset", "smoke", "--data", dir + "/data", "--models", "fast-weights,linear-transformer",
                      "--hidden", "8", "--steps", "30", "--eval-every", "10", "--checkpoint-every", "10", "--run-root", root,
                      "--also-evaluate", dir + "/data/test.tsv", "--lambda", "0.9", "--no-token-shift"]
        (rc, out, err) = try runReplicate(common + ["--jobs", "1", "--stop-after", "25"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("fast-weights-R8: stopped after step 25"), out)
        (rc, out, err) = try runReplicate(common)
        XCTAssertNotEqual(rc, 0, "a second grid into the same runs must not overwrite them")
        (rc, out, err) = try runReplicate(common + ["--resume", "--jobs", "2"])
        XCTAssertEqual(rc, 0, err)
        // The paper's numbers, labelled, beside ours.
        XCTAssertTrue(out.contains("| model | R=8 paper | R=8 ours | R=20 paper | R=20 ours |"), out)
        XCTAssertTrue(out.split(separator: "\n").contains { $0.hasPrefix("| Fast weights |") && $0.contains("| 1.81 |") }, out)
        XCTAssertTrue(out.contains("| fast-weights-R8 |") && out.contains("| linear-transformer-R8 |"), out)
        XCTAssertTrue(out.contains("test error %"), out)
        // Options reach the runs trained in child processes.
        for run in ["fast-weights-R8", "linear-transformer-R8"] {
            let json = try XCTUnwrap(try HDF5File.open(root + "/\(run)/metrics.h5").attribute("config")?.stringValue)
            let config = try RetrievalTrainingConfig.fromJSON(json)
            XCTAssertEqual(config.model.lambda, 0.9)
            XCTAssertFalse(config.model.tokenShift)
            XCTAssertEqual(config.training.checkpointEvery, 10)
            XCTAssertEqual(config.data, dir + "/data")
        }
        let log = try String(contentsOfFile: root + "/fast-weights-R8/train.log", encoding: .utf8)
        XCTAssertTrue(log.contains("resuming at step 20"), log)
        let metrics = try HDF5File.open(root + "/fast-weights-R8/metrics.h5")
        XCTAssertEqual(try metrics.read("train/step").int64s, (1...30).map(Int64.init))
        XCTAssertEqual(try metrics.read("eval/step").int64s, [10, 20, 30])
        // The extra file is the test split itself: the same error as the test column.
        XCTAssertEqual(try metrics.read("results/also_test_error").doubles, try metrics.read("results/test_error").doubles)
        XCTAssertEqual(try metrics.attribute("extra_sets")?.stringValue, "test")

        if Gnuplot.executable != nil {
            try FileManager.default.removeItem(atPath: root + "/results.md")
            (rc, out, err) = try runReplicate(["figures", dir + "/runs"])
            XCTAssertEqual(rc, 0, err)
            for f in ["results.md", "figures/test_error_R8.png", "figures/test_loss_R8.png", "figures/table1_bars.png"] { XCTAssertTrue(out.contains(root + "/" + f), out) }
            let table = try String(contentsOfFile: root + "/results.md", encoding: .utf8)
            XCTAssertTrue(table.contains("| fast-weights-R8 |") && table.contains("test error %"), table)
            let report = try String(contentsOfFile: dir + "/runs/report.md", encoding: .utf8)
            XCTAssertTrue(report.contains("## Ba et al. 2016") && report.contains("| Fast weights, R = 20, test error | 1.81 % | recalled"), report)
            // Each run records the grid's command (which reproduces it), also the runs trained in child processes.
            let row = try XCTUnwrap(report.split(separator: "\n").first { $0.hasPrefix("| fastweights/retrieval/linear-transformer-R8 |") }, report)
            XCTAssertTrue(row.contains("--also-evaluate") && row.contains("--jobs 2") && !row.contains("--resolved-config"), String(row))
        }
    }

    func testBadInputIsOneLine() throws {
        let dir = try makeTempDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/bad", withIntermediateDirectories: true)
        for name in ["train", "validation", "test"] {
            try Data("a1b2c3d4??b\t2\na1b2c3d4??b\t2\na1b2c3d4??q\t2\n".utf8).write(to: URL(fileURLWithPath: dir + "/bad/\(name).tsv"))
        }
        let cases: [([String], String)] = [
            (["fastweights", "--task", "mnist"], "not implemented"),
            (["fastweights", "--models", "gru"], "unknown model 'gru'"),
            (["fastweights", "--hidden", "20,x"], "not a positive integer"),
            (["fastweights", "--steps", "0"], "--steps must be positive"),
            (["fastweights", "--lambda", "2"], "--lambda"),
            (["fastweights", "--data", dir + "/bad", "--run-root", dir + "/r"], "train.tsv:3: the query is not one of the keys"),
            (["fastweights", "--data", dir + "/missing", "--run-root", dir + "/r"], "no train.tsv"),
            (["fastweights", "--preset", "smoke", "--also-evaluate", dir + "/nope.tsv", "--run-root", dir + "/r"], "cannot read"),
            (["fastweights", "export-data", dir + "/x", "--sizes", "1,2"], "--sizes"),
            (["fastweights", "--models", "lstm,a-lstm", "--hidden", "20,7"], "a-lstm needs an even hidden size"),
        ]
        for (args, why) in cases {
            let (rc, out, err) = try runReplicate(args)
            XCTAssertNotEqual(rc, 0, "\(args)")
            XCTAssertEqual(err.filter { $0 == "\n" }.count, 1, "\(args): \(err)")
            XCTAssertTrue(err.hasPrefix("error: ") && err.contains(why), "\(args): \(err)")
            XCTAssertFalse(out.contains("step"), "\(args)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/r"), "nothing is written when the input is bad")
    }

    /// The Table 1 figure draws the paper's numbers (hatched) beside ours (solid) for the models and sizes both have.
    func testTable1FigureShowsThePaperBesideOurs() throws {
        guard Gnuplot.executable != nil else { throw XCTSkip("gnuplot is not installed") }
        let dir = try makeTempDirectory()
        let root = dir + "/runs/fastweights/retrieval"
        var (rc, _, err) = try runReplicate(["fastweights", "--preset", "smoke", "--models", "lstm,a-lstm", "--hidden", "20", "--steps", "10",
                                             "--eval-every", "10", "--checkpoint-every", "10", "--jobs", "1", "--run-root", root])
        XCTAssertEqual(rc, 0, err)
        (rc, _, err) = try runReplicate(["figures", dir + "/runs", "--format", "svg"])
        XCTAssertEqual(rc, 0, err)
        let svg = try String(contentsOfFile: root + "/figures/table1_paper_vs_ours.svg", encoding: .utf8)
        for name in ["LSTM: paper", "LSTM: ours", "A-LSTM (Associative LSTM): paper", "A-LSTM (Associative LSTM): ours", "R = 20"] {
            XCTAssertTrue(svg.contains(name), name)
        }
        XCTAssertFalse(svg.contains("Fast weights: paper"), "only the models that were run")
        XCTAssertTrue(svg.contains("<pattern"), "the paper's bars are hatched")
    }
}
