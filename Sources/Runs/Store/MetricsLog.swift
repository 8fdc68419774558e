import Engine
import NN
import Foundation

/// Append-only metric series in an HDF5 file.
///
/// Series live in groups (`train`, `eval`); each group has an Int64 `step` series and one Float64 series per
/// metric, all of the same length (a metric missing from a record is stored as NaN). Records are buffered and
/// written every `flushEvery` records or `flushSeconds` seconds, whichever comes first, so a killed process
/// loses at most that tail. Reopening a file extends it; `resume(atStep:)` first drops rows after a checkpoint's
/// step so that a resumed run continues the series exactly where the checkpoint left it.
public final class MetricsLog {
    public let file: HDF5File
    public let flushEvery: Int
    public let flushSeconds: Double
    private var pending: [String: [(Int64, [String: Double])]] = [:]
    private var keys: [String: [String]] = [:]
    private var pendingCount = 0
    private var lastFlush = Date()

    /// Opens `path`, creating it when absent.
    public init(path: String, flushEvery: Int = 50, flushSeconds: Double = 10) throws {
        if FileManager.default.fileExists(atPath: path) {
            file = try HDF5File.open(path, writable: true)
        } else {
            file = try HDF5File.create(path)
        }
        self.flushEvery = flushEvery
        self.flushSeconds = flushSeconds
        for group in try file.children() where file.kind(of: group) == .group {
            let names = try file.children(of: group)
            if names.contains("step") { keys[group] = names.filter { $0 != "step" } }
        }
    }

    /// Drops every row whose step is greater than `step`, in every group.
    public func resume(atStep step: Int64) throws {
        try flush()
        for group in keys.keys {
            let steps = try file.read(join(group, "step")).int64s
            let keep = steps.prefix { $0 <= step }.count
            try file.truncateSeries(join(group, "step"), to: keep)
            for key in keys[group]! { try file.truncateSeries(join(group, key), to: keep) }
        }
        try file.flush()
    }

    /// Buffers one row of a group.
    public func record(_ group: String, step: Int64, _ values: [String: Double]) throws {
        pending[group, default: []].append((step, values))
        pendingCount += 1
        if pendingCount >= flushEvery || Date().timeIntervalSince(lastFlush) >= flushSeconds { try flush() }
    }

    /// Writes everything buffered and flushes the file.
    public func flush() throws {
        lastFlush = Date()
        guard pendingCount > 0 else { return }
        for (group, rows) in pending.sorted(by: { $0.key < $1.key }) where !rows.isEmpty {
            let stepName = join(group, "step")
            try file.createSeries(stepName, dtype: .int64)
            let existing = try file.info(stepName).shape[0]
            var known = keys[group] ?? []
            for key in Set(rows.flatMap { $0.1.keys }).sorted() where !known.contains(key) {
                // A metric that first appears now: earlier rows get NaN so every series keeps the same length.
                try file.createSeries(join(group, key), dtype: .float64)
                try file.append(NDArray([Double](repeating: .nan, count: existing)), to: join(group, key))
                known.append(key)
            }
            keys[group] = known
            try file.append(NDArray(rows.map { $0.0 }), to: stepName)
            for key in known {
                try file.append(NDArray(rows.map { $0.1[key] ?? .nan }), to: join(group, key))
            }
        }
        pending = [:]
        pendingCount = 0
        try file.flush()
    }

    public func close() throws {
        try flush()
        try file.close()
    }
}
