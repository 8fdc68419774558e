import Engine
import NN
import Foundation

/// A training run that stopped on bad numbers or bad state: one line, naming the step and the last good
/// checkpoint.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A data problem (missing or corrupt file, wrong format), as one line.
public struct DataError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Conventions for run directories: `runs/<experiment>/<run>/{metrics.h5, checkpoint.h5, figures/}`.
public enum RunFiles {
    public static let metrics = "metrics.h5"
    public static let checkpoint = "checkpoint.h5"
    /// The parameters selected on validation (see `Trainer`).
    public static let best = "best.h5"

    /// Every metrics file below a directory, sorted by path.
    public static func metricsFiles(under root: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw StoreError("\(root): no such directory")
        }
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        for case let rel as String in walker where (rel as NSString).lastPathComponent == metrics {
            out.append((root as NSString).appendingPathComponent(rel))
        }
        return out.sorted()
    }

    /// Whether `runDir` holds a run worth keeping: a checkpoint. (Metrics without a checkpoint are what a run
    /// stopped before its first checkpoint leaves: nothing to resume, restarted on the next attempt.)
    public static func holdsRun(_ runDir: String) -> Bool {
        FileManager.default.fileExists(atPath: runDir + "/" + checkpoint)
    }

    /// Checks that `runDir` (existing, its lock held) suits the run, and tidies what killed attempts left: a new
    /// run refuses a directory that holds a checkpoint, so a good run is never overwritten; resuming continues
    /// from the checkpoint. A run that stopped before its first checkpoint (kill, NaN, crash) left only partial
    /// metrics: they are removed and the run starts over, with or without `resume`; `resume` on a directory that
    /// holds nothing at all is an error (a mistyped path). Temporary files of interrupted writes are removed.
    /// `option` names the flag that picks another directory. Returns whether the run continues from a checkpoint.
    public static func prepare(runDir: String, resume: Bool, option: String = "--out") throws -> Bool {
        let fm = FileManager.default
        removeStaleTemporaries(runDir)
        if holdsRun(runDir) {
            guard resume else { throw TrainingError("\(runDir) already holds a run; pass --resume to continue it or choose another \(option)") }
            return true
        }
        let partial = [metrics, best].filter { fm.fileExists(atPath: runDir + "/" + $0) }
        if resume && partial.isEmpty { throw TrainingError("\(runDir): nothing to resume (no \(checkpoint))") }
        if !partial.isEmpty {
            for f in partial {
                do { try fm.removeItem(atPath: runDir + "/" + f) } catch {
                    throw StoreError("\(runDir)/\(f): cannot remove the stopped attempt's file (\(describe(error)))")
                }
            }
            print("\(runDir): the previous attempt stopped before its first checkpoint; starting the run over")
        }
        return false
    }

    /// Removes `<name>.tmp-<pid>` files of writes that were interrupted (the caller holds the run's lock, so no
    /// other process is writing them).
    static func removeStaleTemporaries(_ runDir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: runDir) else { return }
        for name in names {
            guard let r = name.range(of: ".tmp-", options: .backwards), !name[r.upperBound...].isEmpty,
                  name[r.upperBound...].allSatisfy(\.isNumber) else { continue }
            try? FileManager.default.removeItem(atPath: runDir + "/" + name)
        }
    }

    /// A command that trains several runs: before anything trains, a new set refuses any run directory that
    /// already holds a run (so no good run is overwritten); `resume` lets them continue.
    public static func checkSet(_ runDirs: [String], resume: Bool) throws {
        guard !resume else { return }
        for dir in runDirs where holdsRun(dir) {
            throw TrainingError("\(dir) already holds a run; pass --resume to continue or choose another --out")
        }
    }

    /// Resuming a set of runs: whether the run in `runDir` continues from its checkpoint (one that never reached
    /// a checkpoint starts over).
    public static func continuesInSet(_ runDir: String, resume: Bool) -> Bool {
        resume && holdsRun(runDir)
    }

    /// Creates `path` and its parents; a path (or parent) that is a file, or cannot be made, is a one-line error.
    public static func makeDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        var probe = (path as NSString).standardizingPath
        while !probe.isEmpty && probe != "/" {
            if FileManager.default.fileExists(atPath: probe, isDirectory: &isDir) {
                guard isDir.boolValue else { throw StoreError("\(path): \(probe) is a file, not a directory") }
                break
            }
            probe = (probe as NSString).deletingLastPathComponent
        }
        // mkdir(2) one component at a time, so that a failure has its errno ("Read-only file system",
        // "Permission denied", "No space left on device").
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw StoreError("\(path): cannot create the directory (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// "The last good checkpoint is ... (step N)." or "No checkpoint was written.", for a run that stopped.
    public static func lastGoodCheckpointNote(_ path: String) -> String {
        if let f = try? Checkpoint.open(path), let s = try? f.attribute("step")?.intValue {
            return "The last good checkpoint is \(path) (step \(s))."
        }
        return "No checkpoint was written."
    }

    /// The cause of a file-system error in words ("Read-only file system", "No space left on device"), from its
    /// POSIX code where it has one, not Foundation's NSCocoaErrorDomain text.
    public static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}
