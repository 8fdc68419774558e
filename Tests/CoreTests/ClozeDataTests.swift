import Engine
import Runs
import PaperBrebisson2016
import Foundation
import XCTest

/// The CNN question readers (DeepMind's .question tree or archive, Chen et al.'s text files), the vocabulary and
/// the synthetic stand-in.
final class ClozeDataTests: XCTestCase {
    typealias Q = (name: String, text: String)

    static func question(_ story: String, _ query: String, _ answer: String, entities: [Int] = []) -> String {
        ClozeQuestionFile.render(url: "http://example.com/x", story: story, query: query, answer: answer,
                                 entities: entities.map { ("@entity\($0)", "Name \($0)") })
    }

    /// Two training questions, one validation, one test, with known ids (see testQuestionTreeGivesExactIds).
    static let small: [ClozeSplit: [Q]] = [
        .train: [("a.question", question("@entity1 met @entity0 in paris . the mayor met @entity1 .", "@placeholder met @entity0 .", "@entity1", entities: [0, 1])),
                 ("b.question", question("@entity2 visited paris . the rain fell", "@placeholder visited paris", "@entity2", entities: [2]))],
        .validation: [("v.question", question("@entity0 met @entity3 at dawn .", "@entity0 met @placeholder", "@entity3", entities: [0, 3]))],
        .test: [("t.question", question("@entity1 saw paris", "@placeholder saw paris", "@entity1", entities: [1]))],
    ]

    func writeTree(_ splits: [ClozeSplit: [Q]], under root: String) throws {
        for split in ClozeSplit.allCases {
            let dir = root + "/" + split.directory
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for q in splits[split] ?? [] { try Data(q.text.utf8).write(to: URL(fileURLWithPath: dir + "/" + q.name)) }
        }
    }

    func writeFile(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    func testQuestionTreeGivesExactIds() throws {
        let root = try makeTempDir()
        try writeTree(Self.small, under: root)
        var warnings: [String] = []
        let d = try ClozeData.load(path: root, format: .question, vocabularyCap: 5, strict: true) { warnings.append($0) }
        XCTAssertEqual(warnings, [])
        // Training counts: "." 4, met 3, paris 3, the 2, visited 2, then fell, in, mayor, rain 1; ties in string order.
        XCTAssertEqual(d.vocabulary.tokens, ["<pad>", "<unk>", "@placeholder", "@entity0", "@entity1", "@entity2", "@entity3",
                                             ".", "met", "paris", "the", "visited"])
        XCTAssertEqual(d.vocabulary.entityCount, 4)  // @entity3 appears only in validation: classes cover every split
        XCTAssertEqual(d.train, [
            ClozeExample(story: [4, 8, 3, 1, 9, 7, 10, 1, 8, 4, 7], query: [2, 8, 3, 7], answer: 1, candidates: [1, 0]),
            ClozeExample(story: [5, 11, 9, 7, 10, 1, 1], query: [2, 11, 9], answer: 2, candidates: [2]),
        ])
        XCTAssertEqual(d.validation, [ClozeExample(story: [3, 8, 6, 1, 1, 7], query: [3, 8, 2], answer: 3, candidates: [0, 3])])
        XCTAssertEqual(d.test, [ClozeExample(story: [4, 1, 9], query: [2, 1, 9], answer: 1, candidates: [1])])
        XCTAssertEqual(d.report.train.read, 2)
        XCTAssertEqual(d.report.train.maxStoryLength, 11)
        XCTAssertEqual(d.report.train.meanStoryLength, 9)
        XCTAssertEqual(d.report.train.meanCandidates, 1.5)
        XCTAssertEqual(d.report.skipped, 0)
        XCTAssertFalse(d.report.summary.contains("\n"))

        // The cap counts ordinary words only; entity markers and reserved tokens always stay.
        let none = try ClozeData.load(path: root, format: .question, vocabularyCap: 0, strict: true) { _ in }
        XCTAssertEqual(none.vocabulary.count, 3 + 4)
        XCTAssertEqual(none.train[0].story, [4, 1, 3, 1, 1, 1, 1, 1, 1, 4, 1])
        let all = try ClozeData.load(path: root, format: .question, vocabularyCap: 1000, strict: true) { _ in }
        XCTAssertEqual(Array(all.vocabulary.words), [".", "met", "paris", "the", "visited", "fell", "in", "mayor", "rain"])
        XCTAssertEqual(all.vocabulary.id(of: "dawn"), ClozeVocabulary.unknown)  // validation-only word

        // A `cnn/` directory holding `questions/` is found too.
        let parent = try makeTempDir()
        try writeTree(Self.small, under: parent + "/questions")
        XCTAssertEqual(try ClozeData.load(path: parent, format: .question, vocabularyCap: 5, strict: true) { _ in }, d)
    }

    func testVocabularyHelpers() throws {
        let v = ClozeVocabulary(entityCount: 3, words: ["the", "@entity1", "<unk>", "cat", "the"])
        XCTAssertEqual(v.tokens, ["<pad>", "<unk>", "@placeholder", "@entity0", "@entity1", "@entity2", "the", "cat"])
        XCTAssertEqual(v.encode("the @entity2 saw  @placeholder cat @entity7 <pad> @entity01"), [6, 5, 1, 2, 7, 1, 1, 1])
        XCTAssertEqual(v.decode([0, 6, 5, 1, 2, 0]), "the @entity2 <unk> @placeholder")
        XCTAssertEqual(v.entityClass(ofToken: 5), 2)
        XCTAssertNil(v.entityClass(ofToken: 6))
        XCTAssertNil(v.entityClass(ofToken: 2))
        XCTAssertEqual(v.entityToken(class: 0), 3)
        XCTAssertEqual(ClozeVocabulary.entityNumber("@entity0"), 0)
        XCTAssertEqual(ClozeVocabulary.entityNumber("@entity99999"), 99999)
        for bad in ["@entity", "@entity01", "@entity-1", "@entity100000", "@entity1x", "entity1", "@Entity1"] {
            XCTAssertNil(ClozeVocabulary.entityNumber(bad), bad)
        }
        let json = try JSONEncoder().encode(v)
        XCTAssertEqual(try JSONDecoder().decode(ClozeVocabulary.self, from: json), v)
        XCTAssertEqual(try JSONDecoder().decode(ClozeVocabulary.self, from: json).id(of: "cat"), 7)
        XCTAssertEqual(ClozeVocabulary.rank(["b": 2, "a": 2, "c": 3, "d": 0, "@entity4": 9, "<unk>": 9], cap: 3), ["c", "a", "b"])
    }

    /// The same questions in Chen et al.'s form (CRLF, blank-line runs, no final newline) give the same data.
    func testChenFormatMatchesTheQuestionTree() throws {
        let root = try makeTempDir(), chen = try makeTempDir()
        try writeTree(Self.small, under: root)
        let tree = try ClozeData.load(path: root, format: .question, vocabularyCap: 5, strict: true) { _ in }
        func chenText(_ qs: [Q], crlf: Bool, trailing: Bool) -> String {
            let examples = qs.map { q -> String in
                let lines = q.text.components(separatedBy: "\n")
                return [lines[4], lines[6], lines[2]].joined(separator: "\n")
            }
            let text = examples.joined(separator: "\n\n\n") + (trailing ? "\n\n" : "")
            return crlf ? text.replacingOccurrences(of: "\n", with: "\r\n") : text
        }
        for split in ClozeSplit.allCases {
            let text = chenText(Self.small[split]!, crlf: split != .validation, trailing: split == .validation)
            try writeFile(chen + "/" + split.chenFile, Array(text.utf8))
        }
        let d = try ClozeData.load(path: chen, format: .chen, vocabularyCap: 5, strict: true) { _ in }
        XCTAssertEqual(d.vocabulary, tree.vocabulary)
        XCTAssertEqual([d.train, d.validation, d.test], [tree.train, tree.validation, tree.test])
        XCTAssertEqual(d.report, tree.report)
    }

    /// A tree and an archive of it (members in another order, under cnn/questions/, with other files) agree.
    func testTreeAndArchivesGiveIdenticalData() throws {
        let root = try makeTempDir()
        let syn = try SyntheticCloze(storyLength: 60, entities: 4, facts: 3, seed: 7)
        try syn.write(to: root, counts: (train: 12, validation: 5, test: 5))
        let tree = try ClozeData.load(path: root, format: .question, vocabularyCap: 30, strict: true) { _ in }
        var members: [(name: String, bytes: [UInt8])] = [("cnn/README", Array("not a question".utf8))]
        for split in ClozeSplit.allCases {
            for name in try FileManager.default.contentsOfDirectory(atPath: root + "/" + split.directory) {
                let bytes = [UInt8](FileManager.default.contents(atPath: root + "/" + split.directory + "/" + name)!)
                members.append(("cnn/questions/\(split.directory)/\(name)", bytes))
            }
        }
        members.reverse()
        for (file, format) in [("cnn.tar.gz", Archive.Format.tarGz), ("cnn.zip", .zip(deflate: true))] {
            let path = try makeTempDir() + "/" + file
            try Archive.write(to: path, members: members, format: format)
            let archived = try ClozeData.load(path: path, format: .question, vocabularyCap: 30, strict: true) { _ in }
            XCTAssertEqual(archived, tree, file)
        }
        let partial = try makeTempDir() + "/partial.tar.gz"
        try Archive.write(to: partial, members: members.filter { !$0.name.contains("/test/") }, format: .tarGz)
        assertOneLineError(try ClozeData.load(path: partial, format: .question, vocabularyCap: 30) { _ in }, contains: "no .question files under test/")
    }

    /// Every kind of malformed question is skipped, counted and named; with `strict` the first one throws.
    func testMalformedQuestionsAreSkippedOrThrow() throws {
        let good = Self.question("@entity0 met @entity1 .", "@placeholder met @entity1 .", "@entity0", entities: [0, 1])
        let bad: [(String, [UInt8], String)] = [
            ("empty", [], "the file is empty"),
            ("blank", Array("\n\n\n".utf8), "truncated"),
            ("truncated", Array(good.utf8.prefix(30)), "truncated"),
            ("no-entities", Array("u\n\n@entity0 x\n\n@placeholder x\n\n@entity0\n".utf8), "entity lines missing"),
            ("not-entity", Array(Self.question("@entity0 met @entity1 .", "@placeholder met @entity1", "paris", entities: [0]).utf8), "is not an entity marker"),
            ("not-in-story", Array(Self.question("@entity0 met @entity1 .", "@placeholder met @entity1", "@entity2", entities: [0]).utf8), "@entity2 is not in the story"),
            ("no-placeholder", Array(Self.question("@entity0 met @entity1 .", "@entity0 met @entity1", "@entity0", entities: [0]).utf8), "no @placeholder"),
            ("two-placeholders", Array(Self.question("@entity0 met @entity1 .", "@placeholder met @placeholder", "@entity0", entities: [0]).utf8), "2 @placeholder"),
            ("bad-entity-line", Array(good.replacingOccurrences(of: "@entity1:", with: "entity1=").utf8), "bad entity line 'entity1=Name 1'"),
            ("empty-story", Array(Self.question("  ", "@placeholder met", "@entity0", entities: [0]).utf8), "the story is empty"),
            ("not-blank", Array(good.replacingOccurrences(of: "x\n\n", with: "x\nextra\n").utf8), "line 2 should be blank"),
            ("latin1", Array(good.utf8) + [0xE9, 0x0A], "not UTF-8"),
            ("big-entity", Array(Self.question("@entity123456 met @entity0", "@placeholder met", "@entity0", entities: [0]).utf8), "out of range"),
        ]
        let root = try makeTempDir()
        try writeTree([.train: [("good.question", good)], .validation: [("good.question", good)], .test: [("good.question", good)]], under: root)
        for (name, bytes, _) in bad { try writeFile("\(root)/training/bad-\(name).question", bytes) }
        try writeFile("\(root)/training/ignored.txt", [0xFF])  // not a .question file

        var warnings: [String] = []
        let d = try ClozeData.load(path: root, format: .question, vocabularyCap: 10) { warnings.append($0) }
        XCTAssertEqual(d.train.count, 1)
        XCTAssertEqual(d.report.train.skipped, bad.count)
        XCTAssertEqual(d.report.skipped, bad.count)
        XCTAssertEqual(d.report.skipReasons.count, bad.count)
        for (name, _, why) in bad {
            let line = d.report.skipReasons.first { $0.hasPrefix("training/bad-\(name).question: ") }
            XCTAssertNotNil(line, name)
            XCTAssertTrue(line?.contains(why) ?? false, "\(line ?? "-") should say '\(why)'")
        }
        XCTAssertTrue(d.report.skipReasons.allSatisfy { !$0.contains("\n") })
        XCTAssertEqual(warnings.count, ClozeReadReport.reasonsWarned + 1)
        XCTAssertTrue(warnings.last!.contains("skipped \(bad.count) malformed questions (training \(bad.count), validation 0, test 0); \(bad.count - 5) not shown"), warnings.last!)
        // Strict: the first bad file in name order.
        assertOneLineError(try ClozeData.load(path: root, format: .question, vocabularyCap: 10, strict: true) { _ in },
                           contains: "training/bad-bad-entity-line.question: line 10: bad entity line 'entity1=Name 1'")
    }

    func testMalformedChenExamples() throws {
        let dir = try makeTempDir()
        let train = "@placeholder met @entity1\r\n@entity0\r\n@entity0 met @entity1 .\r\n\r\n"  // line 1: good
            + "@placeholder met\n@entity0\n\n"  // line 5: two lines only (an empty story)
            + "@placeholder met\n@entity9\n@entity0 met .\n\n"  // line 8: answer not in the story
            + "no placeholder\n@entity0\n@entity0 x\n\n"  // line 12
            + "@placeholder x\n@entity0\n@entity0 \u{E9}\n"  // line 16: good, not ASCII, no blank line at the end
        try writeFile(dir + "/train.txt", Array(train.utf8))
        try writeFile(dir + "/dev.txt", Array("@placeholder a\n@entity0\n@entity0 a\n\n".utf8) + Array("@placeholder a\n@entity0\n@entity0 \u{FF}\n".utf8).map { $0 == 0xC3 ? 0xFF : $0 })
        try writeFile(dir + "/test.txt", Array("@placeholder a\n@entity0\n@entity0 a".utf8))
        var warnings: [String] = []
        let d = try ClozeData.load(path: dir, format: .chen, vocabularyCap: 10) { warnings.append($0) }
        XCTAssertEqual(d.train.count, 2)
        XCTAssertEqual(d.vocabulary.decode(d.train[1].story), "@entity0 \u{E9}")
        XCTAssertEqual(d.validation.count, 1)
        XCTAssertEqual(d.test.count, 1)
        XCTAssertEqual(d.report.skipReasons, [
            "train.txt:5: expected 3 lines (query, answer, story) then a blank line, found 2",
            "train.txt:8: the answer @entity9 is not in the story",
            "train.txt:12: the query has no @placeholder",
            "dev.txt:5: not UTF-8 text",
        ])
        XCTAssertEqual([d.report.train.skipped, d.report.validation.skipped, d.report.test.skipped], [3, 1, 0])
        XCTAssertEqual(warnings.count, 5)
        assertOneLineError(try ClozeData.load(path: dir, format: .chen, vocabularyCap: 10, strict: true) { _ in }, contains: "train.txt:5: expected 3 lines")
    }

    func testMissingOrEmptyInputsThrowOneLine() throws {
        let root = try makeTempDir()
        assertOneLineError(try ClozeData.load(path: root + "/nothing", format: .question, vocabularyCap: 5) { _ in }, contains: "no such file or directory")
        try writeTree(Self.small, under: root)
        assertOneLineError(try ClozeData.load(path: root, format: .question, vocabularyCap: -1) { _ in }, contains: "vocabulary cap")
        assertOneLineError(try ClozeData.load(path: root, format: .chen, vocabularyCap: 5) { _ in }, contains: "no readable train.txt")
        assertOneLineError(try ClozeData.load(path: root + "/training/a.question", format: .chen, vocabularyCap: 5) { _ in }, contains: "not a file")
        assertOneLineError(try ClozeData.load(path: root + "/training/a.question", format: .question, vocabularyCap: 5) { _ in }, contains: "a.question")
        try FileManager.default.removeItem(atPath: root + "/test/t.question")
        assertOneLineError(try ClozeData.load(path: root, format: .question, vocabularyCap: 5) { _ in }, contains: "test: no .question files")
        try writeFile(root + "/test/t.question", Array("junk".utf8))
        assertOneLineError(try ClozeData.load(path: root, format: .question, vocabularyCap: 5) { _ in },
                           contains: "no usable questions in the test split (1 skipped; first: test/t.question: truncated")
        try FileManager.default.removeItem(atPath: root + "/validation")
        assertOneLineError(try ClozeData.load(path: root, format: .question, vocabularyCap: 5) { _ in }, contains: "no validation/ directory")
        let chen = try makeTempDir()
        for split in ClozeSplit.allCases { try writeFile(chen + "/" + split.chenFile, Array("@placeholder a\n@entity0\n@entity0 a\n".utf8)) }
        try writeFile(chen + "/dev.txt", [])
        assertOneLineError(try ClozeData.load(path: chen, format: .chen, vocabularyCap: 5) { _ in }, contains: "no usable questions in the validation split (0 skipped)")
    }

    func testMaxExamplesPerSplit() throws {
        let root = try makeTempDir()
        let syn = try SyntheticCloze(storyLength: 40, entities: 3, facts: 2, seed: 1)
        try syn.write(to: root, counts: (train: 6, validation: 4, test: 3))
        let all = try ClozeData.load(path: root, format: .question, vocabularyCap: 100, strict: true) { _ in }
        let some = try ClozeData.load(path: root, format: .question, vocabularyCap: 100, strict: true, maxExamples: 2) { _ in }
        XCTAssertEqual([some.train.count, some.validation.count, some.test.count], [2, 2, 2])
        XCTAssertEqual(some.test.map(\.candidates), all.test.prefix(2).map(\.candidates))  // the first files by name
        XCTAssertEqual(some.test.map(\.answer), all.test.prefix(2).map(\.answer))
        assertOneLineError(try ClozeData.load(path: root, format: .question, vocabularyCap: 100, maxExamples: 0) { _ in }, contains: "at least 1")
    }

    /// Random bytes, every truncation and random byte changes of a good file: skipped or read, never a crash.
    func testFuzzedInputsNeverCrash() throws {
        var rng = Philox(seed: 42, purpose: .data)
        let good = Self.question("@entity0 met @entity1 in paris .", "@placeholder met @entity1 .", "@entity0", entities: [0, 1])
        var questions: [(split: ClozeSplit, name: String, text: String)] = ClozeSplit.allCases.map { ($0, "good", good) }
        var fuzzed: [[UInt8]] = []
        for n in 0...good.utf8.count { fuzzed.append(Array(good.utf8.prefix(n))) }
        for _ in 0..<300 {
            var b = Array(good.utf8)
            for _ in 0..<(1 + rng.below(4)) {
                let alphabet: [UInt8] = Array("\n\r @:.xentity0123456789placeholder".utf8) + [0, 0xFF, 0xC3, 0xE9]
                switch rng.below(3) {
                case 0: b[rng.below(b.count)] = alphabet[rng.below(alphabet.count)]
                case 1: b.remove(at: rng.below(b.count))
                default: b.insert(alphabet[rng.below(alphabet.count)], at: rng.below(b.count + 1))
                }
            }
            fuzzed.append(b)
        }
        for _ in 0..<50 { fuzzed.append((0..<rng.below(200)).map { _ in UInt8(rng.below(256)) }) }
        // In memory (texts are strings: invalid bytes are repaired, so also through files below).
        for (i, b) in fuzzed.enumerated() { questions.append((.train, "f\(i)", String(decoding: b, as: UTF8.self))) }
        let d = try ClozeData.parse(questions: questions, vocabularyCap: 20) { _ in }
        XCTAssertEqual(d.report.train.read + d.report.train.skipped, fuzzed.count + 1)
        for e in d.train {
            XCTAssertTrue(e.candidates.contains(e.answer))
            XCTAssertTrue(e.story.allSatisfy { $0 >= 0 && Int($0) < d.vocabulary.count })
        }
        let root = try makeTempDir()
        try writeTree([.train: [("good.question", good)], .validation: [("good.question", good)], .test: [("good.question", good)]], under: root)
        for (i, b) in fuzzed.enumerated() { try writeFile("\(root)/training/f\(i).question", b) }
        let fromFiles = try ClozeData.load(path: root, format: .question, vocabularyCap: 20) { _ in }
        XCTAssertEqual(fromFiles.report.train.read + fromFiles.report.train.skipped, fuzzed.count + 1)
        // Chen files and archives of random bytes: data or a one-line error.
        for i in 0..<20 {
            let chen = try makeTempDir("chen\(i)")
            for split in ClozeSplit.allCases { try writeFile(chen + "/" + split.chenFile, fuzzed[rng.below(fuzzed.count)] + fuzzed[rng.below(fuzzed.count)]) }
            do { _ = try ClozeData.load(path: chen, format: .chen, vocabularyCap: 5) { _ in } } catch {
                XCTAssertTrue(error is DataError && !"\(error)".contains("\n"), "\(error)")
            }
            try writeFile(chen + "/x.tar.gz", fuzzed[rng.below(fuzzed.count)])
            do { _ = try ClozeData.load(path: chen + "/x.tar.gz", format: .question, vocabularyCap: 5) { _ in } } catch {
                XCTAssertTrue(error is DataError && !"\(error)".contains("\n"), "\(error)")
            }
        }
    }

    // MARK: - The synthetic stand-in

    func testSyntheticIsDeterministicAndSplitsDiffer() throws {
        let a = try SyntheticCloze(storyLength: 80, entities: 5, facts: 4, seed: 3)
        let b = try SyntheticCloze(storyLength: 80, entities: 5, facts: 4, seed: 3)
        let c = try SyntheticCloze(storyLength: 80, entities: 5, facts: 4, seed: 4)
        let qa = a.questions(split: .train, count: 20)
        XCTAssertTrue(qa.elementsEqual(b.questions(split: .train, count: 20)) { $0 == $1 })
        XCTAssertFalse(qa.map(\.text).contains { t in c.questions(split: .train, count: 20).contains { $0.text == t } })
        XCTAssertFalse(qa.map(\.text).contains { t in a.questions(split: .validation, count: 20).contains { $0.text == t } })
        XCTAssertEqual(a.question(split: .test, index: 7).text, a.questions(split: .test, count: 9)[7].text)
        XCTAssertEqual(Set(qa.map(\.name)).count, 20)
        XCTAssertTrue(qa.allSatisfy { $0.name.count == 16 + 9 && $0.name.hasSuffix(".question") })

        // The tree on disk reads as the in-memory data.
        let root = try makeTempDir()
        try a.write(to: root, counts: (train: 30, validation: 10, test: 10))
        let disk = try ClozeData.load(path: root, format: .question, vocabularyCap: 50, strict: true) { _ in }
        let memory = try ClozeData.synthetic(storyLength: 80, entities: 5, facts: 4, seed: 3, counts: (train: 30, validation: 10, test: 10), vocabularyCap: 50)
        XCTAssertEqual(disk, memory)
        XCTAssertEqual(try ClozeData.synthetic(storyLength: 80, entities: 5, facts: 4, seed: 3, counts: (train: 30, validation: 10, test: 10), vocabularyCap: 50), memory)

        assertOneLineError(try SyntheticCloze(storyLength: 10, entities: 5, facts: 4, seed: 0), contains: "needs 44...1000000 tokens")
        assertOneLineError(try SyntheticCloze(storyLength: 100, entities: 1, facts: 1, seed: 0), contains: "entities must be")
        assertOneLineError(try SyntheticCloze(storyLength: 1000, entities: 2, facts: 50, seed: 0), contains: "facts must be 1...")
    }

    /// Every item parses; the story has exactly the length asked for and every entity; the answer is among the
    /// candidates and is the only entity that completes the query to a sentence of the story.
    func testSyntheticItemsAreWellFormedAndUnambiguous() throws {
        for (length, entities, facts) in [(40, 3, 2), (150, 8, 10), (400, 12, 30), (80, 2, 11)] {
            let syn = try SyntheticCloze(storyLength: length, entities: entities, facts: facts, seed: UInt64(length))
            let items = syn.questions(split: .train, count: 60)
            let d = try ClozeData.parse(questions: items.map { (.train, $0.name, $0.text) } + [(.validation, "v", items[0].text), (.test, "t", items[1].text)],
                                        vocabularyCap: 1000, strict: true) { _ in }
            XCTAssertEqual(d.train.count, 60)
            XCTAssertEqual(d.report.train.maxStoryLength, length)
            XCTAssertEqual(d.report.train.meanStoryLength, Double(length))
            var firstEntities = Set<Int32>()
            for (item, e) in zip(items, d.train) {
                XCTAssertEqual(e.story.count, length)
                XCTAssertTrue(e.candidates.contains(e.answer))
                XCTAssertEqual(Set(e.candidates), Set((0..<Int32(entities))))
                firstEntities.insert(e.candidates[0])
                let lines = item.text.components(separatedBy: "\n")
                let story = lines[2].split(separator: " ").map(String.init)
                let query = lines[4].split(separator: " ").map(String.init)
                XCTAssertEqual(lines[6], "@entity\(e.answer)")
                var sentences = Set<[String]>(), sentence: [String] = []
                for t in story {
                    sentence.append(t)
                    if t == "." { sentences.insert(sentence); sentence = [] }
                }
                let slot = query.firstIndex(of: "@placeholder")!
                let completions = (0..<entities).filter { n in
                    var q = query
                    q[slot] = "@entity\(n)"
                    return sentences.contains(q)
                }
                XCTAssertEqual(completions, [Int(e.answer)], item.text)
            }
            XCTAssertGreaterThan(firstEntities.count, 1)  // entities are numbered in a random order
        }
    }

    /// Guessing from the surface does little better than chance: the most frequent entity of the story, the first
    /// or the last one mentioned, the one just before the end.
    func testSyntheticAnswerIsNotGivenAwayBySurfaceCues() throws {
        let entities = 8
        let d = try ClozeData.synthetic(storyLength: 200, entities: entities, facts: 8, seed: 5, counts: (train: 1000, validation: 1, test: 1))
        var frequent = 0, first = 0, last = 0
        for e in d.train {
            var counts = [Int](repeating: 0, count: entities)
            for t in e.story { if let c = d.vocabulary.entityClass(ofToken: t) { counts[Int(c)] += 1 } }
            if counts.indices.max(by: { counts[$0] < counts[$1] }) == Int(e.answer) { frequent += 1 }
            if e.candidates.first == e.answer { first += 1 }
            if e.story.last(where: { d.vocabulary.entityClass(ofToken: $0) != nil }).flatMap(d.vocabulary.entityClass) == e.answer { last += 1 }
        }
        let n = Double(d.train.count), chance = 1 / Double(entities)
        for (cue, hits) in [("most frequent", frequent), ("first", first), ("last", last)] {
            XCTAssertLessThan(Double(hits) / n, 2.5 * chance, cue)
        }
    }
}
