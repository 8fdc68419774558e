// Sampling text from a character language model, with the KV cache (softmax) or the recurrent state (linear kinds).
import Engine
import Foundation
import NN

/// Continues `prompt` (symbol ids, at least one) by `length` symbols sampled from `model`: each step feeds only
/// the new symbol, carrying every layer's state (a KV cache for softmax attention, the fast-weight state for the
/// linear kinds). Logits are divided by `temperature` (0: always the most likely symbol) and, with `topK`, only
/// the K most likely symbols are drawn from. When the positions reach the model's context, the last half-context
/// of symbols is fed again from position 0 (learned positions stop at the context). The same seed gives the
/// same text.
public func generate(_ model: TransformerLM<Float>, prompt: [Int32], length: Int, temperature: Double = 1, topK: Int? = nil,
                     seed: UInt64 = 1) -> [Int32] {
    precondition(!prompt.isEmpty, "generate: empty prompt")
    let ctx = model.config.context, vocab = model.config.vocab
    var rng = Philox(seed: seed, purpose: .generation)
    var text = prompt
    var states = model.initialStates(batch: 1)
    var position = 0
    func feed(_ ids: [Int32]) -> [Float] {
        let logits = Tape.withoutRecording { model.step(ids, batch: 1, length: ids.count, start: position, states: &states) }
        position += ids.count
        return Array(logits.values[((ids.count - 1) * vocab)..<(ids.count * vocab)])
    }
    // The prompt's last context of symbols, fed at once.
    var last = feed(Array(text.suffix(ctx)))
    for _ in 0..<length {
        let next = sample(last, temperature: temperature, topK: topK, rng: &rng)
        text.append(next)
        if position >= ctx {  // re-encode the recent past from position 0
            states = model.initialStates(batch: 1)
            position = 0
            last = feed(Array(text.suffix(max(1, ctx / 2))))
        } else {
            last = feed([next])
        }
    }
    return Array(text.suffix(length))
}

/// One symbol drawn from softmax(logits / temperature) restricted to the `topK` largest (ties: the lower id first).
func sample(_ logits: [Float], temperature: Double, topK: Int?, rng: inout Philox) -> Int32 {
    var order = Array(logits.indices).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
    if temperature <= 0 { return Int32(order[0]) }
    if let k = topK { order = Array(order.prefix(max(1, k))) }
    let top = Double(logits[order[0]])
    let weights = order.map { Foundation.exp((Double(logits[$0]) - top) / temperature) }
    var u = rng.uniformDouble() * weights.reduce(0, +)
    for (i, w) in weights.enumerated() {
        u -= w
        if u < 0 { return Int32(order[i]) }
    }
    return Int32(order[order.count - 1])
}
