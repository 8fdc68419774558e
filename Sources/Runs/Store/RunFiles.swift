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

    /// Whether `runDir` holds (part of) a run: a checkpoint or a metrics file.
    public static func holdsRun(_ runDir: String) -> Bool {
        [checkpoint, metrics].contains { FileManager.default.fileExists(atPath: runDir + "/" + $0) }
    }

    /// Creates `runDir` and checks it suits the run: resuming needs a checkpoint there; a new run refuses a
    /// directory that already holds one (checkpoint or metrics), so a good run is never overwritten. `option` names
    /// the flag that picks another directory. Returns whether a metrics file was already there.
    public static func prepare(runDir: String, resume: Bool, option: String = "--out") throws -> Bool {
        let fm = FileManager.default
        try makeDirectory(runDir)
        let hasMetrics = fm.fileExists(atPath: runDir + "/" + metrics)
        if resume {
            guard fm.fileExists(atPath: runDir + "/" + checkpoint) else { throw TrainingError("\(runDir): nothing to resume (no \(checkpoint))") }
        } else if holdsRun(runDir) {
            throw TrainingError("\(runDir) already holds a run; pass --resume to continue it or choose another \(option)")
        }
        return hasMetrics
    }

    /// A command that trains several runs: before anything trains, a new set refuses any run directory that
    /// already holds a run (so no good run is overwritten); `resume` lets them continue.
    public static func checkSet(_ runDirs: [String], resume: Bool) throws {
        guard !resume else { return }
        for dir in runDirs where holdsRun(dir) {
            throw TrainingError("\(dir) already holds a run; pass --resume to continue or choose another --out")
        }
    }

    /// Resuming a set of runs: whether the run in `runDir` continues from its checkpoint. A run that never
    /// reached one is cleared (metrics, selection) to start over.
    public static func continuesInSet(_ runDir: String, resume: Bool) -> Bool {
        guard resume else { return false }
        if FileManager.default.fileExists(atPath: runDir + "/" + checkpoint) { return true }
        for f in [metrics, best] { try? FileManager.default.removeItem(atPath: runDir + "/" + f) }
        return false
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
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw StoreError("\(path): cannot create the directory (\((error as NSError).localizedDescription))")
        }
    }

    /// "The last good checkpoint is ... (step N)." or "No checkpoint was written.", for a run that stopped.
    public static func lastGoodCheckpointNote(_ path: String) -> String {
        if let f = try? Checkpoint.open(path), let s = try? f.attribute("step")?.intValue {
            return "The last good checkpoint is \(path) (step \(s))."
        }
        return "No checkpoint was written."
    }
}
