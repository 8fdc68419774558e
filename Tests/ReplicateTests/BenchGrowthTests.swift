import Engine
import Foundation
import Runs
import XCTest

/// `replicate bench growth`, through the binary, on tiny models and without the PyTorch peer (no timing assertions).
final class BenchGrowthTests: XCTestCase {
    /// A tiny run writes growth.h5 with one number per point and engine (ours measured, the peer's NaN), the
    /// parameters of every point, and `replicate figures` redraws the table and the figure from that file alone.
    func testGrowthBenchmarkWritesItsFileAndFiguresRedrawIt() throws {
        let dir = try makeTempDirectory()
        let out = dir + "/runs/growth"
        // Batch 1 at every context (16 tokens per step), so the step's tokens, and its memory, grow with the context.
        var (rc, stdout, err) = try runReplicate(["bench", "growth", "--contexts", "16", "32", "1024", "--tokens-per-step", "16",
                                                  "--context-size", "2x32", "--sizes", "1x32,2x32", "2x64", "--size-context", "32",
                                                  "--steps", "1", "--warmup", "0", "--threads", "1", "--no-peer", "--out", out])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(stdout.contains("| context | 2x32 | 1024 | 1 |"), stdout)
        XCTAssertTrue(stdout.contains("| size | 2x64 | 32 | 1 |"), stdout)
        XCTAssertFalse(stdout.contains("pytorch: peer not available"), "--no-peer runs no peer")

        let f = try HDF5File.open(out + "/growth.h5")
        XCTAssertEqual(try f.attribute("experiment")?.stringValue, "bench-growth")
        XCTAssertEqual(try f.attribute("size_names")?.stringValue, "1x32,2x32,2x64")
        XCTAssertEqual(try f.attribute("threads")?.stringValue, "1")
        XCTAssertNotNil(try f.attribute("blas")?.stringValue)
        XCTAssertNotNil(try f.attribute("machine")?.stringValue)
        XCTAssertTrue(try f.attribute("command")?.stringValue?.hasPrefix("replicate bench growth --contexts 16 32 1024") ?? false)
        XCTAssertEqual(try f.read("contexts").doubles, [16, 32, 1024])
        XCTAssertEqual(try f.read("context_batch").doubles, [1, 1, 1])
        XCTAssertEqual(try f.read("context_shape").doubles, [2, 32, 1, 128])
        XCTAssertEqual(try f.read("size_layers").doubles, [1, 2, 2])
        XCTAssertEqual(try f.read("size_d_model").doubles, [32, 32, 64])
        XCTAssertEqual(try f.read("size_heads").doubles, [1, 1, 1])
        XCTAssertEqual(try f.read("size_d_ff").doubles, [128, 128, 256])
        for (prefix, n) in [("context", 3), ("size", 3)] {
            XCTAssertEqual(try f.read("\(prefix)_params").shape, [n])
            for quantity in ["tokens_per_s", "peak_mb", "step_mb"] {
                let ours = try f.read("replicate_\(prefix)_\(quantity)"), peer = try f.read("pytorch_\(prefix)_\(quantity)")
                XCTAssertEqual(ours.shape, [n], quantity)
                XCTAssertEqual(peer.shape, [n], quantity)
                XCTAssertTrue(ours.doubles.allSatisfy { $0.isFinite && (quantity == "step_mb" ? $0 >= 0 : $0 > 0) }, "\(prefix) \(quantity): \(ours.doubles)")
                XCTAssertTrue(peer.doubles.allSatisfy(\.isNaN), "no peer: no peer numbers")
            }
            for quantity in ["tokens_per_s", "peak_mb"] {
                XCTAssertTrue(try f.read("ratio_\(prefix)_\(quantity)").doubles.allSatisfy(\.isNaN), "no peer: no ratio")
            }
        }
        // Memory grows with the context (64 times the tokens), parameters with the size (and with the context: the positions).
        let peak = try f.read("replicate_context_peak_mb").doubles, step = try f.read("replicate_context_step_mb").doubles
        XCTAssertGreaterThan(peak[2], peak[0], "\(peak)")
        XCTAssertGreaterThan(step[2], step[0], "\(step)")
        let params = try f.read("size_params").doubles.map { Int($0) }
        XCTAssertTrue(params[0] < params[1] && params[1] < params[2], "\(params)")
        let contextParams = try f.read("context_params").doubles
        XCTAssertTrue(contextParams[0] < contextParams[1] && contextParams[1] < contextParams[2], "\(contextParams)")
        try f.close()
        // The recorded count is the model's: the one the measuring process reports for the same shape.
        let (mrc, mout, merr) = try runReplicate(["bench", "step-memory", "--json", "--context", "32", "--layers", "2", "--d-model", "64", "--heads", "1",
                                                  "--d-ff", "256", "--threads", "1"])
        XCTAssertEqual(mrc, 0, merr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(mout.split(separator: "\n").last { $0.hasPrefix("{") }!.utf8)) as? [String: Any])
        XCTAssertEqual(json["params"] as? Int, params[2])

        // Redrawn from growth.h5 alone.
        let table = try String(contentsOfFile: out + "/growth.md", encoding: .utf8)
        XCTAssertTrue(table.contains("| size | 2x32 | 32 | 1 | \(params[1]) |"), table)
        try FileManager.default.removeItem(atPath: out + "/growth.md")
        try? FileManager.default.removeItem(atPath: out + "/figures")
        (rc, stdout, err) = try runReplicate(["figures", dir + "/runs"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(try String(contentsOfFile: out + "/growth.md", encoding: .utf8), table)
        if Gnuplot.executable != nil {
            let png = out + "/figures/growth.png"
            XCTAssertTrue(stdout.contains(png), stdout)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
            XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
            XCTAssertGreaterThan(bytes.count, 10_000)
        }
        // A broken growth.h5 beside it is skipped with a warning; the good one is still drawn.
        try FileManager.default.createDirectory(atPath: dir + "/runs/broken", withIntermediateDirectories: true)
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: dir + "/runs/broken/growth.h5"))
        (rc, stdout, err) = try runReplicate(["figures", dir + "/runs"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(err.contains("warning: skipping \(dir)/runs/broken/growth.h5"), err)
        XCTAssertTrue(stdout.contains(out + "/growth.md"), stdout)
    }

    /// The peer's numbers are recorded beside ours with their ratio (a stand-in for the PyTorch script prints its JSON
    /// line; without `peak_mb` its `step_mb` stands for the peak, and the file says so); a missing peer prints the
    /// usual line once and the run goes on with ours.
    func testPeerNumbersAndAMissingPeer() throws {
        let dir = try makeTempDirectory()
        let fake = dir + "/python"
        try Data("#!/bin/sh\necho '{\"tokens_per_s\": 2000.0, \"step_mb\": 5.0, \"torch\": \"0.0-stand-in\"}'\n".utf8)
            .write(to: URL(fileURLWithPath: fake))
        XCTAssertEqual(chmod(fake, 0o755), 0)
        let tiny = ["bench", "growth", "--contexts", "16", "--tokens-per-step", "16", "--context-size", "1x32", "--sizes", "1x32", "2x32",
                    "--size-context", "16", "--steps", "1", "--warmup", "0", "--threads", "1"]
        var (rc, stdout, err) = try runReplicate(tiny + ["--python", fake, "--out", dir + "/peer"])
        XCTAssertEqual(rc, 0, err)
        let f = try HDF5File.open(dir + "/peer/growth.h5")
        XCTAssertEqual(try f.attribute("torch")?.stringValue, "0.0-stand-in")
        XCTAssertEqual(try f.attribute("pytorch_memory")?.stringValue, "step_mb")
        XCTAssertEqual(try f.read("pytorch_size_tokens_per_s").doubles, [2000, 2000])
        XCTAssertEqual(try f.read("pytorch_size_peak_mb").doubles, [5, 5])
        let ours = try f.read("replicate_size_tokens_per_s").doubles, ratio = try f.read("ratio_size_tokens_per_s").doubles
        for i in 0..<2 { XCTAssertEqual(ratio[i], ours[i] / 2000, accuracy: 1e-9 * ratio[i]) }
        try f.close()
        XCTAssertTrue(stdout.contains("pytorch 2000 tok/s"), stdout)

        (rc, stdout, err) = try runReplicate(tiny + ["--python", dir + "/no-such-python", "--out", dir + "/missing"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(stdout.components(separatedBy: "pytorch: peer not available").count, 2, stdout)
        let g = try HDF5File.open(dir + "/missing/growth.h5")
        XCTAssertTrue(try g.read("replicate_size_tokens_per_s").doubles.allSatisfy { $0.isFinite && $0 > 0 })
        XCTAssertTrue(try g.read("pytorch_size_tokens_per_s").doubles.allSatisfy(\.isNaN))
        try g.close()
    }

    /// Bad options: one line on stderr naming the cause, a non-zero exit, nothing measured or written.
    func testBadOptionsAreRefusedInOneLine() throws {
        let dir = try makeTempDirectory()
        let out = dir + "/g"
        let cases: [([String], String)] = [
            (["--contexts", "0"], "--contexts must be positive and at most 1048576 (got 0)"),
            (["--contexts", "-4"], "--contexts must be positive"),
            (["--tokens-per-step", "-1"], "--tokens-per-step must be positive"),
            (["--size-context", "0"], "--size-context must be positive"),
            (["--steps", "0"], "--steps must be positive"),
            (["--warmup", "-1"], "--warmup must be between 0 and 1000 (got -1)"),
            (["--threads", "0"], "--threads must be positive"),
            (["--sizes", "huge"], "unknown size 'huge' (cpu, 6x384, t12)"),
            (["--sizes", ""], "--sizes names no size"),
            (["--sizes", "0x32"], "--sizes must be positive and at most 1024 (got 0)"),
            (["--sizes", "2x65"], "--sizes 2x65: width 65 is not a multiple of its 2 heads"),
            (["--context-size", "nope"], "unknown size 'nope' (cpu, 6x384, t12)"),
            (["--context-size", "2x0"], "--context-size must be positive"),
            (["--contexts", "1048576", "--tokens-per-step", "16777216"], "cpu at context 1048576, batch 16 needs an estimated "),
        ]
        for (args, message) in cases {
            let (rc, stdout, err) = try runReplicate(["bench", "growth", "--no-peer", "--out", out] + args)
            XCTAssertNotEqual(rc, 0, "\(args)")
            XCTAssertEqual(stdout, "", "\(args)")
            XCTAssertTrue(err.hasPrefix("error: " + message) && err.hasSuffix("\n"), "\(args): \(err)")
            XCTAssertEqual(err.filter { $0 == "\n" }.count, 1, "\(args): \(err)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written")
    }
}
