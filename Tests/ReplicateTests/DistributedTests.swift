import Engine
import Runs
import Foundation
import XCTest

/// Data-parallel training over MPI, through the binary under Open MPI's mpirun (2 ranks, 1 thread each): the
/// same run as one process up to the order of the float reduction, resume, mismatched ranks and a killed rank.
final class DistributedTests: XCTestCase {
    func mpirun() throws -> String {
        for p in ["/usr/bin/mpirun", "/usr/local/bin/mpirun"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        throw XCTSkip("mpirun not found (./setup.sh installs openmpi-bin)")
    }

    /// mpirun's options for this machine: root allowed (CI runs as root), more ranks than cores allowed.
    func mpiArguments(ranks: Int) -> [String] {
        ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "\(ranks)"]
    }

    func runRanks(_ ranks: Int, _ args: [String]) throws -> (Int32, String, String) {
        let r = try Subprocess.run(try mpirun(), mpiArguments(ranks: ranks) + [try replicateBinary()] + args)
        return (r.status, r.outputText, r.errorText)
    }

    /// Trains `args` once as one process (`extra` added) into `dir/one` and once on 2 ranks into `dir/two`;
    /// returns rank 0's output.
    func trainAloneAndOnTwoRanks(_ args: [String], extra: [String] = [], dir: String) throws -> String {
        var (rc, out, err) = try runReplicate(args + extra + ["--out", dir + "/one"])
        XCTAssertEqual(rc, 0, err)
        (rc, out, err) = try runRanks(2, args + ["--out", dir + "/two"])
        XCTAssertEqual(rc, 0, err)
        return out
    }

    func series(_ path: String, _ names: [String]) throws -> [String: [Double]] {
        let f = try HDF5File.open(path)
        var out: [String: [Double]] = [:]
        for n in names { out[n] = try f.read(n).doubles }
        return out
    }

    func assertClose(_ a: [String: [Double]], _ b: [String: [Double]], tolerance: Double, file: StaticString = #filePath, line: UInt = #line) {
        for (name, x) in a {
            let y = b[name] ?? []
            XCTAssertEqual(x.count, y.count, name, file: file, line: line)
            let worst = zip(x, y).map { abs($0 - $1) / max(abs($0), 1e-12) }.max() ?? 0
            XCTAssertLessThan(worst, tolerance, name, file: file, line: line)
        }
    }

    /// al-rfou2018 with dropout and every auxiliary loss, the fastweights LSTM and a brebisson2016 reader with dropout:
    /// 2 ranks give the losses,
    /// gradient norms and evaluations of 1 process at the same global batch (relative 1e-5: the gradient sums run
    /// in another order); the ranks' parameters are compared at every checkpoint (a mismatch stops the run).
    func testTwoRanksTrainAsOneProcess() throws {
        _ = try mpirun()
        let dir = try makeTempDirectory()
        try writeWordCorpus(dir + "/corpus.txt", seed: 4)
        let lm = ["al-rfou2018", "--preset", "smoke", "--data-file", dir + "/corpus.txt", "--alphabet", "text8", "--dropout", "0.3",
                  "--steps", "16", "--eval-every", "8", "--checkpoint-every", "4", "--threads", "1"]
        let out = try trainAloneAndOnTwoRanks(lm, dir: dir + "/lm")
        XCTAssertTrue(out.contains("al-rfou2018: preset smoke"), "rank 0 reports: \(out)")
        XCTAssertEqual(out.components(separatedBy: "al-rfou2018: preset smoke").count, 2, "only rank 0 prints: \(out)")
        let names = ["train/loss", "train/grad_norm", "train/loss_next2", "eval/bpc", "results/test_bpc"]
        assertClose(try series(dir + "/lm/one/metrics.h5", names), try series(dir + "/lm/two/metrics.h5", names), tolerance: 1e-5)
        let f = try HDF5File.open(dir + "/lm/two/metrics.h5")
        XCTAssertEqual(try f.attribute("world_size")?.intValue, 2)
        XCTAssertTrue(try f.attribute("mpi")?.stringValue?.contains("Open MPI") ?? false)
        XCTAssertEqual(try f.read("train/allreduce_s").doubles.count, 16)
        XCTAssertEqual(try HDF5File.open(dir + "/lm/one/metrics.h5").attribute("world_size")?.intValue, 1)

        let fw = ["fastweights", "--task", "retrieval", "--preset", "smoke", "--models", "lstm", "--hidden", "12", "--steps", "30",
                  "--eval-every", "10", "--checkpoint-every", "10", "--threads", "1", "--no-report"]
        _ = try trainAloneAndOnTwoRanks(fw, extra: ["--jobs", "1"], dir: dir + "/fw")
        let fwNames = ["train/loss", "train/grad_norm", "eval/valid_error", "eval/test_loss"]
        assertClose(try series(dir + "/fw/one/lstm-R12/metrics.h5", fwNames), try series(dir + "/fw/two/lstm-R12/metrics.h5", fwNames), tolerance: 1e-5)

        // The readers: length buckets that need not divide evenly, stories padded per batch, dropout.
        let reader = ["brebisson2016", "--preset", "smoke", "--readers", "gated-linear", "--steps", "20", "--eval-every", "10",
                      "--dropout", "0.2", "--no-lookup", "--threads", "1"]
        _ = try trainAloneAndOnTwoRanks(reader, dir: dir + "/reader")
        let readerNames = ["train/loss", "train/grad_norm", "eval/valid_accuracy", "eval/test_loss", "results/test_accuracy"]
        assertClose(try series(dir + "/reader/one/gated-linear/metrics.h5", readerNames),
                    try series(dir + "/reader/two/gated-linear/metrics.h5", readerNames), tolerance: 1e-5)
    }

    /// Stopped after step 12 and resumed with the same 2 ranks: bit-identical to the uninterrupted 2-rank run;
    /// resumed by 1 process: equal up to reduction order.
    func testResumeWithTheSameRanksIsBitIdentical() throws {
        _ = try mpirun()
        let dir = try makeTempDirectory()
        try writeWordCorpus(dir + "/corpus.txt", seed: 5)
        let lm = ["al-rfou2018", "--preset", "smoke", "--data-file", dir + "/corpus.txt", "--alphabet", "text8", "--dropout", "0.2",
                  "--steps", "20", "--eval-every", "10", "--checkpoint-every", "5", "--threads", "1"]
        var (rc, _, err) = try runRanks(2, lm + ["--out", dir + "/straight"])
        XCTAssertEqual(rc, 0, err)
        (rc, _, err) = try runRanks(2, lm + ["--out", dir + "/resumed", "--stop-after", "12"])
        XCTAssertEqual(rc, 0, err)
        (rc, _, err) = try runRanks(2, lm + ["--out", dir + "/resumed", "--resume"])
        XCTAssertEqual(rc, 0, err)
        let names = ["train/step", "train/loss", "train/grad_norm", "eval/bpc", "results/test_bpc"]
        XCTAssertEqual(try series(dir + "/straight/metrics.h5", names), try series(dir + "/resumed/metrics.h5", names))
        // Resumed by one process instead: the same data order and masks, equal up to the order of the sums.
        (rc, _, err) = try runRanks(2, lm + ["--out", dir + "/switched", "--stop-after", "12"])
        XCTAssertEqual(rc, 0, err)
        (rc, _, err) = try runReplicate(lm + ["--out", dir + "/switched", "--resume"])
        XCTAssertEqual(rc, 0, err)
        assertClose(try series(dir + "/straight/metrics.h5", names), try series(dir + "/switched/metrics.h5", names), tolerance: 1e-5)
    }

    func testMismatchedRanksAndIndivisibleBatchesAreRefused() throws {
        let exe = try replicateBinary(), dir = try makeTempDirectory()
        try writeWordCorpus(dir + "/corpus.txt", seed: 6)
        let lm = ["al-rfou2018", "--preset", "smoke", "--data-file", dir + "/corpus.txt", "--alphabet", "text8", "--threads", "1"]
        // Two ranks started with different options (MPMD form of mpirun): refused before the first step.
        let r = try Subprocess.run(try mpirun(), ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "1", exe] + lm
                                   + ["--steps", "10", "--out", dir + "/a"] + [":", "-np", "1", exe] + lm + ["--steps", "11", "--out", dir + "/a"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.errorText.contains("do not have the same configuration"), r.errorText)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a/checkpoint.h5"))
        let (rc, _, err) = try runRanks(2, lm + ["--steps", "4", "--batch", "5", "--out", dir + "/b"])
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(err.contains("the batch of 5 does not divide among 2 ranks"), err)
    }

    /// A rank killed mid-run ends the whole job within seconds; rank 0's last checkpoint stays readable.
    func testAKilledRankEndsTheJobAndKeepsTheCheckpoint() throws {
        let dir = try makeTempDirectory()
        try writeWordCorpus(dir + "/corpus.txt", seed: 7)
        let job = Process()
        job.executableURL = URL(fileURLWithPath: try mpirun())
        job.arguments = mpiArguments(ranks: 2) + [try replicateBinary(), "al-rfou2018", "--preset", "smoke", "--data-file", dir + "/corpus.txt",
                                                  "--alphabet", "text8", "--steps", "100000", "--eval-every", "100000",
                                                  "--checkpoint-every", "5", "--threads", "1", "--out", dir + "/run"]
        let errors = Pipe()
        job.standardError = errors
        job.standardOutput = FileHandle.nullDevice
        try job.run()
        defer { if job.isRunning { job.terminate() } }
        // Wait for a first checkpoint, then kill rank 1 (found by its environment).
        var waited = 0.0
        while !FileManager.default.fileExists(atPath: dir + "/run/checkpoint.h5") && waited < 60 {
            Thread.sleep(forTimeInterval: 0.2)
            waited += 0.2
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run/checkpoint.h5"), "no checkpoint after 60 s")
        let rank1 = try XCTUnwrap(ranks(under: job.processIdentifier)["1"], "rank 1 not found")
        kill(rank1, SIGKILL)
        let killedAt = Date()
        while job.isRunning && Date().timeIntervalSince(killedAt) < 30 { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertFalse(job.isRunning, "the job still runs 30 s after rank 1 was killed")
        XCTAssertLessThan(Date().timeIntervalSince(killedAt), 30)
        job.waitUntilExit()
        XCTAssertNotEqual(job.terminationStatus, 0)
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("rank 1"), text)
        let f = try Checkpoint.open(dir + "/run/checkpoint.h5")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(try f.attribute("step")?.intValue), 5)
    }

    /// The descendants of `pid` that are MPI ranks, by their OMPI_COMM_WORLD_RANK.
    func ranks(under pid: Int32) -> [String: Int32] {
        var found: [String: Int32] = [:]
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return found }
        for e in entries {
            guard let p = Int32(e), let env = FileManager.default.contents(atPath: "/proc/\(e)/environ") else { continue }
            var ancestor = p, isDescendant = false
            for _ in 0..<8 {
                guard let stat = try? String(contentsOfFile: "/proc/\(ancestor)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { break }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 2, let parent = Int32(fields[1]) else { break }
                if parent == pid { isDescendant = true; break }
                ancestor = parent
            }
            guard isDescendant else { continue }
            for v in env.split(separator: 0) {
                let s = String(decoding: v, as: UTF8.self)
                if s.hasPrefix("OMPI_COMM_WORLD_RANK=") { found[String(s.dropFirst("OMPI_COMM_WORLD_RANK=".count))] = p }
            }
        }
        return found
    }
}
