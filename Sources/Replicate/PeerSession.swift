import CRuntime
import Foundation

/// The PyTorch peer kept alive between measurements (`scripts/bench_peer.py --serve`): it builds its model and runs
/// its warm-up once, then times slices of training steps on request, so that `bench engine` can interleave them with
/// its own steps seconds apart instead of alternating whole processes.
final class PeerSession {
    private let process: Process
    private let input: FileHandle
    private let output: FileHandle
    private let errorPath: String
    private var buffer = Data()

    /// Starts the peer with `args` (plus `--serve`) and waits for its warm-up to end; nil when the script is
    /// missing or the peer exits or prints anything but its ready line first.
    init?(python: String?, _ args: [String]) {
        guard let command = pythonCommand(script: "bench_peer.py", python: python) else { return nil }
        // A peer that exits between `send`'s check and its write must fail the write, not stop this process.
        signal(SIGPIPE, SIG_IGN)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command.executable)
        p.arguments = command.arguments + args + ["--serve"]
        let toPeer = Pipe(), fromPeer = Pipe()
        errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("replicate-peer-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).err").path
        guard FileManager.default.createFile(atPath: errorPath, contents: nil), let err = FileHandle(forWritingAtPath: errorPath) else { return nil }
        p.standardInput = toPeer
        p.standardOutput = fromPeer
        p.standardError = err
        do { try p.run() } catch {
            try? FileManager.default.removeItem(atPath: errorPath)
            return nil
        }
        try? err.close()
        rb_add_child(p.processIdentifier)
        process = p
        input = toPeer.fileHandleForWriting
        output = fromPeer.fileHandleForReading
        guard let ready = readJSON(), ready["ready"] as? Bool == true else {
            close()
            return nil
        }
    }

    /// Wall seconds of `n` of the peer's training steps (on `threads` threads when given, else its own); nil when the
    /// peer failed.
    func timedSteps(_ n: Int, threads: Int? = nil) -> Double? {
        guard send("steps \(n)" + (threads.map { " threads \($0)" } ?? "") + "\n"), let r = readJSON() else { return nil }
        return r["seconds"] as? Double
    }

    /// Ends the session: the peer's result line (peak memory, parameters, PyTorch version), nil when it failed.
    func finish() -> [String: Any]? {
        _ = send("quit\n")
        let result = readJSON()
        close()
        return result
    }

    /// The last line the peer wrote to its standard error (why it failed), if any.
    var lastError: String? {
        guard let text = try? String(contentsOfFile: errorPath, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").last.map(String.init)
    }

    private func send(_ line: String) -> Bool {
        guard process.isRunning else { return false }
        do { try input.write(contentsOf: Data(line.utf8)) } catch { return false }
        return true
    }

    /// The next line of the peer's output parsed as a JSON object; nil at end of output or on any other line.
    private func readJSON() -> [String: Any]? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<nl]
                buffer.removeSubrange(buffer.startIndex...nl)
                return try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            }
            // read(2) returns what the pipe holds (FileHandle.read(upToCount:) would wait for the whole count).
            var chunk = [UInt8](repeating: 0, count: 65536)
            let got = chunk.withUnsafeMutableBytes { read(output.fileDescriptor, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<got])
        }
    }

    private func close() {
        try? input.close()
        if process.isRunning {
            // The peer exits at the end of its input; give it a moment before stopping it.
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { process.terminate() }
        }
        process.waitUntilExit()
        rb_remove_child(process.processIdentifier)
    }

    deinit { try? FileManager.default.removeItem(atPath: errorPath) }
}
