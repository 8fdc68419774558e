import Engine
import NN
import Runs
import Foundation

/// Ba et al. 2016's associative-retrieval task (section 4.1): K key-value pairs (distinct letters, digits), then
/// "??", then a query key; the target is the query's digit. `c9k8j3f1??c` -> 9.
///
/// Symbols use the public reproduction's ids: a-z = 0...25, '0'-'9' = 26...35, '?' = 36 (37 in all). Targets are
/// the digit itself (0...9).
public enum AssociativeRetrieval {
    public static let symbols: [Character] = Array("abcdefghijklmnopqrstuvwxyz0123456789?")
    public static let vocabulary = 37
    public static let question: Int32 = 36
    public static func digitID(_ d: Int) -> Int32 { Int32(26 + d) }

    /// Split sizes of the public reproduction (train / validation / test).
    public static let splitSizes = (train: 100_000, validation: 10_000, test: 20_000)
    public static let splitNames = ["train", "validation", "test"]

    /// Input length for K pairs: 2K + 3.
    public static func length(pairs: Int) -> Int { 2 * pairs + 3 }

    /// Bytes that generating `examples` examples of K pairs and writing them as TSV needs, estimated: the ids
    /// (4 bytes a symbol) and the text of each line (2K + 5 bytes) about three times over (the lines, the joined
    /// text and its bytes).
    public static func exportBytes(examples: Int, pairs: Int) -> Double {
        Double(examples) * (4 * Double(length(pairs: pairs)) + 3 * Double(length(pairs: pairs) + 2))
    }
}

/// A set of examples: `inputs` holds count x length symbol ids row by row; `targets` the digits.
public struct RetrievalSet: Equatable, Sendable {
    public let pairs: Int
    public var inputs: [Int32]
    public var targets: [Int32]
    public var length: Int { AssociativeRetrieval.length(pairs: pairs) }
    public var count: Int { targets.count }

    public init(pairs: Int, inputs: [Int32], targets: [Int32]) {
        precondition(inputs.count == targets.count * AssociativeRetrieval.length(pairs: pairs), "RetrievalSet: inputs do not match targets")
        self.pairs = pairs
        self.inputs = inputs
        self.targets = targets
    }

    /// `count` examples from `rng`: keys are letters drawn without replacement; digits are drawn with
    /// replacement unless `distinctDigits` (then without, as in the public reproduction's files); the query is
    /// one of the keys, uniformly.
    public static func generate(count: Int, pairs: Int, distinctDigits: Bool, rng: inout Philox) -> RetrievalSet {
        precondition(pairs >= 1 && pairs <= 26 && (!distinctDigits || pairs <= 10), "generate: \(pairs) pairs")
        let length = AssociativeRetrieval.length(pairs: pairs)
        var inputs = [Int32](), targets = [Int32]()
        inputs.reserveCapacity(count * length)
        targets.reserveCapacity(count)
        for _ in 0..<count {
            let keys = Array(rng.permutation(26).prefix(pairs))
            let values = distinctDigits ? Array(rng.permutation(10).prefix(pairs)) : (0..<pairs).map { _ in rng.below(10) }
            for i in 0..<pairs {
                inputs.append(Int32(keys[i]))
                inputs.append(AssociativeRetrieval.digitID(values[i]))
            }
            let q = rng.below(pairs)
            inputs.append(AssociativeRetrieval.question)
            inputs.append(AssociativeRetrieval.question)
            inputs.append(Int32(keys[q]))
            targets.append(Int32(values[q]))
        }
        return RetrievalSet(pairs: pairs, inputs: inputs, targets: targets)
    }

    /// The three splits (100,000 / 10,000 / 20,000 by default), generated in that order from one data stream of
    /// `seed`, so the same seed always gives the same data.
    public static func generateSplits(seed: UInt64, pairs: Int, distinctDigits: Bool,
                                      sizes: (Int, Int, Int) = AssociativeRetrieval.splitSizes) -> [String: RetrievalSet] {
        var rng = Philox(seed: seed, purpose: .generation)
        let train = generate(count: sizes.0, pairs: pairs, distinctDigits: distinctDigits, rng: &rng)
        let valid = generate(count: sizes.1, pairs: pairs, distinctDigits: distinctDigits, rng: &rng)
        let test = generate(count: sizes.2, pairs: pairs, distinctDigits: distinctDigits, rng: &rng)
        return ["train": train, "validation": valid, "test": test]
    }

    /// Example `i` as its line: `c9k8j3f1??c<TAB>9`.
    public func line(_ i: Int) -> String {
        let row = inputs[(i * length)..<((i + 1) * length)]
        return String(row.map { AssociativeRetrieval.symbols[Int($0)] }) + "\t" + String(targets[i])
    }

    /// The whole set in the TSV format, one example per line.
    public var tsv: String { (0..<count).map(line).joined(separator: "\n") + (count > 0 ? "\n" : "") }

    /// Reads a TSV file of examples. Every line (ending in LF or CRLF; blank lines are skipped) must be a
    /// well-formed example (distinct letter keys, digit values, "??", a query among the keys, the query's digit as
    /// target) of the same number of pairs; anything else is an error naming the file and line.
    public static func read(file path: String) throws -> RetrievalSet {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError("\(path): cannot read the file (missing or unreadable)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw DataError("\(path): not UTF-8 text") }
        return try parse(text, name: path)
    }

    public static func parse(_ text: String, name: String) throws -> RetrievalSet {
        var pairs: Int?
        var inputs = [Int32](), targets = [Int32]()
        var lineNumber = 0
        // "\r\n" is one Character in Swift: splitting on "\n" alone would never see a CRLF line end.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            if line.isEmpty { continue }
            func fail(_ why: String) -> DataError { DataError("\(name):\(lineNumber): \(why) in '\(line.prefix(40))'") }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2 else { throw fail("expected <input><TAB><digit>") }
            let input = Array(fields[0]), target = fields[1]
            guard input.count >= 5, input.count % 2 == 1 else { throw fail("input of \(input.count) characters is not 2K+3 long") }
            let k = (input.count - 3) / 2
            if let p = pairs, p != k { throw fail("\(k) pairs where earlier lines have \(p)") }
            pairs = k
            var keys: [Int32: Int32] = [:]
            for i in 0..<k {
                guard let key = input[2 * i].asciiValue, key >= 97, key <= 122 else { throw fail("key \(i + 1) is not a letter a-z") }
                guard let value = input[2 * i + 1].wholeNumberValue, input[2 * i + 1].isASCII else { throw fail("value \(i + 1) is not a digit") }
                guard keys[Int32(key - 97)] == nil else { throw fail("key '\(input[2 * i])' appears twice") }
                keys[Int32(key - 97)] = Int32(value)
                inputs.append(Int32(key - 97))
                inputs.append(AssociativeRetrieval.digitID(value))
            }
            guard input[2 * k] == "?", input[2 * k + 1] == "?" else { throw fail("expected '??' after the pairs") }
            guard let q = input[2 * k + 2].asciiValue, q >= 97, q <= 122, let answer = keys[Int32(q - 97)] else {
                throw fail("the query is not one of the keys")
            }
            guard target.count == 1, let t = target.first?.wholeNumberValue, target.first!.isASCII else { throw fail("the target is not one digit") }
            guard Int32(t) == answer else { throw fail("target \(t) is not the query's value \(answer)") }
            inputs.append(AssociativeRetrieval.question)
            inputs.append(AssociativeRetrieval.question)
            inputs.append(Int32(q - 97))
            targets.append(Int32(t))
        }
        guard let k = pairs else { throw DataError("\(name): no examples in the file") }
        return RetrievalSet(pairs: k, inputs: inputs, targets: targets)
    }

    /// Writes the three splits as `train.tsv`, `validation.tsv`, `test.tsv` in `dir` (each written whole under a
    /// temporary name, then renamed).
    public static func export(_ splits: [String: RetrievalSet], to dir: String) throws -> [String] {
        try RunFiles.makeDirectory(dir)
        var written: [String] = []
        for name in AssociativeRetrieval.splitNames {
            guard let set = splits[name] else { continue }
            let path = (dir as NSString).appendingPathComponent("\(name).tsv")
            let tmp = path + ".tmp-\(getpid())"
            do {
                try Data(set.tsv.utf8).write(to: URL(fileURLWithPath: tmp))
                try? FileManager.default.removeItem(atPath: path)
                try FileManager.default.moveItem(atPath: tmp, toPath: path)
            } catch {
                try? FileManager.default.removeItem(atPath: tmp)
                throw DataError("\(path): cannot write (\(error.localizedDescription))")
            }
            written.append(path)
        }
        return written
    }

    /// Reads `train.tsv`, `validation.tsv` and `test.tsv` from `dir`; all three must exist and agree on K.
    public static func importSplits(from dir: String) throws -> [String: RetrievalSet] {
        var out: [String: RetrievalSet] = [:]
        for name in AssociativeRetrieval.splitNames {
            let path = (dir as NSString).appendingPathComponent("\(name).tsv")
            guard FileManager.default.fileExists(atPath: path) else {
                throw DataError("\(dir): no \(name).tsv (--data needs train.tsv, validation.tsv and test.tsv, as 'replicate fastweights export-data' writes them)")
            }
            out[name] = try read(file: path)
        }
        let ks = Set(out.values.map(\.pairs))
        guard ks.count == 1 else { throw DataError("\(dir): the splits differ in the number of pairs (\(ks.sorted()))") }
        return out
    }
}
