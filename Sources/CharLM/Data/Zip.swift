import Engine
import NN
import Runs
import CZlib
import Foundation

/// A minimal ZIP reader (stored and deflated members, no ZIP64, no encryption) and writer, enough for the
/// corpora's archives (text8.zip, enwik8.zip: one member each). Every member is checked against its CRC-32.
public struct ZipArchive {
    public struct Entry: Equatable {
        public let name: String
        public let method: UInt16
        public let crc32: UInt32
        public let compressedSize: Int
        public let size: Int
        let localHeaderOffset: Int
    }

    public let path: String
    public let entries: [Entry]
    private let data: Data

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): no such file") }
        self.path = path
        self.data = data
        entries = try ZipArchive.readDirectory(data, path)
    }

    private static func readDirectory(_ d: Data, _ path: String) throws -> [Entry] {
        let bytes = [UInt8](d)
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard bytes.count >= 22 else { throw DataError("\(path): not a zip archive (too short)") }
        // The end-of-central-directory record sits in the last 22 + 65535 bytes.
        var eocd = -1
        var o = bytes.count - 22
        while o >= max(0, bytes.count - 22 - 65535) {
            if u32(o) == 0x0605_4b50 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw DataError("\(path): not a zip archive, or truncated (no end-of-directory record)") }
        let count = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16)
        guard cdOffset != 0xFFFF_FFFF, count != 0xFFFF else { throw DataError("\(path): ZIP64 archives are not supported") }
        guard cdOffset + cdSize <= eocd else { throw DataError("\(path): truncated zip archive (central directory out of range)") }
        var entries: [Entry] = []
        var p = cdOffset
        for _ in 0..<count {
            guard p + 46 <= bytes.count, u32(p) == 0x0201_4b50 else { throw DataError("\(path): corrupt zip central directory") }
            let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
            guard p + 46 + nameLen <= bytes.count else { throw DataError("\(path): corrupt zip central directory") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
            entries.append(Entry(name: name, method: UInt16(u16(p + 10)), crc32: UInt32(u32(p + 16)), compressedSize: u32(p + 20),
                                 size: u32(p + 24), localHeaderOffset: u32(p + 42)))
            p += 46 + nameLen + extraLen + commentLen
        }
        return entries
    }

    /// The uncompressed bytes of a member, CRC-checked.
    public func extract(_ entry: Entry) throws -> [UInt8] {
        let lo = entry.localHeaderOffset
        guard lo + 30 <= data.count else { throw DataError("\(path): truncated zip archive (member '\(entry.name)')") }
        let header = [UInt8](data[lo..<(lo + 30)])
        let sig = UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24
        guard sig == 0x0403_4b50 else { throw DataError("\(path): corrupt zip member header for '\(entry.name)'") }
        let start = lo + 30 + (Int(header[26]) | Int(header[27]) << 8) + (Int(header[28]) | Int(header[29]) << 8)
        guard start + entry.compressedSize <= data.count else {
            throw DataError("\(path): truncated zip archive (member '\(entry.name)' needs \(entry.compressedSize) bytes)")
        }
        var out = [UInt8](repeating: 0, count: entry.size)
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.size else { throw DataError("\(path): corrupt stored member '\(entry.name)'") }
            data.copyBytes(to: &out, from: start..<(start + entry.size))
        case 8:
            let input = [UInt8](data[start..<(start + entry.compressedSize)])
            var stream = z_stream()
            guard czlib_inflate_init_raw(&stream) == Z_OK else { throw DataError("\(path): zlib initialisation failed") }
            defer { inflateEnd(&stream) }
            let status = zlibPass(&stream, input, &out) { inflate(&$0, Z_FINISH) }
            guard status == Z_STREAM_END, Int(stream.total_out) == entry.size else {
                throw DataError("\(path): member '\(entry.name)' does not inflate to its recorded \(entry.size) bytes (corrupt or truncated)")
            }
        default:
            throw DataError("\(path): member '\(entry.name)' uses unsupported compression method \(entry.method)")
        }
        let crc = out.withUnsafeBufferPointer { UInt32(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
        guard crc == entry.crc32 else { throw DataError("\(path): member '\(entry.name)' fails its CRC-32 check (corrupt archive)") }
        return out
    }

    /// Writes a zip archive of (name, bytes) members, deflated (level 6) or stored.
    public static func write(to path: String, members: [(String, [UInt8])], deflate: Bool = true) throws {
        var out = [UInt8](), directory = [UInt8]()
        func le16(_ v: Int, _ a: inout [UInt8]) { a += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
        func le32(_ v: Int, _ a: inout [UInt8]) { le16(v & 0xffff, &a); le16(v >> 16 & 0xffff, &a) }
        for (name, bytes) in members {
            let crc = bytes.withUnsafeBufferPointer { Int(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
            let payload = deflate ? try deflateRaw(bytes) : bytes
            let nameBytes = Array(name.utf8), offset = out.count, method = deflate ? 8 : 0
            var local = [UInt8]()
            le32(0x0403_4b50, &local); le16(20, &local); le16(0, &local); le16(method, &local); le16(0, &local); le16(0, &local)
            le32(crc, &local); le32(payload.count, &local); le32(bytes.count, &local); le16(nameBytes.count, &local); le16(0, &local)
            out += local + nameBytes + payload
            le32(0x0201_4b50, &directory); le16(20, &directory); le16(20, &directory); le16(0, &directory); le16(method, &directory)
            le16(0, &directory); le16(0, &directory); le32(crc, &directory); le32(payload.count, &directory); le32(bytes.count, &directory)
            le16(nameBytes.count, &directory); le16(0, &directory); le16(0, &directory); le16(0, &directory); le16(0, &directory)
            le32(0, &directory); le32(offset, &directory)
            directory += nameBytes
        }
        let cdOffset = out.count
        out += directory
        le32(0x0605_4b50, &out); le16(0, &out); le16(0, &out); le16(members.count, &out); le16(members.count, &out)
        le32(directory.count, &out); le32(cdOffset, &out); le16(0, &out)
        guard FileManager.default.createFile(atPath: path, contents: Data(out)) else { throw DataError("\(path): cannot write") }
    }

    static func deflateRaw(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        guard czlib_deflate_init_raw(&stream, 6) == Z_OK else { throw DataError("zlib deflate initialisation failed") }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 16)
        let status = zlibPass(&stream, bytes, &out) { CZlib.deflate(&$0, Z_FINISH) }
        guard status == Z_STREAM_END else { throw DataError("zlib deflate failed") }
        return Array(out[..<Int(stream.total_out)])
    }
}

/// Points `stream` at all of `input` and `output` and runs one zlib call (`inflate` or `deflate`) over them.
private func zlibPass(_ stream: inout z_stream, _ input: [UInt8], _ output: inout [UInt8], _ call: (inout z_stream) -> Int32) -> Int32 {
    input.withUnsafeBufferPointer { inBuf in
        output.withUnsafeMutableBufferPointer { outBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = uInt(inBuf.count)
            stream.next_out = outBuf.baseAddress
            stream.avail_out = uInt(outBuf.count)
            return call(&stream)
        }
    }
}
