import Engine
import NN
import BuildInfo
import Foundation

/// Where a run came from: written as attributes into every run file and shown by `replicate inspect`.
public struct Provenance {
    public var command: String
    public var configJSON: String
    public var seed: Int64
    public var threads: Int
    public var startTime: Date

    public init(command: [String] = CommandLine.arguments, configJSON: String, seed: Int64, threads: Int, startTime: Date = Date()) {
        self.command = command.map(shellQuoted).joined(separator: " ")
        self.configJSON = configJSON
        self.seed = seed
        self.threads = threads
        self.startTime = startTime
    }

    public var attributes: [(String, AttributeValue)] {
        let code = CodeVersion.current
        return [
            ("command", .string(command)),
            ("config", .string(configJSON)),
            ("seed", .int(seed)),
            ("code_commit", .string(code.commit)),
            ("code_dirty", .string(code.dirty)),
        ] + (CodeVersion.sourceTreeIfDifferent.map { [("source_tree_commit_at_start", AttributeValue.string($0))] } ?? []) + [
            ("hdf5_version", .string(HDF5File.libraryVersion)),
            ("blas", .string(BLAS.config)),
            ("blas_vendor", .string(BLAS.vendor)),
            ("blas_kernel", .string(BLAS.coreName)),
            ("cpu", .string(Machine.cpuModel)),
            ("threads", .int(Int64(threads))),
            ("world_size", .int(Int64(Distributed.size))),
        ] + (Distributed.isActive ? [("mpi", AttributeValue.string(Distributed.library))] : []) + [
            ("start_time", .string(iso8601(startTime))),
        ]
    }

    /// Writes every provenance attribute on the file's root group.
    public func write(to file: HDF5File) throws {
        for (k, v) in attributes { try file.setAttribute(k, v) }
    }

    /// Marks the run's end.
    public static func writeEnd(to file: HDF5File, at date: Date = Date()) throws {
        try file.setAttribute("end_time", .string(iso8601(date)))
    }
}

public func iso8601(_ date: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: date)
}

func shellQuoted(_ s: String) -> String {
    let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
    if !s.isEmpty && s.unicodeScalars.allSatisfy({ safe.contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Facts about this machine.
public enum Machine {
    /// Read once: every checkpoint records it.
    public static let cpuModel: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }()
    public static var coreCount: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Peak resident set size of this process so far, in bytes (VmHWM), or nil where /proc is absent.
    public static var peakResidentBytes: Int? { statusBytes("VmHWM:") }
    /// Resident set size of this process now, in bytes (VmRSS), or nil where /proc is absent.
    public static var residentBytes: Int? { statusBytes("VmRSS:") }

    static func statusBytes(_ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }
}

/// The git commit the code was built from (embedded at build time), and the source tree's HEAD now when it
/// differs (a binary built before the last commit, or a tree checked out elsewhere since).
public struct CodeVersion {
    public let commit: String
    public let dirty: String

    /// The build's commit and dirty flag.
    public static let current = CodeVersion(commit: BuildInfo.commit, dirty: BuildInfo.dirty)

    /// HEAD of the source tree the binary was built from, read at run time; nil when it is the build's commit
    /// or cannot be read.
    public static let sourceTreeIfDifferent: String? = {
        let sourceDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
        guard let head = run("/usr/bin/git", ["-C", sourceDir, "rev-parse", "HEAD"]), !head.isEmpty, head != current.commit else { return nil }
        return head
    }()

    private static func run(_ tool: String, _ args: [String]) -> String? {
        guard FileManager.default.isExecutableFile(atPath: tool), let r = try? Subprocess.run(tool, args), r.status == 0 else { return nil }
        return r.outputText.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
