import Foundation

/// Conventions for run directories: `runs/<experiment>/<run>/{metrics.h5, checkpoint.h5, figures/}`.
public enum RunFiles {
    public static let metrics = "metrics.h5"
    public static let checkpoint = "checkpoint.h5"

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
}
