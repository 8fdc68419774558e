import Engine
import Runs
import Foundation
import XCTest

final class ArchiveTests: XCTestCase {
    /// Several members: an empty one, one in a subdirectory, one incompressible.
    func sampleMembers() -> [(name: String, bytes: [UInt8])] {
        var rng = Philox(seed: 11)
        return [("a.txt", Array("alpha\n".utf8)), ("empty", []),
                ("sub/dir/b.bin", (0..<3000).map { _ in UInt8(rng.below(256)) }),
                ("c.txt", Array(String(repeating: "the same line\n", count: 200).utf8))]
    }

    func read(_ path: String, wanted: (String) -> Bool = { _ in true }) throws -> [(String, [UInt8])] {
        var got: [(String, [UInt8])] = []
        try Archive.forEachFile(in: path, wanted: wanted) { got.append(($0, $1)); return true }
        return got
    }

    func testRoundTripZipStoredDeflatedAndTarGz() throws {
        let dir = try makeTempDir()
        let members = sampleMembers()
        for (file, format) in [("stored.zip", Archive.Format.zip(deflate: false)), ("deflated.zip", .zip(deflate: true)),
                               ("members.tar.gz", .tarGz)] {
            let path = dir + "/" + file
            try Archive.write(to: path, members: members, format: format)
            let got = try read(path)
            XCTAssertEqual(got.map(\.0), members.map(\.name), file)
            XCTAssertEqual(got.map(\.1), members.map(\.bytes), file)
            XCTAssertEqual(try Archive.fileNames(in: path), members.map(\.name), file)
            for m in members { XCTAssertEqual(try Archive.read(member: m.name, in: path), m.bytes, "\(file): \(m.name)") }
        }
        let sizes = try ["stored.zip", "deflated.zip"].map { try FileManager.default.attributesOfItem(atPath: dir + "/" + $0)[.size] as! Int }
        XCTAssertLessThan(sizes[1], sizes[0] - 2000, "deflate should shrink the repeated lines")
        // No temporary file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["deflated.zip", "members.tar.gz", "stored.zip"])
        // An archive with no members reads as empty.
        try Archive.write(to: dir + "/none.zip", members: [], format: .zip(deflate: true))
        XCTAssertEqual(try Archive.fileNames(in: dir + "/none.zip"), [])
        try Archive.write(to: dir + "/none.tar.gz", members: [], format: .tarGz)
        XCTAssertEqual(try Archive.fileNames(in: dir + "/none.tar.gz"), [])
    }

    func testNonASCIINames() throws {
        // libarchive converts names through the locale; Archive reads and writes them as UTF-8 whatever it is.
        let dir = try makeTempDir()
        let members = [(name: "ünïcode/名前.txt", bytes: [UInt8]([1, 2])), (name: "ascii", bytes: [3])]
        for format in [Archive.Format.zip(deflate: true), .zip(deflate: false), .tarGz] {
            let path = dir + "/u\(format)"
            try Archive.write(to: path, members: members, format: format)
            XCTAssertEqual(try Archive.fileNames(in: path), members.map(\.name))
            XCTAssertEqual(try Archive.read(member: "ünïcode/名前.txt", in: path), [1, 2])
        }
    }

    func testFormatComesFromTheContentNotTheName() throws {
        let dir = try makeTempDir()
        let members = sampleMembers()
        try Archive.write(to: dir + "/really-a-tar-gz.zip", members: members, format: .tarGz)
        try Archive.write(to: dir + "/really-a-zip.tgz", members: members, format: .zip(deflate: true))
        XCTAssertEqual(try read(dir + "/really-a-tar-gz.zip").map(\.1), members.map(\.bytes))
        XCTAssertEqual(try read(dir + "/really-a-zip.tgz").map(\.1), members.map(\.bytes))
    }

    func testWantedFilteringAndEarlyStop() throws {
        let dir = try makeTempDir()
        let members = sampleMembers()
        for format in [Archive.Format.zip(deflate: true), .tarGz] {
            let path = dir + "/f\(format)"
            try Archive.write(to: path, members: members, format: format)
            var asked: [String] = []
            let got = try read(path, wanted: { asked.append($0); return $0.hasPrefix("sub/") || $0 == "c.txt" })
            XCTAssertEqual(asked, members.map(\.name))
            XCTAssertEqual(got.map(\.0), ["sub/dir/b.bin", "c.txt"])
            XCTAssertEqual(got.map(\.1), [members[2].bytes, members[3].bytes])
            var seen: [String] = []
            try Archive.forEachFile(in: path) { name, _ in seen.append(name); return seen.count < 2 }
            XCTAssertEqual(seen, ["a.txt", "empty"])
        }
    }

    func testMissingMemberListsSomeMembers() throws {
        let dir = try makeTempDir()
        try Archive.write(to: dir + "/few.zip", members: sampleMembers(), format: .zip(deflate: true))
        assertOneLineError(try Archive.read(member: "nope", in: dir + "/few.zip"),
                           contains: "\(dir)/few.zip: no member 'nope' (members: a.txt, empty, sub/dir/b.bin, c.txt)")
        let many = (0..<50).map { (name: "m\($0)", bytes: [UInt8($0)]) }
        try Archive.write(to: dir + "/many.tar.gz", members: many, format: .tarGz)
        assertOneLineError(try Archive.read(member: "nope", in: dir + "/many.tar.gz"), contains: "m8, m9, ... (50 in all)")
        XCTAssertEqual(try Archive.read(member: "m49", in: dir + "/many.tar.gz"), [49])
    }

    func testPathsThatAreNotArchives() throws {
        let dir = try makeTempDir()
        assertOneLineError(try Archive.fileNames(in: dir + "/absent.zip"), contains: "\(dir)/absent.zip: cannot open (No such file or directory)")
        assertOneLineError(try Archive.fileNames(in: dir), contains: "\(dir): is a directory")
        assertOneLineError(try Archive.read(member: "x", in: "/dev/null"), contains: "/dev/null: not a regular file")
        try Data("just some text,\nover two lines\n".utf8).write(to: URL(fileURLWithPath: dir + "/plain.zip"))
        assertOneLineError(try Archive.fileNames(in: dir + "/plain.zip"), contains: "\(dir)/plain.zip: not a readable archive (")
        try Data().write(to: URL(fileURLWithPath: dir + "/empty.tar.gz"))
        assertOneLineError(try Archive.fileNames(in: dir + "/empty.tar.gz"), contains: "\(dir)/empty.tar.gz: not a readable archive")
        // gzip around something that is not a tar
        let gz = dir + "/text.gz"
        try Data("not a tar inside\n".utf8).write(to: URL(fileURLWithPath: dir + "/text"))
        if let gzip = which("gzip"), try runProcess(gzip, ["-k", dir + "/text"]).0 == 0 {
            assertOneLineError(try Archive.fileNames(in: gz), contains: "\(gz): not a readable archive")
        }
    }

    func testTruncatedArchives() throws {
        let dir = try makeTempDir()
        var rng = Philox(seed: 5)
        let members = [(name: "first", bytes: (0..<40_000).map { _ in UInt8(rng.below(256)) }),
                       (name: "second", bytes: (0..<40_000).map { _ in UInt8(rng.below(256)) })]
        for (file, format) in [("t.tar.gz", Archive.Format.tarGz), ("t.zip", .zip(deflate: true)), ("s.zip", .zip(deflate: false))] {
            try Archive.write(to: dir + "/" + file, members: members, format: format)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + file)))
            for keep in [bytes.count / 4, bytes.count / 2, bytes.count * 3 / 4, bytes.count - 10] {
                let cut = dir + "/cut-\(keep)-" + file
                try Data(bytes.prefix(keep)).write(to: URL(fileURLWithPath: cut))
                assertOneLineError(try read(cut), contains: "\(cut): truncated archive")
                assertOneLineError(try Archive.fileNames(in: cut), contains: "\(cut): truncated archive")
            }
        }
    }

    func testCorruptZipIsAnErrorNeverWrongBytes() throws {
        let dir = try makeTempDir()
        var rng = Philox(seed: 7)
        let text = Array(String(repeating: "a line of text that repeats, more or less; ", count: 300).utf8)
        let noise = (0..<5000).map { _ in UInt8(rng.below(256)) }
        for (deflate, payload) in [(true, text), (false, noise), (true, noise)] {
            let path = dir + "/ok-\(deflate).zip"
            try Archive.write(to: path, members: [("x", [1, 2, 3]), ("m", payload)], format: .zip(deflate: deflate))
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            // The second local header, then the middle of its data.
            let second = try XCTUnwrap((4..<bytes.count - 4).first { bytes[$0] == 0x50 && bytes[$0 + 1] == 0x4b && bytes[$0 + 2] == 3 && bytes[$0 + 3] == 4 })
            let start = second + 30 + (Int(bytes[second + 26]) | Int(bytes[second + 27]) << 8) + (Int(bytes[second + 28]) | Int(bytes[second + 29]) << 8)
            let end = try XCTUnwrap((start..<bytes.count - 4).first { bytes[$0] == 0x50 && bytes[$0 + 1] == 0x4b && bytes[$0 + 2] == 1 && bytes[$0 + 3] == 2 })
            for at in [start + 3, (start + end) / 2] {
                var corrupt = bytes
                corrupt[at] ^= 0x5A
                let bad = dir + "/corrupt-\(deflate)-\(payload.count)-\(at).zip"
                try Data(corrupt).write(to: URL(fileURLWithPath: bad))
                assertOneLineError(try Archive.read(member: "m", in: bad), contains: "\(bad): member 'm' is damaged (")
                assertOneLineError(try read(bad), contains: "member 'm' is damaged")
                XCTAssertEqual(try Archive.read(member: "x", in: bad), [1, 2, 3], "the intact member still reads")
            }
        }
    }

    func testWriteFailureLeavesNoFile() throws {
        let dir = try makeTempDir()
        assertOneLineError(try Archive.write(to: dir + "/no/such/dir/a.zip", members: [("a", [1])], format: .zip(deflate: true)),
                           contains: "\(dir)/no/such/dir/a.zip: cannot write")
        try Archive.write(to: dir + "/a.tar.gz", members: [("a", [1])], format: .tarGz)
        assertOneLineError(try Archive.write(to: dir + "/a.tar.gz", members: [("b", [2]), ("", [3])], format: .tarGz),
                           contains: "\(dir)/a.tar.gz: cannot write a member without a name")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.tar.gz"])
        XCTAssertEqual(try read(dir + "/a.tar.gz").map(\.1), [[1]], "the old archive is untouched")
    }

    /// Archives written by Python's zipfile (ZIP64 throughout) and tarfile (pax, with a directory, a symbolic
    /// link and a long name): scripts/make_archive_fixtures.py.
    func testIndependentlyWrittenZip64AndTarGz() throws {
        let files: [(String, [UInt8])] = [("hello.txt", Array("hello, archive\n".utf8)), ("empty.bin", []),
                                          ("sub/dir/data.bin", (0..<1024).map { UInt8($0 % 256) }),
                                          ("stored.txt", Array("stored, not deflated\n".utf8))]
        let zip = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/archives/zip64", withExtension: "zip")).path
        XCTAssertEqual(try Archive.fileNames(in: zip), files.map(\.0))
        XCTAssertEqual(try read(zip).map(\.1), files.map(\.1))
        XCTAssertEqual(try Archive.read(member: "sub/dir/data.bin", in: zip), files[2].1)
        let tgz = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/archives/fixture.tar", withExtension: "gz")).path
        let long = "long/" + String(repeating: "n", count: 120) + ".txt"
        XCTAssertEqual(try Archive.fileNames(in: tgz), files.map(\.0) + [long])
        XCTAssertEqual(try read(tgz).map(\.1), files.map(\.1) + [Array("a name longer than 100 bytes\n".utf8)])
        XCTAssertEqual(try Archive.read(member: long, in: tgz), Array("a name longer than 100 bytes\n".utf8))
    }
}
