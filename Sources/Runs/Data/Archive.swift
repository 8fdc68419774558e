import CArchive
import Foundation

/// Archives read and written through libarchive (Debian libarchive-dev): zip (ZIP64 included), tar and
/// compressed tar, read as streams, one member at a time, so that an archive of hundreds of thousands of small
/// files is never held whole. Every error is a one-line `DataError` naming the archive's path.
///
/// Integrity: zip members are checked against their CRC-32, and bzip2 and xz streams check themselves; but tar
/// has no checksum over data and libarchive 3.6 does not check a gzip stream's CRC-32 (a TODO in its gzip
/// filter), so damage inside a tar.gz's compressed data that inflate itself does not notice reads as wrong bytes.
public enum Archive {
    /// Streams the regular files of an archive (zip incl. ZIP64, tar, tar.gz/.tgz, tar.bz2, tar.xz; the format
    /// is detected from the content, not the name) in archive order. `wanted` decides from a member's name
    /// whether its data is read (otherwise it is skipped without being kept); `body` gets the name and the bytes
    /// and returns false to stop early. Errors are one-line `DataError`s naming the path.
    public static func forEachFile(in path: String, wanted: (String) -> Bool = { _ in true },
                                   _ body: (String, [UInt8]) throws -> Bool) throws {
        try checkRegularFile(path)
        let callers = enterUTF8Locale()
        defer { uselocale(callers) }
        guard let a = archive_read_new() else { throw DataError("\(path): cannot start libarchive") }
        defer { archive_read_free(a) }
        // Only the formats and filters we mean: with all of libarchive's formats, plain text could pass for an
        // mtree description and be "read" as an archive of nothing.
        archive_read_support_format_zip(a)  // seekable (central directory) and streamable (local headers)
        archive_read_support_format_tar(a)  // ustar, pax, GNU tar
        archive_read_support_filter_gzip(a)
        archive_read_support_filter_bzip2(a)
        archive_read_support_filter_xz(a)
        archive_read_support_filter_lzma(a)
        archive_read_support_filter_zstd(a)
        archive_read_support_filter_compress(a)
        guard archive_read_open_filename(a, path, 1 << 20) == ARCHIVE_OK else { throw unreadable(a, path) }
        var previous: String? = nil  // the last member seen, to say where a damaged archive breaks
        var checkedZipEnd = false
        while true {
            var entry: OpaquePointer? = nil
            let status = archive_read_next_header(a, &entry)
            if status == ARCHIVE_EOF { return }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                let why = message(a)
                if let previous {
                    let what = isTruncation(why) ? "truncated" : "damaged"
                    throw DataError("\(path): \(what) archive after member '\(previous)' (\(why))")
                }
                throw unreadable(a, path)
            }
            if !checkedZipEnd && archive_format(a) & ARCHIVE_FORMAT_BASE_MASK == ARCHIVE_FORMAT_ZIP {
                // A zip cut short loses its central directory; libarchive then reads it from the local headers and
                // takes the cut for the end of the archive, so check for the end record ourselves.
                try checkZipEnd(path)
                checkedZipEnd = true
            }
            let name = entryName(entry)
            previous = name
            // Regular files only: no directories, links (a tar hard link carries no data of its own) or devices.
            guard archive_entry_filetype(entry) == regularFileType, archive_entry_hardlink(entry) == nil else { continue }
            guard inLocale(callers, { wanted(name) }) else {
                guard archive_read_data_skip(a) == ARCHIVE_OK else { throw dataError(a, path, name) }
                continue
            }
            let size = archive_entry_size_is_set(entry) != 0 ? Int(archive_entry_size(entry)) : 0
            // A damaged header cannot make us allocate more than 256 MiB up front; larger members grow as read.
            let bytes = try readData(a, path, name, expected: min(max(0, size), 1 << 28))
            guard try inLocale(callers, { try body(name, bytes) }) else { return }
        }
    }

    /// The names of the regular files, in archive order.
    public static func fileNames(in path: String) throws -> [String] {
        var names: [String] = []
        try forEachFile(in: path, wanted: { names.append($0); return false }) { _, _ in true }
        return names
    }

    /// One named member's bytes; when absent, a one-line error listing (a few of) the members.
    public static func read(member: String, in path: String) throws -> [UInt8] {
        var names: [String] = [], found: [UInt8]? = nil
        try forEachFile(in: path, wanted: { names.append($0); return $0 == member }) { _, bytes in
            found = bytes
            return false
        }
        if let found { return found }
        let shown = 10
        var list = names.prefix(shown).joined(separator: ", ")
        if names.count > shown { list += ", ... (\(names.count) in all)" }
        throw DataError("\(path): no member '\(member)' (members: \(names.isEmpty ? "none" : list))")
    }

    public enum Format: Sendable { case zip(deflate: Bool), tarGz }

    /// Writes an archive holding `members` in order (tests and generated data sets use it).
    public static func write(to path: String, members: [(name: String, bytes: [UInt8])], format: Format) throws {
        let temporary = "\(path).tmp-\(getpid())"
        do {
            let callers = enterUTF8Locale()
            defer { uselocale(callers) }
            try writeArchive(to: temporary, members: members, format: format, reportedAs: path)
            guard rename(temporary, path) == 0 else {
                throw DataError("\(path): cannot write (\(String(cString: strerror(errno))))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    // MARK: - Names and the locale

    /// libarchive converts names with the C library's multibyte functions, which follow the locale; in the "C"
    /// locale a Swift program runs in, a non-ASCII name is mangled on reading and crashes libarchive 3.6's pax
    /// writer. So libarchive runs with a UTF-8 character type on this thread only (`uselocale`), and the caller's
    /// closures under the caller's locale.
    nonisolated(unsafe) private static let utf8Locale: locale_t? = newlocale(Int32(LC_CTYPE_MASK), "C.UTF-8", nil)

    /// Switches this thread to `utf8Locale` (when the C library has it) and returns the locale to restore.
    private static func enterUTF8Locale() -> locale_t? {
        guard let utf8 = utf8Locale else { return uselocale(nil) }
        return uselocale(utf8)
    }

    private static func inLocale<T>(_ locale: locale_t?, _ work: () throws -> T) rethrows -> T {
        let ours = uselocale(locale)
        defer { uselocale(ours) }
        return try work()
    }

    // MARK: - Reading

    /// `AE_IFREG` (a cast in a macro, which Swift does not import).
    private static let regularFileType: UInt32 = 0o100000

    private static func checkRegularFile(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw DataError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw DataError("\(path): is a directory, not an archive")
        default: throw DataError("\(path): not a regular file, so not read as an archive")
        }
    }

    private static func entryName(_ entry: OpaquePointer) -> String {
        if let p = archive_entry_pathname_utf8(entry) { return String(cString: p) }
        if let p = archive_entry_pathname(entry) { return String(cString: p) }
        return "?"
    }

    /// The member's data: into a buffer of the `expected` size (the recorded one, when there is one), then until
    /// libarchive says the member ends (streamed zip members may not record their size in front).
    private static func readData(_ a: OpaquePointer, _ path: String, _ name: String, expected: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expected)
        var filled = 0
        while filled < out.count {
            let n = out.withUnsafeMutableBufferPointer { archive_read_data(a, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 { throw dataError(a, path, name) }
            if n == 0 { break }
            filled += n
        }
        if filled < out.count {
            // libarchive's zip and tar readers fail a member shorter than its header says; never hand out the zeros.
            throw DataError("\(path): truncated archive in member '\(name)' (\(filled) of \(out.count) bytes)")
        }
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = scratch.withUnsafeMutableBufferPointer { archive_read_data(a, $0.baseAddress!, $0.count) }
            if n < 0 { throw dataError(a, path, name) }
            if n == 0 { return out }
            out += scratch[..<n]
        }
    }

    /// An archive that fails before its first member: cut short, or not an archive of a format we read.
    private static func unreadable(_ a: OpaquePointer, _ path: String) -> DataError {
        let why = message(a)
        return DataError(isTruncation(why) ? "\(path): truncated archive (\(why))" : "\(path): not a readable archive (\(why))")
    }

    private static func dataError(_ a: OpaquePointer, _ path: String, _ name: String) -> DataError {
        let why = message(a)
        return isTruncation(why) ? DataError("\(path): truncated archive in member '\(name)' (\(why))")
                                 : DataError("\(path): member '\(name)' is damaged (\(why))")
    }

    private static func isTruncation(_ why: String) -> Bool {
        let w = why.lowercased()
        return w.contains("truncat") || w.contains("premature end") || w.contains("unexpected end")
    }

    /// libarchive's error message on one line (it can span lines, or be missing).
    private static func message(_ a: OpaquePointer) -> String {
        guard let p = archive_error_string(a) else {
            let code = archive_errno(a)
            return code > 0 ? String(cString: strerror(code)) : "libarchive gave no reason"
        }
        let lines = String(cString: p).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let text = lines.filter { !$0.isEmpty }.joined(separator: "; ")
        return text.isEmpty ? "libarchive gave no reason" : text
    }

    /// Refuses a zip without its end-of-central-directory record (which every zip, ZIP64 too, ends with, within
    /// the last 22 + 65535 bytes).
    private static func checkZipEnd(_ path: String) throws {
        guard let f = FileHandle(forReadingAtPath: path) else { throw DataError("\(path): cannot open") }
        defer { try? f.close() }
        let size = Int(try f.seekToEnd())
        let tail = min(size, 22 + 65535)
        try f.seek(toOffset: UInt64(size - tail))
        let bytes = [UInt8](try f.read(upToCount: tail) ?? Data())
        var o = bytes.count - 22
        while o >= 0 {
            if bytes[o] == 0x50, bytes[o + 1] == 0x4b, bytes[o + 2] == 5, bytes[o + 3] == 6 { return }
            o -= 1
        }
        throw DataError("\(path): truncated archive (a zip without its end-of-central-directory record)")
    }

    // MARK: - Writing

    private static func writeArchive(to file: String, members: [(name: String, bytes: [UInt8])], format: Format,
                                     reportedAs path: String) throws {
        guard let a = archive_write_new() else { throw DataError("\(path): cannot start libarchive") }
        defer { archive_write_free(a) }
        func check(_ status: Int32, _ what: String) throws {
            guard status == ARCHIVE_OK else { throw DataError("\(path): cannot write (\(what): \(message(a)))") }
        }
        switch format {
        case .zip(let deflate):
            try check(archive_write_set_format_zip(a), "zip format")
            try check(archive_write_set_format_option(a, "zip", "compression", deflate ? "deflate" : "store"), "zip compression")
            _ = archive_write_set_format_option(a, "zip", "hdrcharset", "UTF-8")
        case .tarGz:
            try check(archive_write_set_format_pax_restricted(a), "tar format")  // ustar, pax headers where needed
            try check(archive_write_add_filter_gzip(a), "gzip")
            _ = archive_write_set_filter_option(a, "gzip", "timestamp", nil)  // no time in the gzip header
        }
        try check(archive_write_set_bytes_in_last_block(a, 1), "block size")
        try check(archive_write_open_filename(a, file), "open")
        for (name, bytes) in members {
            guard !name.isEmpty else { throw DataError("\(path): cannot write a member without a name") }
            guard let entry = archive_entry_new() else { throw DataError("\(path): cannot start libarchive") }
            defer { archive_entry_free(entry) }
            archive_entry_set_pathname_utf8(entry, name)
            guard archive_entry_pathname(entry) != nil else {  // libarchive 3.6's pax writer would crash on it
                throw DataError("\(path): cannot write member '\(name)' (its name has no form in the current locale)")
            }
            archive_entry_set_filetype(entry, regularFileType)
            archive_entry_set_perm(entry, 0o644)
            archive_entry_set_size(entry, la_int64_t(bytes.count))
            archive_entry_set_mtime(entry, 1_577_836_800, 0)  // 2020-01-01: the same bytes from the same members
            try check(archive_write_header(a, entry), "member '\(name)'")
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBufferPointer { archive_write_data(a, $0.baseAddress! + done, $0.count - done) }
                guard n > 0 else { throw DataError("\(path): cannot write (member '\(name)': \(message(a)))") }
                done += n
            }
            try check(archive_write_finish_entry(a), "member '\(name)'")
        }
        try check(archive_write_close(a), "close")
    }
}
