import Foundation
import PaperLinearAttention
import Runs
import XCTest

/// `replicate linear-attention` end to end through the binary, on a small generated corpus.
final class LinearAttentionCLITests: XCTestCase {
    func testEveryKindTrainsAtMatchedParametersAndTheTableRedrawsFromTheFiles() throws {
        let dir = try makeTempDirectory()
        var rng = 7
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran"]
        var text = ""
        while text.utf8.count < 12_000 { rng = (rng * 1_103_515_245 + 12345) % 2_147_483_648; text += words[rng % words.count] + " " }
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/corpus.txt"))
        let out = dir + "/runs/linear-attention/smoke"
        let args = ["linear-attention", "--preset", "smoke", "--data-file", dir + "/corpus.txt", "--alphabet", "text8", "--attention", "delta,elu",
                    "--sweep-key-dims", "8", "--steps", "6", "--eval-every", "3", "--decode-contexts", "64", "512", "--out", out]
        var (rc, stdout, err) = try runReplicate(args)
        XCTAssertEqual(rc, 0, err)
        for kind in ["softmax", "delta", "delta-k8", "elu"] { XCTAssertTrue(stdout.contains("\n| \(kind) |"), "\(kind): \(stdout)") }
        XCTAssertTrue(stdout.contains("decode ms @64 | decode ms @512 |"), stdout)
        // Parameters within 2% of softmax's; results, the carried-state score (not for softmax) and decode times recorded.
        let softmaxParams = try XCTUnwrap(try HDF5File.open(out + "/softmax/metrics.h5").attribute("parameters")?.intValue)
        for kind in ["softmax", "delta", "delta-k8", "elu"] {
            let f = try HDF5File.open(out + "/\(kind)/metrics.h5")
            let p = try XCTUnwrap(try f.attribute("parameters")?.intValue)
            XCTAssertLessThan(abs(Double(p - softmaxParams)) / Double(softmaxParams), 0.02, kind)
            XCTAssertEqual(try f.read("decode/context").doubles, [64, 512], kind)
            XCTAssertEqual(try f.read("decode/step").int64s, [6, 6], "\(kind): decode rows sit at the last training step (kept by a resume)")
            XCTAssertEqual(f.kind(of: "results/test_bpc_carried") == .dataset, kind != "softmax", kind)
            XCTAssertEqual(try f.attribute("experiment"), .string("linear-attention"))
        }
        let table = try String(contentsOfFile: out + "/results.md", encoding: .utf8)
        if Gnuplot.executable != nil {
            for f in ["valid_bpc_by_tokens", "test_bpc_bars", "decode_time_by_context", "key_size_sweep"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/figures/\(f).png"), f)
            }
            // `replicate figures` rebuilds the same table from the run files alone.
            try FileManager.default.removeItem(atPath: out + "/results.md")
            (rc, stdout, err) = try runReplicate(["figures", dir + "/runs"])
            XCTAssertEqual(rc, 0, err)
            XCTAssertEqual(try String(contentsOfFile: out + "/results.md", encoding: .utf8), table)
            XCTAssertTrue(try String(contentsOfFile: dir + "/runs/report.md", encoding: .utf8).contains("Zhai et al. 2021 Table 4"))
        }
        // A second comparison into the same directory is refused before training anything.
        (rc, _, err) = try runReplicate(args)
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(err.contains("already holds a run"), err)
        // Resuming the finished comparison trains nothing and keeps every run's decode times (measured once).
        let before = try HDF5File.open(out + "/delta/metrics.h5").read("decode/ms_per_token").doubles
        (rc, _, err) = try runReplicate(args + ["--resume"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(try HDF5File.open(out + "/delta/metrics.h5").read("decode/ms_per_token").doubles, before)
        XCTAssertEqual(try HDF5File.open(out + "/delta/metrics.h5").read("train/step").int64s.count, 6)
        for (bad, why) in [(["--attention", "softmax,nope"], "unknown attention kind 'nope'"), (["--key-dim", "0"], "--key-dim"),
                           (["--sweep-key-dims", "8,x"], "not a positive integer"), (["--preset", "huge"], "--preset")] {
            let (rc, _, err) = try runReplicate(["linear-attention"] + bad)
            XCTAssertNotEqual(rc, 0)
            XCTAssertTrue(err.hasPrefix("error: ") && err.contains(why) && err.filter { $0 == "\n" }.count == 1, err)
        }
    }

    /// The scaling benchmark measures every kind at every context in a fresh process, writes scaling.h5, and
    /// `replicate figures` redraws its tables from that file alone; a kind is found faster only from where it stays faster.
    func testScalingBenchmarkWritesItsFileAndFiguresRedrawIt() throws {
        let dir = try makeTempDirectory()
        let out = dir + "/runs/scaling"
        var (rc, stdout, err) = try runReplicate(["bench", "linear-attention", "--attention", "softmax,gated-delta", "--contexts", "16", "32",
                                                  "--tokens-per-step", "64", "--steps", "1", "--warmup", "0", "--decode-contexts", "8", "64",
                                                  "--threads", "1", "--no-peer", "--out", out])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(stdout.contains("| gated-delta | 32 | 2 |"), stdout)
        let r = try ScalingResults.read(out + "/scaling.h5")
        XCTAssertEqual(r.kinds, ["softmax", "gated-delta"])
        XCTAssertEqual(r.contexts, [16, 32])
        XCTAssertEqual(r.decodeContexts, [8, 64])
        for k in 0..<2 {
            XCTAssertTrue(r.tokensPerSecond[0][k].allSatisfy { $0.isFinite && $0 > 0 }, "\(r.tokensPerSecond)")
            XCTAssertTrue(r.stepMB[0][k].allSatisfy { $0.isFinite && $0 >= 0 }, "\(r.stepMB)")
            XCTAssertTrue(r.decodeMs[0][k].allSatisfy { $0.isFinite && $0 > 0 }, "\(r.decodeMs)")
            XCTAssertTrue(r.tokensPerSecond[1][k].allSatisfy(\.isNaN), "no peer: no peer numbers")
        }
        let table = try String(contentsOfFile: out + "/scaling.md", encoding: .utf8)
        try FileManager.default.removeItem(atPath: out + "/scaling.md")
        (rc, stdout, err) = try runReplicate(["figures", dir + "/runs"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(try String(contentsOfFile: out + "/scaling.md", encoding: .utf8), table)
        XCTAssertTrue(try String(contentsOfFile: dir + "/runs/report.md", encoding: .utf8).contains("Linear-attention scaling benchmark"))
        if Gnuplot.executable != nil {
            for f in ["train_tokens_per_s_by_context", "step_memory_by_context", "decode_engines_by_context"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/figures/\(f).png"), f)
            }
        }
        // The crossover: the first context from which the kind stays at least as fast.
        var s = ScalingResults(kinds: ["softmax", "elu"], contexts: [256, 1024, 4096, 16384], tokensPerStep: 16384, decodeContexts: [], notes: [:])
        s.tokensPerSecond[0] = [[10, 9, 8, 4], [9, 10, 7, 6]]
        XCTAssertEqual(s.crossover("elu"), 4096 * 4)
        s.tokensPerSecond[0][1][2] = 8
        XCTAssertEqual(s.crossover("elu"), 1024)
        s.tokensPerSecond[0][1][3] = 3
        XCTAssertNil(s.crossover("elu"))
        (rc, _, err) = try runReplicate(["bench", "linear-attention", "--attention", "softmax,bogus", "--no-peer"])
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(err.contains("unknown attention kind 'bogus'"), err)
    }
}
