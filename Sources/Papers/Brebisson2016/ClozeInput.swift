import Runs
import Foundation

/// The questions of a run: read from --data, or the synthetic stand-in generated from the seed.
enum ClozeInput {
    static func load(_ c: ClozeDataConfig, seed: UInt64, strict: Bool) throws -> ClozeData {
        let data: ClozeData
        if c.isSynthetic {
            data = try synthetic(c, seed: seed)
        } else {
            guard let format = ClozeFormat(rawValue: c.format) else { throw DataError("unknown format '\(c.format)'") }
            data = try ClozeData.load(path: c.source, format: format, vocabularyCap: c.vocabularyCap, strict: strict, maxExamples: c.maxExamples)
        }
        if data.report.skipped > 0 { warn(data.report.summary) }
        return data
    }

    /// The synthetic splits: `splitSizes` questions each, spread evenly over `storyLengths`, every (length, split)
    /// from its own stream of the seed, read through the same parser as real .question files.
    static func synthetic(_ c: ClozeDataConfig, seed: UInt64) throws -> ClozeData {
        guard c.splitSizes.count == 3, !c.storyLengths.isEmpty else { throw DataError("the synthetic task needs 3 split sizes and a story length") }
        var questions: [(split: ClozeSplit, name: String, text: String)] = []
        for (i, length) in c.storyLengths.enumerated() {
            let generator = try SyntheticCloze(storyLength: length, entities: c.entities, facts: c.facts, seed: seed &+ UInt64(i) &* 1_000_003)
            for split in ClozeSplit.allCases {
                let total = c.splitSizes[split.rawValue], n = total / c.storyLengths.count + (i < total % c.storyLengths.count ? 1 : 0)
                for (j, q) in generator.questions(split: split, count: n).enumerated() {
                    questions.append((split, "L\(length)/\(split.directory)/\(j)-\(q.name)", q.text))
                }
            }
        }
        return try ClozeData.parse(questions: questions, vocabularyCap: c.vocabularyCap, strict: true)
    }

    static func describe(_ c: ClozeDataConfig, _ d: ClozeData) -> String {
        let sizes = "\(d.train.count) / \(d.validation.count) / \(d.test.count) questions, vocabulary \(d.vocabulary.count), \(d.vocabulary.entityCount) entity classes"
        if c.isSynthetic {
            return "synthetic stand-in for CNN (stories of \(c.storyLengths.map(String.init).joined(separator: "/")) tokens, \(c.entities) entities, "
                + "\(c.facts) facts per story; not CNN), \(sizes)"
        }
        return "\(c.format) data from \(c.source), \(sizes)"
    }
}
