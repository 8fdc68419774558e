import Engine
import NN
import Foundation

/// Checkpoints: one HDF5 file of named arrays plus attributes, written atomically.
///
/// The file is filled under a temporary name beside the target, closed, fsync'ed and only then renamed over the
/// target, so a crash or an error while writing never destroys the previous good checkpoint.
public enum Checkpoint {
    public static let format = "replicate-checkpoint"
    /// 2: written by the one trainer (rng/data and rng/dropout, best_value/best_step, configurations with
    /// enums and the attention kind). Version 1 files (before) are refused in one line that names the version.
    public static let formatVersion: Int64 = 2

    /// Writes a checkpoint at `path`. `body` fills the file; if it throws, the temporary file is removed and
    /// whatever was at `path` before is left untouched.
    public static func write(to path: String, _ body: (HDF5File) throws -> Void) throws {
        try HDF5File.writeAtomically(to: path, what: "checkpoint") { file in
            try file.setAttribute("format", .string(format))
            try file.setAttribute("format_version", .int(formatVersion))
            try body(file)
        }
    }

    /// Opens a checkpoint for reading, refusing anything that is not one of ours in this format version.
    public static func open(_ path: String) throws -> HDF5File {
        let file = try HDF5File.open(path)
        guard try file.attribute("format")?.stringValue == format else {
            throw StoreError("\(path): not a replicate checkpoint (no 'format' attribute '\(format)')")
        }
        let version = try file.attribute("format_version")?.intValue
        guard version == formatVersion else {
            throw StoreError("\(path): checkpoint format version \(version.map(String.init) ?? "missing"), this build reads version \(formatVersion)")
        }
        return file
    }
}

extension HDF5File {
    /// Writes an HDF5 file at `path` whole or not at all: `body` fills it under a temporary name beside the
    /// target, which is closed, fsync'ed and only then renamed over the target; if anything fails, the temporary
    /// file is removed and whatever was at `path` before is left untouched. `what` names the file in errors.
    public static func writeAtomically(to path: String, what: String, _ body: (HDF5File) throws -> Void) throws {
        let tmp = path + ".tmp-\(getpid())"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        var file: HDF5File?
        do {
            file = try HDF5File.create(tmp)
            try body(file!)
            try file!.close()
            try fsyncFile(tmp)
        } catch {
            try? file?.close()  // a failed write's file is closed here, not by HDF5 at exit
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw StoreError("\(path): cannot move the new \(what) into place (\(reason))")
        }
        if !directory.isEmpty { try? fsyncFile(directory) }
    }
}

func fsyncFile(_ path: String) throws {
    let fd = Foundation.open(path, O_RDONLY)
    guard fd >= 0 else { throw StoreError("\(path): cannot open for fsync") }
    defer { Foundation.close(fd) }
    guard fsync(fd) == 0 else { throw StoreError("\(path): fsync failed") }
}
