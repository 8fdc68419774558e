import Engine
import Foundation
import Runs
import XCTest

/// Runs under faults: a full disk, two processes on one run, signals, a grid's parent dying, attempts killed
/// before their first checkpoint. Each through the binary, as a user would meet it.
final class RunFaultTests: XCTestCase {
    func corpus(_ dir: String) throws -> String {
        try writeWordCorpus(dir + "/corpus.txt", seed: 9)
        return dir + "/corpus.txt"
    }

    func lmArgs(_ corpus: String, _ runDir: String, steps: Int) -> [String] {
        ["al-rfou2018", "--preset", "smoke", "--data-file", corpus, "--alphabet", "text8", "--run-dir", runDir, "--steps", String(steps),
         "--checkpoint-every", "20", "--eval-every", "20", "--threads", "1"]
    }

    /// Starts the binary in the background (stdout and stderr to files in `dir`).
    func start(_ args: [String], in dir: String, name: String = "bg", shell: String? = nil) throws -> Process {
        let p = Process()
        if let shell {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", shell + " exec \"$0\" \"$@\"", try replicateBinary()] + args
        } else {
            p.executableURL = URL(fileURLWithPath: try replicateBinary())
            p.arguments = args
        }
        FileManager.default.createFile(atPath: "\(dir)/\(name).out", contents: nil)
        FileManager.default.createFile(atPath: "\(dir)/\(name).err", contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: "\(dir)/\(name).out")
        p.standardError = FileHandle(forWritingAtPath: "\(dir)/\(name).err")
        try p.run()
        return p
    }

    func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Waits (up to `seconds`) for `condition`; fails the test when it never holds.
    func waitFor(_ what: String, seconds: Double = 120, _ condition: () -> Bool) {
        let end = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > end { XCTFail("timed out waiting for \(what)"); return }
            usleep(50_000)
        }
    }

    func alive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

    /// The error lines of a process's standard error (the progress lines go there too); asserts there is one.
    func errorLine(_ stderr: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        let lines = stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(lines.count, 1, stderr, file: file, line: line)
        return lines.first.map(String.init) ?? ""
    }

    func testAHeldRunRefusesASecondProcessAndSIGTERMStopsItCleanly() throws {
        let dir = try makeTempDirectory()
        let c = try corpus(dir), runDir = dir + "/run"
        let p = try start(lmArgs(c, runDir, steps: 100_000), in: dir)
        waitFor("the first checkpoint") { FileManager.default.fileExists(atPath: runDir + "/checkpoint.h5") }
        // A second process on the same run: one line naming the holder; nothing of the first run touched.
        let (rc, _, err) = try runReplicate(lmArgs(c, runDir, steps: 100_000) + ["--resume"])
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(err.contains("in use by process \(p.processIdentifier) on "), err)
        XCTAssertEqual(err.filter { $0 == "\n" }.count, 1, err)
        XCTAssertTrue(p.isRunning, "the first run goes on")
        // SIGTERM: it stops at the next step with one line, its checkpoint at that step.
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertNotEqual(p.terminationStatus, 0)
        let stopErr = errorLine(text(dir + "/bg.err"))
        XCTAssertTrue(stopErr.contains("stopped by SIGTERM after step"), stopErr)
        let after = try XCTUnwrap(stopErr.range(of: "after step "), stopErr)
        let stopped = try XCTUnwrap(Int(stopErr[after.upperBound...].prefix { $0.isNumber }), stopErr)
        XCTAssertEqual(try Checkpoint.open(runDir + "/checkpoint.h5").attribute("step")?.intValue, Int64(stopped))
        // The lock is free again: a resume continues from there.
        let (rc2, out2, err2) = try runReplicate(lmArgs(c, runDir, steps: 100_000) + ["--resume", "--stop-after", String(stopped + 3)])
        XCTAssertEqual(rc2, 0, err2)
        XCTAssertTrue(out2.contains("resuming at step \(stopped)"), out2)
    }

    func testAStaleLockIsTakenOverAndAnAttemptKilledBeforeItsFirstCheckpointRestarts() throws {
        let dir = try makeTempDirectory()
        let c = try corpus(dir), runDir = dir + "/run"
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        // What a process killed early leaves: a lock naming it (dead), a stub metrics file, a temporary checkpoint.
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        try Data("\(dead.processIdentifier) \(ProcessInfo.processInfo.hostName)\n".utf8).write(to: URL(fileURLWithPath: runDir + "/lock"))
        try Data(repeating: 0, count: 100).write(to: URL(fileURLWithPath: runDir + "/metrics.h5"))
        try Data(repeating: 1, count: 1000).write(to: URL(fileURLWithPath: runDir + "/checkpoint.h5.tmp-\(dead.processIdentifier)"))
        // `figures` skips the stub with one warning and still draws the other runs.
        let other = dir + "/other"
        var (rc, out, err) = try runReplicate(lmArgs(c, other, steps: 20))
        XCTAssertEqual(rc, 0, err)
        (rc, out, err) = try runReplicate(["figures", dir])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(err.split(separator: "\n").filter { $0.hasPrefix("warning: skipping \(runDir)/metrics.h5") }.count, 1, err)
        XCTAssertTrue(out.contains(other + "/figures/"), out)
        // Both without and with --resume, the directory restarts; the stale temporary file is gone.
        (rc, out, err) = try runReplicate(lmArgs(c, runDir, steps: 20) + ["--resume"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("stopped before its first checkpoint; starting the run over"), out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: runDir + "/checkpoint.h5.tmp-\(dead.processIdentifier)"))
        // It ends where the run in `other` (same settings, never interrupted) ended.
        func results(_ d: String) throws -> [Double] { try HDF5File.open(d + "/metrics.h5").read("results/test_bpc").doubles }
        XCTAssertEqual(try results(runDir), try results(other))
    }

    func testAFullDiskStopsTheRunWithOneLineKeepsTheCheckpointAndResumeFinishes() throws {
        let dir = try makeTempDirectory()
        let c = try corpus(dir)
        let reference = dir + "/reference"
        var (rc, _, err) = try runReplicate(lmArgs(c, reference, steps: 60))
        XCTAssertEqual(rc, 0, err)
        let expected = try HDF5File.open(reference + "/metrics.h5").read("results/test_bpc").doubles

        // A file-size limit stands in for a full disk where mounting is not allowed: every write past it fails
        // (here the first checkpoint's: the run stops with nothing to resume, and the next attempt starts over).
        let limited = dir + "/limited"
        let p = try start(lmArgs(c, limited, steps: 60), in: dir, name: "fsize", shell: "ulimit -f 100; trap '' XFSZ;")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "an error line, not a crash")
        XCTAssertNotEqual(p.terminationStatus, 0)
        let e = errorLine(text(dir + "/fsize.err"))
        XCTAssertTrue(e.contains("File too large"), e)
        (rc, _, err) = try runReplicate(lmArgs(c, limited, steps: 60) + ["--resume"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(try HDF5File.open(limited + "/metrics.h5").read("results/test_bpc").doubles, expected)

        // A real full file system, where this test may mount one.
        let mount = dir + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        guard try Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]).status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here; the file-size limit above stood in for a full disk")
        }
        defer { _ = try? Subprocess.run("/bin/umount", [mount]) }
        let runDir = mount + "/run"
        let q = try start(lmArgs(c, runDir, steps: 100_000), in: dir, name: "full")
        waitFor("the first checkpoint") { FileManager.default.fileExists(atPath: runDir + "/checkpoint.h5") }
        let filler = mount + "/filler"
        FileManager.default.createFile(atPath: filler, contents: nil)
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: filler))
        while (try? h.write(contentsOf: Data(count: 16384))) != nil {}
        try h.close()
        q.waitUntilExit()
        XCTAssertEqual(q.terminationReason, .exit, "an error line, not a crash")
        XCTAssertNotEqual(q.terminationStatus, 0)
        let f = errorLine(text(dir + "/full.err"))
        XCTAssertTrue(f.contains("No space left on device"), f)
        let step = try XCTUnwrap(try Checkpoint.open(runDir + "/checkpoint.h5").attribute("step")?.intValue)
        // Room again: --resume continues from the checkpoint it kept.
        try FileManager.default.removeItem(atPath: filler)
        let (rc3, out3, err3) = try runReplicate(lmArgs(c, runDir, steps: 100_000) + ["--resume", "--stop-after", String(step + 20)])
        XCTAssertEqual(rc3, 0, err3)
        XCTAssertTrue(out3.contains("resuming at step \(step)"), out3)
    }

    func testTheGridsChildrenStopWithTheirParent() throws {
        let dir = try makeTempDirectory()
        let root = dir + "/grid"
        let args = ["fastweights", "--task", "retrieval", "--preset", "smoke", "--models", "fast-weights,lstm", "--hidden", "8",
                    "--steps", "1000000", "--checkpoint-every", "20", "--eval-every", "20", "--jobs", "2", "--threads", "1", "--run-root", root]
        func childPids() -> [Int32] {
            ["fast-weights-R8", "lstm-R8"].compactMap { name in
                text("\(root)/\(name)/lock").split(separator: " ").first.flatMap { Int32($0) }
            }
        }
        for (signal, name) in [(SIGKILL, "kill"), (SIGTERM, "term")] {
            let p = try start(args + (name == "term" ? ["--resume"] : []), in: dir, name: name)
            waitFor("both children's first checkpoints") {
                ["fast-weights-R8", "lstm-R8"].allSatisfy { FileManager.default.fileExists(atPath: "\(root)/\($0)/checkpoint.h5") }
                    && childPids().count == 2 && childPids().allSatisfy { $0 != p.processIdentifier && alive($0) }
            }
            let children = childPids()
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            waitFor("the children to stop", seconds: 60) { children.allSatisfy { !alive($0) } }
            if signal == SIGTERM {
                XCTAssertEqual(p.terminationReason, .exit)
                let e = errorLine(text(dir + "/term.err"))
                XCTAssertTrue(e.contains("stopped by SIGTERM"), e)
                // Each child stopped cleanly, saying so in its log.
                for run in ["fast-weights-R8", "lstm-R8"] {
                    XCTAssertTrue(text("\(root)/\(run)/train.log").contains("stopped by SIGTERM"), run)
                }
            }
        }
    }

    /// Errors name their cause: a run of another paper, a read-only file system.
    func testErrorsNameTheirCause() throws {
        let dir = try makeTempDirectory()
        let root = dir + "/fw"
        var (rc, _, err) = try runReplicate(["fastweights", "--preset", "smoke", "--models", "lstm", "--hidden", "8", "--steps", "10",
                                             "--eval-every", "10", "--checkpoint-every", "10", "--jobs", "1", "--run-root", root])
        XCTAssertEqual(rc, 0, err)
        (rc, _, err) = try runReplicate(lmArgs(try corpus(dir), root + "/lstm-R8", steps: 20) + ["--resume"])
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(errorLine(err).contains("not a run of al-rfou2018 (a run of fastweights2016)"), err)
        let mount = dir + "/ro"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        guard try Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", mount]).status == 0 else {
            throw XCTSkip("cannot mount a read-only tmpfs here")
        }
        defer { _ = try? Subprocess.run("/bin/umount", [mount]) }
        (rc, _, err) = try runReplicate(lmArgs(try corpus(dir), mount + "/run", steps: 20))
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(errorLine(err).contains("cannot create the directory (Read-only file system)"), err)
    }
}
