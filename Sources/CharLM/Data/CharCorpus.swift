import Engine
import NN
import Runs
import Foundation

/// How symbols map to ids.
public enum Alphabet: String, Codable, Sendable {
    /// text8's 27 symbols: space = 0, a..z = 1..26. Any other byte is an error.
    case text8
    /// Raw bytes (enwik8): id = byte value, 256 symbols.
    case bytes

    public var size: Int { self == .text8 ? 27 : 256 }

    /// The alphabet of a model with `vocab` symbols (text8's 27, otherwise bytes).
    public init(vocab: Int) { self = vocab == Alphabet.text8.size ? .text8 : .bytes }

    /// Whether the byte is one of this alphabet's symbols.
    public func contains(_ byte: UInt8) -> Bool { self == .bytes || byte == 32 || (97...122).contains(byte) }

    public func encode(_ raw: [UInt8], source: String) throws -> [UInt8] {
        switch self {
        case .bytes: return raw
        case .text8:
            var out = [UInt8](repeating: 0, count: raw.count)
            for (i, b) in raw.enumerated() {
                guard contains(b) else {
                    throw DataError("\(source): byte \(b) at offset \(i) is not in text8's alphabet (a-z and space)")
                }
                out[i] = b == 32 ? 0 : b - 96
            }
            return out
        }
    }

    public func decode(_ ids: [UInt8]) -> String {
        switch self {
        case .bytes: return String(decoding: ids, as: UTF8.self)
        case .text8: return String(ids.map { $0 == 0 ? Character(" ") : Character(Unicode.Scalar($0 + 96)) })
        }
    }
}

/// A character corpus split into train / validation / test, as symbol ids.
public struct CharCorpus {
    public let name: String
    public let alphabet: Alphabet
    public let train: [UInt8]
    public let valid: [UInt8]
    public let test: [UInt8]

    public init(name: String, alphabet: Alphabet, train: [UInt8], valid: [UInt8], test: [UInt8]) {
        self.name = name
        self.alphabet = alphabet
        self.train = train
        self.valid = valid
        self.test = test
    }

    public func split(_ name: String) throws -> [UInt8] {
        switch name {
        case "train": return train
        case "valid", "validation": return valid
        case "test": return test
        default: throw DataError("unknown split '\(name)' (train, valid, test)")
        }
    }

    /// The standard text8/enwik8 split: first 90M symbols train, next 5M validation, last 5M test. Any other
    /// length is split 90% / 5% / 5% in the same order.
    public static func standardSplit(_ ids: [UInt8]) -> ([UInt8], [UInt8], [UInt8]) {
        let n = ids.count
        let (trainEnd, validEnd) = n == 100_000_000 ? (90_000_000, 95_000_000) : (n * 90 / 100, n * 95 / 100)
        return (Array(ids[..<trainEnd]), Array(ids[trainEnd..<validEnd]), Array(ids[validEnd...]))
    }

    /// The published corpora: their archive, member and exact length.
    public struct Known: Sendable {
        public let name: String, url: String, member: String, length: Int, alphabet: Alphabet
        /// SHA-256 of the unpacked member where a published one exists.
        public let sha256: String?
    }

    public static let known: [String: Known] = [
        "text8": Known(name: "text8", url: "http://mattmahoney.net/dc/text8.zip", member: "text8", length: 100_000_000, alphabet: .text8, sha256: nil),
        "enwik8": Known(name: "enwik8", url: "http://mattmahoney.net/dc/enwik8.zip", member: "enwik8", length: 100_000_000, alphabet: .bytes,
                        sha256: "2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8"),
    ]

    /// The data directory: `--data-dir`, else $REPLICATE_DATA, else ~/.cache/replicate.
    public static func dataDirectory(_ override: String?) -> String {
        if let o = override { return o }
        if let env = ProcessInfo.processInfo.environment["REPLICATE_DATA"], !env.isEmpty { return env }
        return NSHomeDirectory() + "/.cache/replicate"
    }

    /// The alphabet of a named corpus; an unknown name is an error listing the names.
    public static func alphabet(of dataset: String) throws -> Alphabet {
        if let k = known[dataset] { return k.alphabet }
        switch dataset {
        case "wiki-sample": return .text8
        case "wiki-sample-raw": return .bytes
        default: throw DataError("unknown dataset '\(dataset)' (text8, enwik8, wiki-sample, wiki-sample-raw; or --data-file)")
        }
    }

    /// Loads a corpus by name: text8 or enwik8 (from `<dir>/<name>.zip` or the unpacked `<dir>/<name>`),
    /// wiki-sample (cleaned, text8 alphabet) or wiki-sample-raw (XML bytes), prepared by setup.sh.
    public static func load(_ dataset: String, dataDir: String) throws -> CharCorpus {
        let alphabet = try CharCorpus.alphabet(of: dataset)
        if let k = known[dataset] {
            let zip = "\(dataDir)/\(k.name).zip", raw = "\(dataDir)/\(k.name)"
            let bytes: [UInt8]
            if FileManager.default.fileExists(atPath: raw) {
                bytes = try readFile(raw)
            } else if FileManager.default.fileExists(atPath: zip) {
                bytes = try readMember(zip, member: k.member)
            } else {
                throw DataError("\(dataset) not found: run 'replicate data fetch \(dataset)', or put \(k.name).zip (from \(k.url)) in \(dataDir)")
            }
            guard bytes.count == k.length else {
                throw DataError("\(dataset): \(bytes.count) symbols, expected exactly \(k.length) (truncated or wrong file)")
            }
            return try make(name: dataset, bytes: bytes, alphabet: alphabet, source: dataset)
        }
        // wiki-sample (cleaned) or wiki-sample-raw (its XML)
        let file = "\(dataDir)/wiki-sample/" + (alphabet == .text8 ? "wiki-sample.txt" : "wiki-sample.xml")
        guard FileManager.default.fileExists(atPath: file) else {
            throw DataError("\(dataset) not found at \(file): run ./setup.sh (or 'replicate data prepare-wiki-sample')")
        }
        return try make(name: dataset, bytes: try readFile(file), alphabet: alphabet, source: file)
    }

    /// Any file (a .zip with one member, or plain bytes), split 90/5/5.
    public static func load(file: String, alphabet: Alphabet) throws -> CharCorpus {
        let bytes: [UInt8]
        if file.hasSuffix(".zip") {
            var count = 0, first: [UInt8]? = nil
            try Archive.forEachFile(in: file, wanted: { _ in count += 1; return count == 1 }) { _, data in first = data; return true }
            guard count == 1, let only = first else { throw DataError("\(file): expected one member, found \(count)") }
            bytes = only
        } else {
            bytes = try readFile(file)
        }
        return try make(name: (file as NSString).lastPathComponent, bytes: bytes, alphabet: alphabet, source: file)
    }

    static func make(name: String, bytes: [UInt8], alphabet: Alphabet, source: String) throws -> CharCorpus {
        guard bytes.count >= 100 else { throw DataError("\(source): only \(bytes.count) symbols; too short to split") }
        let (tr, va, te) = standardSplit(try alphabet.encode(bytes, source: source))
        return CharCorpus(name: name, alphabet: alphabet, train: tr, valid: va, test: te)
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read") }
        return [UInt8](d)
    }

    /// One named member of a zip archive.
    public static func readMember(_ zip: String, member: String) throws -> [UInt8] {
        try Archive.read(member: member, in: zip)
    }
}
