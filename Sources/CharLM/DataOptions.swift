import ArgumentParser
import Foundation
import Runs

/// The corpus options of every character-LM command.
public struct DataOptions: ParsableArguments {
    @Option(help: "Corpus: text8, enwik8 (from their zips or unpacked files), wiki-sample (cleaned, the default), wiki-sample-raw (XML bytes).")
    public var dataset = "wiki-sample"
    @Option(help: "Train on any file instead (split 90/5/5); a .zip with one member or plain bytes.")
    public var dataFile: String?
    @Option(help: "Alphabet of --data-file: text8 (a-z and space) or bytes.")
    public var alphabet = "bytes"
    @Option(help: "Where corpora live (default $REPLICATE_DATA, else ~/.cache/replicate).")
    public var dataDir: String?

    public init() {}

    public func load() throws -> CharCorpus {
        if let file = dataFile {
            guard let a = Alphabet(rawValue: alphabet) else { throw ValidationError("--alphabet must be text8 or bytes") }
            return try CharCorpus.load(file: file, alphabet: a)
        }
        return try CharCorpus.load(dataset, dataDir: CharCorpus.dataDirectory(dataDir))
    }
}
