import Engine
import Runs
import Foundation

/// A synthetic stand-in for the CNN questions, written in DeepMind's `.question` form so that it goes through the
/// real reader. A story of exactly `storyLength` tokens holds `facts` templated facts about `entities` anonymised
/// entities (`@entity0` ... `@entity{E-1}`, each of them in the story), e.g. "@entity3 lives in paris ." or
/// "@entity1 works for @entity4 .", shuffled among filler sentences of a small vocabulary, some of which mention
/// entities without a relation (so that the answer is not the most frequent entity). The query restates one fact
/// with @placeholder in place of its subject or (an entity) object; the answer is that entity.
///
/// No query is ambiguous: within a story a relation never has the same subject twice nor the same object twice,
/// and filler never uses a relation's words, so exactly one entity completes the query to a sentence of the story.
/// The fact asked about is anywhere in the story, on average half of it before the end: a reader that keeps only
/// its final state must remember every fact of the story, one that attends over the story finds the sentence.
///
/// Example `i` of a split is drawn from its own Philox stream position (stream 0x5C10_0000 + split, counter
/// i << 24), so examples can be made in any order and the same seed always gives the same files.
public struct SyntheticCloze: Sendable {
    public let storyLength: Int
    public let entities: Int
    public let facts: Int
    public let seed: UInt64

    /// What a relation's object is: another entity or a word of a pool.
    enum Object { case entity, words([String]) }
    static let places = ["paris", "london", "tokyo", "cairo", "lima", "oslo", "rome", "berlin", "madrid", "dublin", "sydney", "boston"]
    static let things = ["boat", "farm", "hotel", "bakery", "horse", "plane", "vineyard", "newspaper", "gallery", "island"]
    static let fields = ["law", "medicine", "physics", "history", "music", "chemistry", "economics", "poetry", "art", "engineering"]
    static let relations: [(words: [String], object: Object)] = [
        (["lives", "in"], .words(places)), (["was", "born", "in"], .words(places)), (["visited"], .words(places)),
        (["works", "for"], .entity), (["plays", "for"], .entity), (["met"], .entity), (["praised"], .entity),
        (["sued"], .entity), (["owns", "a"], .words(things)), (["studied"], .words(fields)),
    ]
    /// Filler: none of the relations' words, places, things or fields.
    static let filler = ["the", "officials", "said", "on", "monday", "tuesday", "police", "report", "after", "while",
                         "statement", "new", "old", "government", "people", "year", "team", "crowd", "later", "also",
                         "city", "local", "news", "week", "some", "many", "last", "during", "then", "could", "would",
                         "other", "several", "made", "told", "reporters", "about", "an", "early", "weather"]
    /// The longest fact: subject, three relation words, object, full stop.
    static let longestFact = 6

    /// Facts a story of `entities` entities can hold without an ambiguous query: per relation, one use per
    /// subject and per object (E - 1 when the object is an entity, so a subject other than the object is left).
    public static func capacity(entities: Int) -> Int {
        relations.reduce(0) { n, r in
            switch r.object {
            case .entity: return n + max(0, entities - 1)
            case .words(let pool): return n + min(entities, pool.count)
            }
        }
    }

    public init(storyLength: Int, entities: Int, facts: Int, seed: UInt64) throws {
        guard entities >= 2 && entities <= 1000 else { throw DataError("synthetic cloze: entities must be 2...1000, not \(entities)") }
        let cap = Self.capacity(entities: entities)
        guard facts >= 1 && facts <= cap else {
            throw DataError("synthetic cloze: facts must be 1...\(cap) for \(entities) entities, not \(facts)")
        }
        let shortest = Self.longestFact * facts + 4 * entities
        guard storyLength >= shortest && storyLength <= 1_000_000 else {
            throw DataError("synthetic cloze: a story of \(facts) facts about \(entities) entities needs \(shortest)...1000000 tokens, not \(storyLength)")
        }
        self.storyLength = storyLength
        self.entities = entities
        self.facts = facts
        self.seed = seed
    }

    /// The URL and file name (a hash of the URL) of example `index` of `split`.
    public func name(split: ClozeSplit, index: Int) -> (url: String, file: String) {
        let url = "http://synthetic.cloze/\(split.directory)/\(seed)/\(index)"
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in url.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return (url, String(format: "%016llx", h) + ".question")
    }

    /// Example `index` of `split` as a `.question` file: its name and text.
    public func question(split: ClozeSplit, index: Int) -> (name: String, text: String) {
        precondition(index >= 0, "question: index \(index)")
        var rng = Philox(seed: seed, stream: 0x5C10_0000 + UInt64(split.rawValue), counter: UInt64(index) << 24)
        let (url, file) = name(split: split, index: index)
        func entity(_ e: Int) -> String { "@entity\(e)" }

        // Facts: (subject, relation, object) with no repeated (relation, subject) nor (relation, object).
        var subjects = Set<String>(), objects = Set<String>()  // "relation subject", "relation object"
        var sentences: [[String]] = []
        var queried: (sentence: [String], slot: Int, answer: Int)?
        let asked = rng.below(facts)
        var mentioned = Set<Int>()
        for f in 0..<facts {
            var made = false
            for r in rng.permutation(Self.relations.count) {
                let rel = Self.relations[r]
                let freeSubjects = (0..<entities).filter { !subjects.contains("\(r) \($0)") }
                guard !freeSubjects.isEmpty else { continue }
                let s = freeSubjects[rng.below(freeSubjects.count)]
                let pool: [String]
                switch rel.object {
                case .entity: pool = (0..<entities).filter { $0 != s }.map(entity)
                case .words(let words): pool = words
                }
                let free = pool.filter { !objects.contains("\(r) \($0)") }
                guard !free.isEmpty else { continue }
                let o = free[rng.below(free.count)]
                subjects.insert("\(r) \(s)")
                objects.insert("\(r) \(o)")
                let sentence = [entity(s)] + rel.words + [o, "."]
                mentioned.insert(s)
                if let e = ClozeVocabulary.entityNumber(o) { mentioned.insert(e) }
                if f == asked {
                    let objectSide: Bool
                    if case .entity = rel.object { objectSide = rng.below(2) == 1 } else { objectSide = false }
                    let answer = objectSide ? ClozeVocabulary.entityNumber(o)! : s
                    queried = (sentence, objectSide ? sentence.count - 2 : 0, answer)
                }
                sentences.append(sentence)
                made = true
                break
            }
            precondition(made, "SyntheticCloze: no room for fact \(f + 1) (capacity checked in init)")
        }
        // Every entity appears: the ones without a fact get a mention of their own.
        func fillerWord() -> String { Self.filler[rng.below(Self.filler.count)] }
        for e in 0..<entities where !mentioned.contains(e) {
            sentences.append([fillerWord(), entity(e), fillerWord(), "."])
        }
        // Filler sentences up to the length: 4...12 tokens each (the last one takes what is left), a third of them
        // mentioning a random entity.
        var left = storyLength - sentences.reduce(0) { $0 + $1.count }
        while left > 0 {
            let n = left <= 15 ? left : 4 + rng.below(9)
            var sentence = (0..<(n - 1)).map { _ in fillerWord() } + ["."]
            if n >= 3 && rng.below(3) == 0 { sentence[rng.below(n - 1)] = entity(rng.below(entities)) }
            sentences.append(sentence)
            left -= n
        }
        let story = rng.permutation(sentences.count).flatMap { sentences[$0] }
        var query = queried!.sentence
        query[queried!.slot] = "@placeholder"
        return (file, ClozeQuestionFile.render(
            url: url, story: story.joined(separator: " "), query: query.joined(separator: " "),
            answer: entity(queried!.answer), entities: (0..<entities).map { (entity($0), "Entity \($0)") }))
    }

    /// The first `count` examples of `split`.
    public func questions(split: ClozeSplit, count: Int) -> [(name: String, text: String)] {
        (0..<count).map { question(split: split, index: $0) }
    }

    /// Writes a DeepMind-style tree: `training/`, `validation/` and `test/` of `<hash>.question` files.
    public func write(to directory: String, counts: (train: Int, validation: Int, test: Int)) throws {
        for (split, count) in zip(ClozeSplit.allCases, [counts.train, counts.validation, counts.test]) {
            let dir = (directory as NSString).appendingPathComponent(split.directory)
            try RunFiles.makeDirectory(dir)
            for i in 0..<count {
                let q = question(split: split, index: i)
                let path = (dir as NSString).appendingPathComponent(q.name)
                do { try Data(q.text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
                    throw DataError("\(path): cannot write (\(error.localizedDescription))")
                }
            }
        }
    }
}

extension ClozeData {
    /// The synthetic task in memory, through the same reader as files on disk and in the same order as
    /// `SyntheticCloze.write` then `load` would give (file name order).
    public static func synthetic(storyLength: Int, entities: Int, facts: Int, seed: UInt64,
                                 counts: (train: Int, validation: Int, test: Int), vocabularyCap: Int = 10_000) throws -> ClozeData {
        let task = try SyntheticCloze(storyLength: storyLength, entities: entities, facts: facts, seed: seed)
        guard vocabularyCap >= 0 else { throw DataError("the vocabulary cap must be 0 or more, not \(vocabularyCap)") }
        var loader = ClozeLoader(strict: true, limit: Int.max, warn: { _ in })
        for (split, count) in zip(ClozeSplit.allCases, [counts.train, counts.validation, counts.test]) {
            let names = (0..<count).map { task.name(split: split, index: $0).file }
            for i in names.indices.sorted(by: { names[$0] < names[$1] }) {
                var text = task.question(split: split, index: i).text
                try text.withUTF8 { try loader.addQuestion($0, split: split, name: "\(split.directory)/\(names[i])") }
            }
        }
        return try loader.finish(vocabularyCap: vocabularyCap, source: "synthetic cloze")
    }
}
