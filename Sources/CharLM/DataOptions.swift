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

    /// The alphabet the corpus will have, known without reading it (for the checks of validate()).
    public func corpusAlphabet() throws -> Alphabet {
        guard dataFile != nil else { return try CharCorpus.alphabet(of: dataset) }
        guard let a = Alphabet(rawValue: alphabet) else { throw ValidationError("--alphabet must be text8 or bytes") }
        return a
    }

    public func load() throws -> CharCorpus {
        if let file = dataFile { return try CharCorpus.load(file: file, alphabet: try corpusAlphabet()) }
        return try CharCorpus.load(dataset, dataDir: CharCorpus.dataDirectory(dataDir))
    }
}
