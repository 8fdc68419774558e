import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import ArgumentParser
import Foundation

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Corpora: fetch text8/enwik8, clean Wikipedia XML the way text8 was made.",
        subcommands: [Fetch.self, PrepareWikiSample.self, CleanWiki.self])
}

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download text8.zip or enwik8.zip into the data directory and check it (length, alphabet, checksum).")
    @Argument(help: "text8 or enwik8.") var corpus: String
    @Option(help: "Where corpora live (default $REPLICATE_DATA, else ~/.cache/replicate).") var dataDir: String?

    func validate() throws {
        guard CharCorpus.known[corpus] != nil else { throw ValidationError("corpus must be text8 or enwik8") }
    }

    func run() throws {
        let k = CharCorpus.known[corpus]!
        let dir = CharCorpus.dataDirectory(dataDir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let target = "\(dir)/\(k.name).zip", tmp = target + ".part"
        let manual = "download \(k.url) by hand and put it at \(target)"
        guard let curl = ["/usr/bin/curl", "/bin/curl"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DataError("curl not found; \(manual)")
        }
        let status = try Subprocess.run(curl, ["-fsL", "--connect-timeout", "20", "-o", tmp, k.url]).status
        guard status == 0 else {
            unlink(tmp)
            throw DataError("cannot download \(k.url) (no network?); \(manual)")
        }
        do {
            try CorpusCheck.verify(zip: tmp, known: k)
        } catch {
            unlink(tmp)
            throw error
        }
        guard rename(tmp, target) == 0 else { throw DataError("\(target): cannot write") }
        print("\(target): checked (\(k.length) symbols)")
    }
}

struct PrepareWikiSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare-wiki-sample",
        abstract: "Make the embedded default corpus: the Wikipedia XML excerpt shipped in gensim 4.4.0's wheel (PyPI), raw and cleaned.")
    @Option(help: "Where corpora live (default $REPLICATE_DATA, else ~/.cache/replicate).") var dataDir: String?
    @Option(help: "Use this gensim 4.4.0 wheel instead of downloading it with pip.") var wheel: String?

    func run() throws {
        let dir = CharCorpus.dataDirectory(dataDir) + "/wiki-sample"
        let xmlPath = dir + "/wiki-sample.xml", txtPath = dir + "/wiki-sample.txt"
        if FileManager.default.fileExists(atPath: xmlPath), FileManager.default.fileExists(atPath: txtPath) {
            print("\(dir): already prepared")
            return
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let wheelPath = try wheel ?? WikiSample.downloadWheel(into: dir)
        let xml = try WikiSample.extractXML(wheel: wheelPath)
        try writeAtomically(Data(xml), to: xmlPath)
        let text = WikiFilter().clean(xml)
        try writeAtomically(Data(text), to: txtPath)
        if wheel == nil { try? FileManager.default.removeItem(atPath: wheelPath) }
        print("\(xmlPath): \(xml.count) bytes (enwik8-like)\n\(txtPath): \(text.count) characters (text8-like)")
    }
}

struct CleanWiki: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean-wiki",
        abstract: "Filter Wikipedia XML into text8-style text (a port of Matt Mahoney's wikifil.pl, byte for byte).")
    @Argument(help: "Wikipedia XML (e.g. enwik8, enwik9, a dump excerpt).") var input: String
    @Argument(help: "Output text file (written atomically).") var output: String

    func run() throws {
        guard let xml = FileManager.default.contents(atPath: input) else { throw DataError("\(input): no such file") }
        let text = WikiFilter().clean([UInt8](xml))
        try writeAtomically(Data(text), to: output)
        print("\(output): \(text.count) characters")
    }
}

/// Writes to a temporary file beside `path`, then renames it into place.
func writeAtomically(_ data: Data, to path: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    guard FileManager.default.createFile(atPath: tmp, contents: data) else { throw DataError("\(path): cannot write") }
    guard rename(tmp, path) == 0 else { unlink(tmp); throw DataError("\(path): cannot write") }
}
