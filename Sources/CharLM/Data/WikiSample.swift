import Engine
import NN
import Runs
import Foundation

/// The embedded default corpus: a real English Wikipedia XML excerpt (206 pages, 2016) that ships inside the
/// PyPI wheel of gensim 4.4.0, so it can be fetched with pip alone.
public enum WikiSample {
    public static let member = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    public static let bz2SHA256 = "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d"
    public static let xmlSHA256 = "34c1c63050c87cc8477b9ae36b1cb0edf372612c92938b742e579a7109c20fa4"

    /// Downloads the wheel with pip (any Python 3 with pip; the wheel is chosen by platform tag, not by the
    /// local Python) and returns its path.
    public static func downloadWheel(into dir: String) throws -> String {
        let args = ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
                    "--platform", "manylinux_2_28_x86_64", "--quiet", "-d", dir, "gensim==4.4.0"]
        let ran = (try? Subprocess.run("/usr/bin/env", ["python3"] + args))?.status == 0
        let wheel = (try FileManager.default.contentsOfDirectory(atPath: dir)).first { $0.hasPrefix("gensim-4.4.0") && $0.hasSuffix(".whl") }
        guard ran, let w = wheel else {
            throw DataError("could not download gensim 4.4.0's wheel with 'python3 -m pip download' (no pip or no network); get it by hand and pass --wheel")
        }
        return dir + "/" + w
    }

    /// The XML inside the wheel, checked against its published SHA-256 before and after bunzip2.
    public static func extractXML(wheel: String) throws -> [UInt8] {
        let bz2 = try CharCorpus.readMember(wheel, member: member)
        guard SHA256.hex(bz2) == bz2SHA256 else { throw DataError("\(wheel): the excerpt's SHA-256 does not match (wrong or corrupt wheel)") }
        let xml = try bunzip2(bz2)
        guard SHA256.hex(xml) == xmlSHA256 else { throw DataError("\(wheel): the unpacked excerpt's SHA-256 does not match") }
        return xml
    }

    static func bunzip2(_ data: [UInt8]) throws -> [UInt8] {
        guard let exe = ["/usr/bin/bunzip2", "/bin/bunzip2"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DataError("bunzip2 not found: apt-get install bzip2")
        }
        let r = try Subprocess.run(exe, ["-c"], input: Data(data))
        guard r.status == 0 else { throw DataError("bunzip2 failed on the wiki excerpt") }
        return [UInt8](r.output)
    }
}

/// Checks on downloaded corpora.
public enum CorpusCheck {
    public static func verify(zip: String, known k: CharCorpus.Known) throws {
        let bytes = try CharCorpus.readMember(zip, member: k.member)
        guard bytes.count == k.length else { throw DataError("\(zip): member '\(k.member)' has \(bytes.count) bytes, expected \(k.length)") }
        if let expected = k.sha256 {
            guard SHA256.hex(bytes) == expected else { throw DataError("\(zip): SHA-256 of '\(k.member)' does not match the published one") }
        } else {
            _ = try k.alphabet.encode(bytes, source: zip)  // text8: only a-z and space
            guard bytes.starts(with: Array(" anarchism originated as a term of abuse".utf8)) else {
                throw DataError("\(zip): '\(k.member)' does not start like text8")
            }
        }
    }
}
