import CRuntime
import Engine
import NN
import Foundation

/// Runs another program to completion: the one place the suite starts processes (git, gnuplot, curl, pip,
/// bunzip2, the PyTorch peer).
public enum Subprocess {
    public struct Result {
        public let status: Int32
        public let output: Data
        public let errorText: String
        public var outputText: String { String(decoding: output, as: UTF8.self) }
    }

    /// Runs `executable` with `arguments`, feeding `input` (if any) to its standard input from another thread
    /// so that neither side can block on a full pipe; returns its exit status, standard output and standard error.
    /// While it runs, a SIGINT or SIGTERM this process receives (once `rb_stop_on_signals` is on) is passed on to it.
    public static func run(_ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let stdin = input.map { _ in Pipe() }
        p.standardInput = stdin ?? FileHandle.nullDevice
        try p.run()
        rb_add_child(p.processIdentifier)
        defer { rb_remove_child(p.processIdentifier) }
        let group = DispatchGroup()
        if let stdin, let input {
            let writer = stdin.fileHandleForWriting
            DispatchQueue.global().async(group: group) {
                writer.write(input)
                try? writer.close()
            }
        }
        let errHandle = err.fileHandleForReading
        let errBox = ErrorBox()
        DispatchQueue.global().async(group: group) { errBox.set(errHandle.readDataToEndOfFile()) }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, output: output, errorText: String(decoding: errBox.data, as: UTF8.self))
    }

    /// The first of `candidates` that exists and is executable, or the first match of `name` on PATH.
    public static func find(_ name: String, candidates: [String] = []) -> String? {
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
        for d in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(d)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    private final class ErrorBox: @unchecked Sendable {
        private let lock = NSLock()
        private var value = Data()
        func set(_ d: Data) { lock.lock(); value = d; lock.unlock() }
        var data: Data { lock.lock(); defer { lock.unlock() }; return value }
    }
}
