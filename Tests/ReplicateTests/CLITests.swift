import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation
import XCTest

/// Runs the `replicate` executable that `swift test` built beside this test bundle.
func replicateBinary() throws -> String {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    // The test runner lives in .build/<config>/<name>.xctest (a file on Linux); the binary sits beside it.
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("replicate").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    throw XCTSkip("replicate binary not found beside \(exe.path); run `swift build` first")
}

func runReplicate(_ args: [String]) throws -> (Int32, String, String) {
    let r = try Subprocess.run(try replicateBinary(), args)
    return (r.status, r.outputText, r.errorText)
}

/// A corpus of random words over the text8 alphabet, `symbols` long, written to `path`.
func writeWordCorpus(_ path: String, seed: UInt64, symbols: Int = 20_000) throws {
    var rng = Philox(seed: seed)
    let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran"]
    var text = ""
    while text.utf8.count < symbols { text += words[rng.below(words.count)] + " " }
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

func fixture(_ name: String) -> String {
    Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!.path
}

final class CLITests: XCTestCase {
    func testInspectShowsAnH5pyFixture() throws {
        let (rc, out, err) = try runReplicate(["inspect", fixture("h5py_metrics.h5")])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("@command = replicate demo --steps 5"), out)
        XCTAssertTrue(out.contains("@seed = 1234"), out)
        XCTAssertTrue(out.contains("loss  float64 [5]  series, last = 2.125"), out)
        XCTAssertTrue(out.contains("step  int64 [5]  series, last = 5"), out)
        XCTAssertTrue(out.contains("embedding  float32 [4, 3]"), out)
    }

    func testVersionNamesTheBLASKernel() throws {
        let (rc, out, _) = try runReplicate(["--version"])
        XCTAssertEqual(rc, 0)
        XCTAssertTrue(out.hasPrefix("replicate "), out)
        XCTAssertTrue(out.contains("kernel "), out)
        XCTAssertTrue(out.contains("HDF5: 1."), out)
    }

    /// REPLICATE_BLAS picks the library: `openblas` OpenBLAS, `mkl` oneMKL (setup.sh installs it) or a one-line
    /// error; an unknown value or an unloadable REPLICATE_MKL stops a training command in one line, before it
    /// writes anything. Both libraries train the same run to the same losses up to float rounding, and record
    /// which one ran.
    func testBLASChoice() throws {
        let bin = try replicateBinary()
        let openblas = try Subprocess.run(bin, ["--version"], environment: ["REPLICATE_BLAS": "openblas"])
        XCTAssertTrue(openblas.outputText.contains("BLAS: OpenBLAS "), openblas.outputText)
        let dir = try makeTempDirectory()
        try writeWordCorpus(dir + "/corpus.txt", seed: 5)
        let run = ["al-rfou2018", "--preset", "smoke", "--data-file", dir + "/corpus.txt", "--alphabet", "text8", "--steps", "6",
                   "--eval-every", "6", "--threads", "2"]
        for (env, message) in [(["REPLICATE_BLAS": "atlas"], "error: REPLICATE_BLAS=atlas: expected mkl, openblas or auto\n"),
                               (["REPLICATE_MKL": dir + "/no-such-libmkl_rt.so"], "error: cannot load REPLICATE_MKL=\(dir)/no-such-libmkl_rt.so: "
                                + "\(dir)/no-such-libmkl_rt.so: cannot open shared object file: No such file or directory\n")] {
            let bad = try Subprocess.run(bin, run + ["--out", dir + "/bad"], environment: env)
            XCTAssertNotEqual(bad.status, 0)
            XCTAssertEqual(bad.errorText, message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad/metrics.h5"))
        }
        guard FileManager.default.fileExists(atPath: "/opt/replicate-mkl/lib/libmkl_rt.so.3") else {
            throw XCTSkip("oneMKL not installed (./setup.sh installs it)")
        }
        var losses: [[Double]] = []
        for blas in ["openblas", "mkl"] {
            let r = try Subprocess.run(bin, run + ["--out", dir + "/" + blas], environment: ["REPLICATE_BLAS": blas])
            XCTAssertEqual(r.status, 0, r.errorText)
            let f = try HDF5File.open(dir + "/\(blas)/metrics.h5")
            XCTAssertEqual(try f.attribute("blas_vendor")?.stringValue, blas == "mkl" ? "oneMKL" : "OpenBLAS")
            losses.append(try f.read("train/loss").doubles)
        }
        XCTAssertEqual(losses[0].count, 6)
        for (a, b) in zip(losses[0], losses[1]) { XCTAssertEqual(a, b, accuracy: 1e-4 * abs(a)) }
    }

    /// Run files record the commit the binary was built from (embedded at build time), not whatever the
    /// repository holds when the run starts; `--version` prints the same commit.
    func testRunFilesRecordTheCommitTheBinaryWasBuiltFrom() throws {
        let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        guard let head = try? Subprocess.run("/usr/bin/git", ["-C", packageDir, "rev-parse", "HEAD"]), head.status == 0 else {
            throw XCTSkip("not a git checkout")
        }
        let commit = head.outputText.trimmingCharacters(in: .whitespacesAndNewlines)
        let dir = try makeTempDirectory()
        var text = ""
        while text.utf8.count < 3_000 { text += "the cat sat on the mat " }
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/c.txt"))
        let (rc, _, err) = try runReplicate(["al-rfou2018", "--preset", "smoke", "--steps", "2", "--data-file", dir + "/c.txt", "--alphabet", "text8",
                                             "--out", dir + "/run"])
        XCTAssertEqual(rc, 0, err)
        let f = try HDF5File.open(dir + "/run/metrics.h5")
        // The tests are built from the checkout they run in, so the build's commit is its HEAD.
        XCTAssertEqual(try f.attribute("code_commit")?.stringValue, commit)
        XCTAssertTrue(["clean", "dirty"].contains(try f.attribute("code_dirty")?.stringValue ?? ""))
        XCTAssertNil(try f.attribute("source_tree_commit_at_start"), "recorded only when HEAD differs from the build's commit")
        XCTAssertEqual(try Checkpoint.open(dir + "/run/checkpoint.h5").attribute("code_commit")?.stringValue, commit)
        let (_, version, _) = try runReplicate(["--version"])
        XCTAssertTrue(version.contains("commit \(commit.prefix(12))"), version)
    }

    func testBadInputIsOneLineAndNonZero() throws {
        let dir = try makeTempDirectory()
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: dir + "/bad.h5"))
        for args in [["--bogus"], ["inspect"], ["inspect", dir + "/missing.h5"], ["inspect", dir + "/bad.h5"],
                     ["figures", dir + "/nowhere"], ["figures", dir, "--format", "gif"], ["no-such-command"]] {
            let (rc, out, err) = try runReplicate(args)
            XCTAssertNotEqual(rc, 0, "\(args)")
            XCTAssertEqual(out, "", "\(args)")
            XCTAssertEqual(err.filter { $0 == "\n" }.count, 1, "\(args): \(err)")
            XCTAssertTrue(err.hasPrefix("error: "), "\(args): \(err)")
        }
    }

    func testFiguresRedrawsLossCurveFromMetricsAlone() throws {
        if Gnuplot.executable == nil { throw XCTSkip("gnuplot not installed") }
        let dir = try makeTempDirectory()
        let runDir = dir + "/demo/run1"
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        let log = try MetricsLog(path: runDir + "/metrics.h5")
        for s in 1...20 { try log.record("train", step: Int64(s), ["loss": 5 / Double(s)]) }
        try log.close()
        let (rc, out, err) = try runReplicate(["figures", dir, "--format", "svg"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(out, runDir + "/figures/train_loss.svg\n")
        let svg = try String(contentsOfFile: runDir + "/figures/train_loss.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("train loss"))
    }
}

func makeTempDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "replicate-cli-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
