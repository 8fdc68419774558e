import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation
import XCTest

/// `replicate al-rfou2018` end to end through the binary, on a small generated corpus.
final class AlRfouCLITests: XCTestCase {
    func corpusFile(_ dir: String) throws -> String {
        try writeWordCorpus(dir + "/corpus.txt", seed: 4)
        return dir + "/corpus.txt"
    }

    func testTrainResumeEvaluateAndRedrawFigures() throws {
        let dir = try makeTempDirectory()
        let corpus = try corpusFile(dir)
        let runDir = dir + "/runs/al-rfou2018/smoke"
        let common = ["al-rfou2018", "--preset", "smoke", "--data-file", corpus, "--alphabet", "text8", "--run-dir", runDir, "--steps", "40",
                      "--checkpoint-every", "20", "--eval-every", "20"]
        // Stopped after step 30 (last checkpoint: 20), then resumed to the end.
        var (rc, out, err) = try runReplicate(common + ["--stop-after", "30"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("stopped after step 30"), out)
        (rc, out, err) = try runReplicate(common)
        XCTAssertNotEqual(rc, 0, "a second run into the same directory must not overwrite it")
        XCTAssertTrue(err.contains("--resume"), err)
        (rc, out, err) = try runReplicate(common + ["--resume"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("resuming at step 20"), out)
        XCTAssertTrue(out.contains("| paper: T12 | 44M | 1.18 | 1.11 |"), out)
        XCTAssertTrue(out.contains("stride 16 approximation"), out)
        // The run ends with the selected model's test bits per character, the whole test split scored.
        XCTAssertTrue(out.contains("| test (selected, step "), out)
        XCTAssertTrue(out.contains("selected model: \(runDir)/best.h5"), out)

        (rc, out, err) = try runReplicate(["al-rfou2018", "eval", "--checkpoint", runDir + "/checkpoint.h5", "--split", "test",
                                           "--stride", "1", "--max-symbols", "300", "--data-file", corpus])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("| test |") && out.contains("paper's protocol, 300 symbols"), out)
        // Sampling from the checkpoint: the same seed gives the same text; symbols outside the alphabet are named.
        let sample = ["sample", "--checkpoint", runDir + "/best.h5", "--prompt", "the cat ", "--length", "40", "--seed", "3", "--top-k", "5"]
        let (rc1, text1, err1) = try runReplicate(sample)
        XCTAssertEqual(rc1, 0, err1)
        XCTAssertTrue(text1.hasPrefix("the cat ") && text1.count == "the cat ".count + 40 + 1, text1)
        XCTAssertTrue(text1.dropLast().allSatisfy { $0 == " " || ("a"..."z").contains($0) }, text1)
        XCTAssertEqual(try runReplicate(sample).1, text1)
        (rc, out, err) = try runReplicate(["sample", "--checkpoint", runDir + "/best.h5", "--prompt", "The cat!"])
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(err.hasPrefix("error: ") && err.contains("'!'") && err.contains("'T'") && err.filter { $0 == "\n" }.count == 1, err)
        let metrics = try HDF5File.open(runDir + "/metrics.h5")
        XCTAssertEqual(try metrics.read("results_test/stride").doubles, [1])
        XCTAssertEqual(try metrics.read("train/step").int64s, (1...40).map(Int64.init))

        if Gnuplot.executable != nil {
            (rc, out, err) = try runReplicate(["figures", dir + "/runs"])
            XCTAssertEqual(rc, 0, err)
            for f in ["train_loss.png", "bpc_by_step.png", "bpc_by_wall_time.png"] { XCTAssertTrue(out.contains(runDir + "/figures/" + f), out) }
            let table = try String(contentsOfFile: dir + "/runs/al-rfou2018/results.md", encoding: .utf8)
            XCTAssertTrue(table.contains("| smoke | 40 | test |") && table.contains("paper's protocol"), table)
            XCTAssertTrue(table.contains("| test (selected model) |"), table)
            // One report for a write-up: the paper's numbers with their status, our table, the figures, the runs.
            XCTAssertTrue(out.hasSuffix(dir + "/runs/report.md\n"), out)
            let report = try String(contentsOfFile: dir + "/runs/report.md", encoding: .utf8)
            XCTAssertTrue(report.contains("## Al-Rfou et al. 2018"), report)
            XCTAssertTrue(report.contains("| T12 (44M) test, text8 | 1.18 bpc | recalled"), report)
            XCTAssertTrue(report.contains("![al-rfou2018/smoke/figures/bpc_by_step.png](al-rfou2018/smoke/figures/bpc_by_step.png)"), report)
            let runRow = try XCTUnwrap(report.split(separator: "\n").first { $0.hasPrefix("| al-rfou2018/smoke |") }, report)
            XCTAssertTrue(runRow.contains("--resume") && runRow.contains("| finished |"), String(runRow))
        }
    }

    func testBadInputIsOneLine() throws {
        let dir = try makeTempDirectory()
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: dir + "/bad.h5"))
        let cases: [[String]] = [
            ["al-rfou2018", "--preset", "huge"],
            ["al-rfou2018", "--dataset", "text8", "--data-dir", dir, "--run-dir", dir + "/r"],
            ["al-rfou2018", "--data-file", dir + "/missing.txt", "--run-dir", dir + "/r"],
            ["al-rfou2018", "--steps", "0"],
            ["al-rfou2018", "--lr", "nan"],
            ["al-rfou2018", "eval", "--checkpoint", dir + "/bad.h5"],
            ["al-rfou2018", "eval", "--checkpoint", dir + "/missing.h5"],
            ["al-rfou2018", "eval", "--checkpoint", dir + "/bad.h5", "--stride", "0"],
            ["data", "fetch", "wikipedia"],
            ["data", "clean-wiki", dir + "/missing.xml", dir + "/out.txt"],
        ]
        for args in cases {
            let (rc, out, err) = try runReplicate(args)
            XCTAssertNotEqual(rc, 0, "\(args)")
            XCTAssertEqual(err.filter { $0 == "\n" }.count, 1, "\(args): \(err)")
            XCTAssertTrue(err.hasPrefix("error: "), "\(args): \(err)")
            XCTAssertFalse(out.contains("step"), "\(args)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.txt"))
    }
}
