import ArgumentParser
import CharLM
import Engine
import Foundation
import Runs

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from any language-model checkpoint, with the KV cache (softmax) or the recurrent state (linear kinds).")

    @Option(help: "A language-model checkpoint (checkpoint.h5 or best.h5 of an al-rfou2018 or linear-attention run).") var checkpoint: String
    @Option(help: "The text to continue (in the model's alphabet).") var prompt: String
    @Option(help: "Symbols to generate.") var length = 200
    @Option(help: "Softmax temperature (0: always the most likely symbol).") var temperature = 1.0
    @Option(help: "Draw only from the K most likely symbols.") var topK: Int?
    @Option(help: "Random seed, 0 to 2^63-1 (the same seed gives the same text).") var seed: UInt64 = 1
    @Option(help: "Threads.") var threads = 2

    func validate() throws {
        try checkRange("length", length, OptionLimits.symbols)
        if !(temperature >= 0 && temperature.isFinite) { throw ValidationError("--temperature must be a non-negative number") }
        try checkRange("top-k", topK, OptionLimits.width)
        try checkRange("seed", seed, OptionLimits.seed)
        try checkRange("threads", threads, OptionLimits.threads)
        if prompt.isEmpty { throw ValidationError("--prompt must not be empty") }
    }

    func run() throws {
        try BLAS.ensureLoaded()
        Engine.setThreads(threads)
        let (model, config, _) = try LMTask.loadModel(checkpoint: checkpoint)
        let alphabet = Alphabet(vocab: config.model.vocab)
        let raw = Array(prompt.utf8)
        let outside = Set(raw.filter { !alphabet.contains($0) })
        if !outside.isEmpty {
            let shown = outside.sorted().map { b in (32..<127).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte \(b)" }
            throw ValidationError("the prompt has symbols outside the model's alphabet (text8: a-z and space): \(shown.joined(separator: ", "))")
        }
        let ids = try alphabet.encode(raw, source: "--prompt").map { Int32($0) }
        let out = generate(model, prompt: ids, length: length, temperature: temperature, topK: topK, seed: seed)
        print(prompt + alphabet.decode(out.map { UInt8($0) }))
    }
}
