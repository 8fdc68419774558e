import Engine
import Runs
import Foundation

// The CNN cloze questions (Hermann et al. 2015) read from either published form: DeepMind's one `.question` file
// per question (a directory tree or an archive of it) or Chen et al. 2016's `train.txt` / `dev.txt` / `test.txt`.
// Words are interned into provisional ids in one pass over every split while the training words are counted;
// the capped vocabulary is then made from the counts and the ids remapped in place, so the text is never held.

/// The two on-disk forms of the CNN questions.
public enum ClozeFormat: String, CaseIterable, Codable, Sendable {
    /// DeepMind's: `training/`, `validation/`, `test/` of `.question` files, as a directory or an archive
    /// (.tar.gz, .tgz, .tar, .zip).
    case question
    /// Chen et al. 2016's: `train.txt`, `dev.txt`, `test.txt`, four lines an example (query, answer, story, blank).
    case chen
}

public enum ClozeSplit: Int, CaseIterable, Sendable {
    case train, validation, test
    /// The split's directory in DeepMind's tree.
    public var directory: String { ["training", "validation", "test"][rawValue] }
    /// The split's file in Chen et al.'s form.
    public var chenFile: String { ["train.txt", "dev.txt", "test.txt"][rawValue] }
}

/// One question. `story` and `query` are token ids of a `ClozeVocabulary`; `answer` and `candidates` are entity
/// classes (0..<entityCount): the candidates are the distinct entities of the story in order of first occurrence,
/// and the answer is one of them.
public struct ClozeExample: Equatable, Sendable {
    public var story: [Int32]
    public var query: [Int32]
    public var answer: Int32
    public var candidates: [Int32]

    public init(story: [Int32], query: [Int32], answer: Int32, candidates: [Int32]) {
        self.story = story
        self.query = query
        self.answer = answer
        self.candidates = candidates
    }
}

/// Token ids: 0 padding, 1 unknown, 2 `@placeholder`, then one token per entity marker (`@entityN` is token
/// 3 + N and entity class N), then the ordinary words kept, most frequent first (ties in string order).
public struct ClozeVocabulary: Equatable, Codable, Sendable {
    public static let padding: Int32 = 0
    public static let unknown: Int32 = 1
    public static let placeholder: Int32 = 2
    public static let reserved = ["<pad>", "<unk>", "@placeholder"]
    /// Entity markers run from `@entity0` to `@entity99999`.
    public static let maxEntities = 100_000

    public let tokens: [String]
    public let entityCount: Int
    private let ids: [String: Int32]

    public var count: Int { tokens.count }
    /// The ordinary words (neither reserved nor entity markers), in id order.
    public var words: ArraySlice<String> { tokens[(3 + entityCount)...] }

    /// A vocabulary of `entityCount` entity markers and the ordinary `words` in id order (reserved tokens, entity
    /// markers and repeats among them are dropped).
    public init(entityCount: Int, words: [String]) {
        precondition(entityCount >= 0 && entityCount <= Self.maxEntities, "ClozeVocabulary: \(entityCount) entities")
        var tokens = Self.reserved + (0..<entityCount).map { "@entity\($0)" }
        var ids = [String: Int32](minimumCapacity: tokens.count + words.count)
        for (i, t) in tokens.enumerated() { ids[t] = Int32(i) }
        for w in words where ids[w] == nil && Self.entityNumber(w) == nil {
            ids[w] = Int32(tokens.count)
            tokens.append(w)
        }
        self.tokens = tokens
        self.entityCount = entityCount
        self.ids = ids
    }

    /// N for a canonical marker `@entityN` (digits without a leading zero, N < maxEntities); nil otherwise.
    public static func entityNumber<S: StringProtocol>(_ token: S) -> Int? {
        Array(token.utf8).withUnsafeBufferPointer { entityNumber($0, 0..<$0.count) }.flatMap { $0 >= 0 ? $0 : nil }
    }

    static let entityPrefix = Array("@entity".utf8)

    /// `entityNumber` of the bytes `b[r]`, or -1 for a marker whose number is too large.
    static func entityNumber(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        let p = entityPrefix.count
        guard r.count > p else { return nil }
        for i in 0..<p where b[r.lowerBound + i] != entityPrefix[i] { return nil }
        let digits = (r.lowerBound + p)..<r.upperBound
        guard digits.allSatisfy({ b[$0] >= 48 && b[$0] <= 57 }), b[digits.lowerBound] != 48 || digits.count == 1 else { return nil }
        guard digits.count <= 5 else { return -1 }  // maxEntities = 10^5
        return digits.reduce(0) { $0 * 10 + Int(b[$1] - 48) }
    }

    public func id<S: StringProtocol>(of word: S) -> Int32 {
        if let n = Self.entityNumber(word) { return n < entityCount ? Int32(3 + n) : Self.unknown }
        let id = ids[String(word)] ?? Self.unknown
        return id == Self.padding ? Self.unknown : id  // padding never comes from text
    }

    /// The ids of a text of space-separated tokens.
    public func encode<S: StringProtocol>(_ text: S) -> [Int32] {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { id(of: $0) }
    }

    public func token(_ id: Int32) -> String { id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : Self.reserved[1] }

    /// The tokens of `ids` separated by spaces (padding dropped).
    public func decode(_ ids: [Int32]) -> String {
        ids.filter { $0 != Self.padding }.map(token).joined(separator: " ")
    }

    /// The entity class of a token id, nil for a token that is not an entity marker.
    public func entityClass(ofToken id: Int32) -> Int32? { id >= 3 && Int(id) < 3 + entityCount ? id - 3 : nil }

    public func entityToken(class c: Int32) -> Int32 {
        precondition(c >= 0 && Int(c) < entityCount, "entityToken: class \(c) of \(entityCount)")
        return 3 + c
    }

    /// The training words kept under `cap`: those counted more than zero times, most frequent first, ties in
    /// string order, at most `cap` of them.
    public static func rank(_ counts: [String: Int], cap: Int) -> [String] {
        let ranked = counts.filter { $0.value > 0 && !reserved.contains($0.key) && entityNumber($0.key) == nil }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        return ranked.prefix(max(0, cap)).map(\.key)
    }

    private enum CodingKeys: String, CodingKey { case entityCount, words }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let n = try c.decode(Int.self, forKey: .entityCount)
        guard n >= 0 && n <= Self.maxEntities else {
            throw DecodingError.dataCorruptedError(forKey: .entityCount, in: c, debugDescription: "\(n) entities")
        }
        self.init(entityCount: n, words: try c.decode([String].self, forKey: .words))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(entityCount, forKey: .entityCount)
        try c.encode(Array(words), forKey: .words)
    }
    public static func == (a: ClozeVocabulary, b: ClozeVocabulary) -> Bool {
        a.entityCount == b.entityCount && a.tokens == b.tokens
    }
}

/// What reading found: examples kept and skipped per split, story lengths, the first skip reasons.
public struct ClozeReadReport: Equatable, Sendable {
    public struct SplitStats: Equatable, Sendable {
        public var read = 0
        public var skipped = 0
        public var meanStoryLength = 0.0
        public var maxStoryLength = 0
        public var meanCandidates = 0.0
    }
    /// How many skip reasons are kept, and how many are also warned about as they happen.
    public static let reasonsKept = 20
    public static let reasonsWarned = 5

    public var train = SplitStats(), validation = SplitStats(), test = SplitStats()
    /// The first `reasonsKept` skips, each "file: why" or "file:line: why".
    public var skipReasons: [String] = []

    public subscript(split: ClozeSplit) -> SplitStats {
        get { [train, validation, test][split.rawValue] }
        set {
            switch split {
            case .train: train = newValue
            case .validation: validation = newValue
            case .test: test = newValue
            }
        }
    }
    public var skipped: Int { train.skipped + validation.skipped + test.skipped }

    /// One line: "training 380298 read, 0 skipped, story 761.8 tokens on average (max 2000), 26.4 candidates; validation ...".
    public var summary: String {
        ClozeSplit.allCases.map { s in
            let x = self[s]
            return "\(s.directory) \(x.read) read, \(x.skipped) skipped, story \(String(format: "%.1f", x.meanStoryLength)) tokens on average (max \(x.maxStoryLength)), \(String(format: "%.1f", x.meanCandidates)) candidates"
        }.joined(separator: "; ")
    }
}

/// The three splits of cloze questions over one vocabulary.
public struct ClozeData: Equatable, Sendable {
    public var vocabulary: ClozeVocabulary
    public var train: [ClozeExample]
    public var validation: [ClozeExample]
    public var test: [ClozeExample]
    public var report: ClozeReadReport

    public subscript(split: ClozeSplit) -> [ClozeExample] { [train, validation, test][split.rawValue] }

    /// Reads the questions at `path` in `format`:
    /// - `.question`: a directory holding `training/`, `validation/` and `test/` (or `questions/` holding them),
    ///   files read in name order; or an archive of that tree (.tar.gz, .tgz, .tar, .zip), each member's split
    ///   being the nearest directory of its name called training, validation or test, examples sorted by file
    ///   name, so a tree and its archive give the same data.
    /// - `.chen`: a directory holding `train.txt`, `dev.txt` and `test.txt`.
    ///
    /// The vocabulary keeps the `vocabularyCap` most frequent ordinary words of the training split (reserved tokens
    /// and every entity marker come on top); the other words read as unknown. Entity classes run up to the largest
    /// marker number in any split. A malformed question (missing blocks, an answer that is not an entity marker or
    /// not in the story, no @placeholder in the query, an empty story, a bad entity line, bytes that are not
    /// UTF-8, ...) is skipped: the first few with a warning each through `warn`, a count at the end; with `strict`
    /// the first one throws instead. `maxExamples` keeps the first that many good examples of each split (of an
    /// archive: in the archive's order). A missing path or split, or a split without usable examples, throws.
    public static func load(path: String, format: ClozeFormat, vocabularyCap: Int, strict: Bool = false,
                            maxExamples: Int? = nil, warn: (String) -> Void = { Runs.warn($0) }) throws -> ClozeData {
        guard vocabularyCap >= 0 else { throw DataError("the vocabulary cap must be 0 or more, not \(vocabularyCap)") }
        if let m = maxExamples, m < 1 { throw DataError("maxExamples must be at least 1, not \(m)") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DataError("\(path): no such file or directory")
        }
        if format == .chen && !isDir.boolValue {
            throw DataError("\(path): Chen et al.'s form is a directory holding train.txt, dev.txt and test.txt, not a file")
        }
        return try withoutActuallyEscaping(warn) { warn in
            var loader = ClozeLoader(strict: strict, limit: maxExamples ?? Int.max, warn: warn)
            switch (format, isDir.boolValue) {
            case (.question, true): try loader.readQuestionTree(path)
            case (.question, false): try loader.readQuestionArchive(path)
            case (.chen, _): try loader.readChen(path)
            }
            return try loader.finish(vocabularyCap: vocabularyCap, source: path)
        }
    }

    /// The same reading from `.question` texts in memory (name and text per question, in the order given).
    public static func parse(questions: [(split: ClozeSplit, name: String, text: String)], vocabularyCap: Int,
                             strict: Bool = false, warn: (String) -> Void = { Runs.warn($0) }) throws -> ClozeData {
        guard vocabularyCap >= 0 else { throw DataError("the vocabulary cap must be 0 or more, not \(vocabularyCap)") }
        return try withoutActuallyEscaping(warn) { warn in
            var loader = ClozeLoader(strict: strict, limit: Int.max, warn: warn)
            for q in questions {
                var text = q.text
                try text.withUTF8 { try loader.addQuestion($0, split: q.split, name: q.name) }
            }
            return try loader.finish(vocabularyCap: vocabularyCap, source: "the questions given")
        }
    }
}

/// Writing the DeepMind form.
public enum ClozeQuestionFile {
    /// The text of a `.question` file: url, story, query, answer and the entity lines, blocks separated by one
    /// blank line. `story` and `query` are space-separated tokens; `entities` are (`@entityN`, surface name).
    public static func render(url: String, story: String, query: String, answer: String,
                              entities: [(marker: String, name: String)]) -> String {
        let lines = entities.map { "\($0.marker):\($0.name)" }.joined(separator: "\n")
        return "\(url)\n\n\(story)\n\n\(query)\n\n\(answer)\n\n\(lines)\n"
    }
}

// MARK: - Reading

/// Interns byte strings into dense ids (open addressing over one byte arena), so that counting 290M training
/// tokens makes no string per token.
struct WordInterner {
    private var bytes: [UInt8] = []
    private var ends: [Int] = []
    private var hashes: [UInt64] = []
    private var slots = [Int32](repeating: -1, count: 1 << 12)

    var count: Int { ends.count }

    mutating func intern(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in r { h = (h ^ UInt64(b[i])) &* 0x100_0000_01b3 }
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: h ^ (h >> 31)) & mask
        while slots[s] >= 0 {
            let id = Int(slots[s])
            if hashes[id] == h {
                let start = id == 0 ? 0 : ends[id - 1]
                if ends[id] - start == r.count && zip(bytes[start..<ends[id]], b[r]).allSatisfy(==) { return Int32(id) }
            }
            s = (s + 1) & mask
        }
        let id = Int32(ends.count)
        bytes.append(contentsOf: b[r])
        ends.append(bytes.count)
        hashes.append(h)
        slots[s] = id
        if ends.count * 2 > slots.count { grow() }
        return id
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for (id, h) in hashes.enumerated() {
            var s = Int(truncatingIfNeeded: h ^ (h >> 31)) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(id)
        }
    }

    func word(_ id: Int) -> String {
        String(decoding: bytes[(id == 0 ? 0 : ends[id - 1])..<ends[id]], as: UTF8.self)
    }
}

/// Provisional token codes: an interned word id (>= 0), the placeholder (-1) or entity N (-2 - N).
private let provisionalPlaceholder: Int32 = -1
private let placeholderBytes = Array("@placeholder".utf8)

/// A message made safe for one line: control characters shown as '?', at most `limit` characters.
private func oneLine<S: StringProtocol>(_ s: S, limit: Int = 60) -> String {
    let clean = String(s.unicodeScalars.prefix(limit).map { $0.properties.generalCategory == .control ? "?" : Character($0) })
    return s.unicodeScalars.count > limit ? clean + "..." : clean
}

private func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 11 || c == 12 }

private func trimmed(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Range<Int> {
    var lo = r.lowerBound, hi = r.upperBound
    while lo < hi && isSpace(b[lo]) { lo += 1 }
    while hi > lo && isSpace(b[hi - 1]) { hi -= 1 }
    return lo..<hi
}

private func isValidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
    if b.allSatisfy({ $0 < 0x80 }) { return true }
    var it = b.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&it) {
        case .scalarValue: continue
        case .emptyInput: return true
        case .error: return false
        }
    }
}

/// One reading of the three splits: checks and interns each question, counts training words, then makes the
/// vocabulary and remaps.
struct ClozeLoader {
    let strict: Bool
    let limit: Int
    let warn: (String) -> Void
    var interner = WordInterner()
    var counts: [Int] = []
    var maxEntity = -1
    var examples: [[ClozeExample]] = [[], [], []]
    /// The name of each example (archives only, where examples are sorted by name at the end).
    var keys: [[String]]? = nil
    var report = ClozeReadReport()
    /// The first skip reason of each split.
    var firstSkip: [String?] = [nil, nil, nil]

    init(strict: Bool, limit: Int, warn: @escaping (String) -> Void) {
        self.strict = strict
        self.limit = limit
        self.warn = warn
    }

    func full(_ split: ClozeSplit) -> Bool { examples[split.rawValue].count >= limit }
    var allFull: Bool { ClozeSplit.allCases.allSatisfy(full) }

    /// A malformed question: thrown when strict, otherwise counted (and warned about, the first few).
    mutating func skip(_ split: ClozeSplit, _ place: String, _ why: String) throws {
        let line = "\(oneLine(place, limit: 200)): \(why)"
        if strict { throw DataError(line) }
        report[split].skipped += 1
        if firstSkip[split.rawValue] == nil { firstSkip[split.rawValue] = line }
        if report.skipReasons.count < ClozeReadReport.reasonsKept { report.skipReasons.append(line) }
        if report.skipped <= ClozeReadReport.reasonsWarned { warn("skipping \(line)") }
    }

    /// Provisional codes of the tokens of `b[r]` and the number of placeholders; or why they are malformed.
    mutating func tokens(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> (codes: [Int32], placeholders: Int, bad: String?) {
        var codes: [Int32] = []
        var placeholders = 0
        var i = r.lowerBound
        while i < r.upperBound {
            while i < r.upperBound && isSpace(b[i]) { i += 1 }
            var j = i
            while j < r.upperBound && !isSpace(b[j]) { j += 1 }
            if j > i {
                if let n = ClozeVocabulary.entityNumber(b, i..<j) {
                    if n < 0 {
                        return ([], 0, "entity marker '\(oneLine(String(decoding: b[i..<j], as: UTF8.self)))' is out of range (at most @entity\(ClozeVocabulary.maxEntities - 1))")
                    }
                    codes.append(Int32(-2 - n))
                } else if j - i == placeholderBytes.count && zip(b[i..<j], placeholderBytes).allSatisfy(==) {
                    codes.append(provisionalPlaceholder)
                    placeholders += 1
                } else {
                    codes.append(interner.intern(b, i..<j))
                }
            }
            i = j
        }
        return (codes, placeholders, nil)
    }

    /// Checks one question given as story, query and answer lines of `b`; returns why it is malformed, or nil
    /// after adding it.
    mutating func add(_ split: ClozeSplit, _ b: UnsafeBufferPointer<UInt8>, story: Range<Int>, query: Range<Int>,
                      answer: Range<Int>) -> String? {
        let a = trimmed(b, answer)
        guard let n = ClozeVocabulary.entityNumber(b, a), n >= 0 else {
            return "the answer '\(oneLine(String(decoding: b[a], as: UTF8.self)))' is not an entity marker (@entityN)"
        }
        let s = tokens(b, story)
        if let bad = s.bad { return "story: \(bad)" }
        guard !s.codes.isEmpty else { return "the story is empty" }
        let q = tokens(b, query)
        if let bad = q.bad { return "query: \(bad)" }
        guard q.placeholders == 1 else {
            return q.placeholders == 0 ? "the query has no @placeholder" : "the query has \(q.placeholders) @placeholder"
        }
        var candidates: [Int32] = []
        var seen = Set<Int32>()
        for c in s.codes where c <= -2 && seen.insert(-2 - c).inserted { candidates.append(-2 - c) }
        guard seen.contains(Int32(n)) else { return "the answer @entity\(n) is not in the story" }

        if split == .train {
            if counts.count < interner.count { counts += [Int](repeating: 0, count: interner.count - counts.count) }
            for c in s.codes where c >= 0 { counts[Int(c)] += 1 }
            for c in q.codes where c >= 0 { counts[Int(c)] += 1 }
        }
        for c in s.codes + q.codes where c <= -2 { maxEntity = max(maxEntity, Int(-2 - c)) }
        examples[split.rawValue].append(ClozeExample(story: s.codes, query: q.codes, answer: Int32(n), candidates: candidates))
        return nil
    }

    /// One `.question` file: url, story, query, answer, entity lines; blocks separated by one blank line.
    mutating func addQuestion(_ b: UnsafeBufferPointer<UInt8>, split: ClozeSplit, name: String) throws {
        if let why = checkQuestion(b, split: split) { try skip(split, name, why) }
    }

    private mutating func checkQuestion(_ b: UnsafeBufferPointer<UInt8>, split: ClozeSplit) -> String? {
        guard !b.isEmpty else { return "the file is empty" }
        guard isValidUTF8(b) else { return "not UTF-8 text" }
        var lines: [Range<Int>] = []
        var start = 0
        for i in 0..<b.count where b[i] == 10 {
            lines.append(start..<i)
            start = i + 1
        }
        if start < b.count { lines.append(start..<b.count) }
        func blank(_ r: Range<Int>) -> Bool { trimmed(b, r).isEmpty }
        while let last = lines.last, blank(last) { lines.removeLast() }
        let blocks = ["url", "story", "query", "answer", "entity lines"]
        guard lines.count >= 9 else {
            let present = (lines.count + 1) / 2
            return "truncated: \(present) of the 5 blocks (url, story, query, answer, entities), \(blocks[min(present, 4)]) missing"
        }
        for (k, i) in [1, 3, 5, 7].enumerated() where !blank(lines[i]) {
            return "line \(i + 1) should be blank after the \(blocks[k]) (one line per block)"
        }
        guard !blank(lines[0]) else { return "the url line is empty" }
        for i in 8..<lines.count {
            let r = trimmed(b, lines[i])
            guard let colon = b[r].firstIndex(of: 58), let n = ClozeVocabulary.entityNumber(b, r.lowerBound..<colon), n >= 0 else {
                return "line \(i + 1): bad entity line '\(oneLine(String(decoding: b[r], as: UTF8.self)))' (expected @entityN:name)"
            }
        }
        return add(split, b, story: lines[2], query: lines[4], answer: lines[6])
    }

    /// DeepMind's tree: `path` holds training/, validation/ and test/ (or questions/ holding them).
    mutating func readQuestionTree(_ path: String) throws {
        let fm = FileManager.default
        func hasSplits(_ dir: String) -> Bool {
            ClozeSplit.allCases.contains { fm.fileExists(atPath: (dir as NSString).appendingPathComponent($0.directory)) }
        }
        let inner = (path as NSString).appendingPathComponent("questions")
        let root = !hasSplits(path) && hasSplits(inner) ? inner : path
        for split in ClozeSplit.allCases {
            let dir = (root as NSString).appendingPathComponent(split.directory)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw DataError("\(root): no \(split.directory)/ directory (DeepMind's questions are training/, validation/ and test/ of .question files)")
            }
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".question") }.sorted() } catch {
                throw DataError("\(dir): cannot list the directory (\(error.localizedDescription))")
            }
            guard !names.isEmpty else { throw DataError("\(dir): no .question files") }
            for name in names {
                if full(split) { break }
                let place = "\(split.directory)/\(name)"
                guard let data = fm.contents(atPath: (dir as NSString).appendingPathComponent(name)) else {
                    try skip(split, place, "cannot read the file")
                    continue
                }
                try data.withUnsafeBytes { try addQuestion($0.bindMemory(to: UInt8.self), split: split, name: place) }
            }
        }
    }

    /// The split of an archive member: the nearest directory of its name called training, validation or test.
    static func split(ofMember name: String) -> ClozeSplit? {
        let parts = name.split(separator: "/")
        guard parts.count >= 2, parts.last!.hasSuffix(".question") else { return nil }
        for part in parts.dropLast().reversed() {
            if let s = ClozeSplit.allCases.first(where: { $0.directory == part }) { return s }
        }
        return nil
    }

    mutating func readQuestionArchive(_ path: String) throws {
        keys = [[], [], []]
        var seen = [false, false, false]
        try Archive.forEachFile(in: path, wanted: { Self.split(ofMember: $0) != nil }) { name, bytes in
            guard let split = Self.split(ofMember: name) else { return true }
            seen[split.rawValue] = true
            if full(split) { return !allFull }
            let before = examples[split.rawValue].count
            try bytes.withUnsafeBufferPointer { try addQuestion($0, split: split, name: name) }
            if examples[split.rawValue].count > before {
                keys![split.rawValue].append(String(name.split(separator: "/").last!) + "\u{0}" + name)
            }
            return !allFull
        }
        for split in ClozeSplit.allCases where !seen[split.rawValue] {
            throw DataError("\(path): no .question files under \(split.directory)/ in the archive")
        }
    }

    /// Chen et al.'s form: train.txt, dev.txt, test.txt in `path`; each example is three lines (query, answer,
    /// story) then a blank one, the last blank line optional; LF or CRLF.
    mutating func readChen(_ path: String) throws {
        for split in ClozeSplit.allCases {
            let file = (path as NSString).appendingPathComponent(split.chenFile)
            guard let handle = FileHandle(forReadingAtPath: file) else {
                throw DataError("\(path): no readable \(split.chenFile) (Chen et al.'s form is train.txt, dev.txt and test.txt)")
            }
            defer { try? handle.close() }
            var reader = LineReader(handle: handle, name: file)
            var group: [[UInt8]] = []
            var groupLine = 0, lineNumber = 0
            func flush() throws {
                defer { group = [] }
                guard !group.isEmpty, !full(split) else { return }
                let place = "\(split.chenFile):\(groupLine)"
                guard group.count == 3 else {
                    return try skip(split, place, "expected 3 lines (query, answer, story) then a blank line, found \(group.count)")
                }
                let bytes = group[0] + [10] + group[1] + [10] + group[2]
                let why: String? = bytes.withUnsafeBufferPointer { b in
                    guard isValidUTF8(b) else { return "not UTF-8 text" }
                    let q = 0..<group[0].count, a = (q.upperBound + 1)..<(q.upperBound + 1 + group[1].count)
                    return add(split, b, story: (a.upperBound + 1)..<b.count, query: q, answer: a)
                }
                if let why { try skip(split, place, why) }
            }
            while !full(split), let line = try reader.next() {
                lineNumber += 1
                if line.allSatisfy(isSpace) {
                    try flush()
                } else {
                    if group.isEmpty { groupLine = lineNumber }
                    group.append(line)
                }
            }
            try flush()
        }
    }

    /// The vocabulary from the training counts, every example remapped to it, the report's statistics.
    mutating func finish(vocabularyCap: Int, source: String) throws -> ClozeData {
        for split in ClozeSplit.allCases where examples[split.rawValue].isEmpty {
            let first = firstSkip[split.rawValue].map { "; first: \($0)" } ?? ""
            throw DataError("\(oneLine(source, limit: 200)): no usable questions in the \(split.directory) split (\(report[split].skipped) skipped\(first))")
        }
        var wordCounts: [String: Int] = [:]
        for (id, c) in counts.enumerated() where c > 0 { wordCounts[interner.word(id)] = c }
        let vocabulary = ClozeVocabulary(entityCount: maxEntity + 1, words: ClozeVocabulary.rank(wordCounts, cap: vocabularyCap))
        var remap = [Int32](repeating: ClozeVocabulary.unknown, count: interner.count)
        for id in 0..<interner.count { remap[id] = vocabulary.id(of: interner.word(id)) }
        func map(_ codes: inout [Int32]) {
            for i in codes.indices {
                let c = codes[i]
                codes[i] = c >= 0 ? remap[Int(c)] : c == provisionalPlaceholder ? ClozeVocabulary.placeholder : 3 + (-2 - c)
            }
        }
        for s in ClozeSplit.allCases {
            var list = examples[s.rawValue]
            examples[s.rawValue] = []
            for i in list.indices {
                map(&list[i].story)
                map(&list[i].query)
            }
            if let k = keys?[s.rawValue] {
                let order = k.indices.sorted { k[$0] < k[$1] }
                list = order.map { list[$0] }
            }
            examples[s.rawValue] = list
            let lengths = list.map(\.story.count)
            report[s].read = list.count
            report[s].meanStoryLength = Double(lengths.reduce(0, +)) / Double(list.count)
            report[s].maxStoryLength = lengths.max() ?? 0
            report[s].meanCandidates = Double(list.reduce(0) { $0 + $1.candidates.count }) / Double(list.count)
        }
        if report.skipped > 0 {
            let more = report.skipped - min(report.skipped, ClozeReadReport.reasonsWarned)
            warn("skipped \(report.skipped) malformed questions (training \(report.train.skipped), validation \(report.validation.skipped), test \(report.test.skipped))" + (more > 0 ? "; \(more) not shown above" : ""))
        }
        return ClozeData(vocabulary: vocabulary, train: examples[0], validation: examples[1], test: examples[2], report: report)
    }
}

/// Lines of a file read in 1 MiB chunks, without their line ends (LF, CRLF).
struct LineReader {
    let handle: FileHandle
    let name: String
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false

    init(handle: FileHandle, name: String) {
        self.handle = handle
        self.name = name
    }

    mutating func next() throws -> [UInt8]? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 10) {
                var end = nl
                if end > start && buffer[end - 1] == 13 { end -= 1 }
                defer { start = nl + 1 }
                return Array(buffer[start..<end])
            }
            if eof {
                guard start < buffer.count else { return nil }
                var end = buffer.count
                if buffer[end - 1] == 13 { end -= 1 }
                defer { start = buffer.count }
                return Array(buffer[start..<end])
            }
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 1 << 20) } catch {
                throw DataError("\(name): cannot read (\(error.localizedDescription))")
            }
            buffer.removeSubrange(0..<start)
            start = 0
            if let chunk, !chunk.isEmpty { buffer.append(contentsOf: chunk) } else { eof = true }
        }
    }
}
