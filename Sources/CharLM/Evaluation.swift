import Engine
import NN
import Runs
import Foundation

/// Bits per character of `ids` under `model`, each symbol predicted from at most `context` preceding symbols.
///
/// Symbols 1..<N are predicted (the first has no history). The first window [0, context) scores all its
/// positions; every later window ends at the next unscored symbol plus `stride` - 1 and scores its last
/// `stride` positions, each from a full `context` of history. `stride` 1 is the paper's protocol (one forward
/// pass per symbol, sliding by one); larger strides are cheaper and give somewhat higher numbers, and must be
/// labelled as such; a stride longer than the context cannot be honoured (callers refuse it with
/// `strideProblem`). `maxSymbols` scores only a prefix. Runs without a tape (no activations are kept). In a
/// data-parallel job the batches of windows are split over the ranks and the sums reduced (every rank must call it).
public func evaluateBPC(_ model: TransformerLM<Float>, ids: [UInt8], stride: Int, batch: Int = 16, maxSymbols: Int? = nil) -> (bpc: Double, symbols: Int) {
    let ctx = model.config.context
    precondition((1...ctx).contains(stride), "evaluateBPC: stride \(stride) outside 1...\(ctx)")
    let n = min(ids.count, (maxSymbols ?? ids.count) + 1)
    guard n >= 2 else { return (.nan, 0) }
    // Windows as (input start, length, first scored target index within the window).
    var windows: [(start: Int, length: Int, firstScored: Int)] = []
    let firstLength = min(ctx, n - 1)
    windows.append((0, firstLength, 0))
    var next = firstLength + 1  // next target position to score
    while next <= n - 1 {
        let end = min(next + stride - 1, n - 1)  // last target position scored by this window
        let start = end - ctx               // inputs [start, end) predict targets [start+1, end]
        windows.append((start, ctx, next - (start + 1)))
        next = end + 1
    }
    var nats = 0.0, count = 0
    var rng = Philox(seed: 0, purpose: .evaluation)
    Tape.withoutRecording {
        var w = 0, index = 0
        while w < windows.count {
            // Windows of one length go together (only the first can be shorter).
            let length = windows[w].length
            var group: [(start: Int, length: Int, firstScored: Int)] = []
            while w < windows.count && group.count < batch && windows[w].length == length { group.append(windows[w]); w += 1 }
            index += 1
            guard Distributed.owns(index - 1) else { continue }
            var x: [Int32] = [], y: [Int32] = []
            for g in group {
                for j in 0..<length {
                    x.append(Int32(ids[g.start + j]))
                    y.append(j >= g.firstScored ? Int32(ids[g.start + j + 1]) : -1)
                }
            }
            let logits = model.forward(x, batch: group.count, length: length, rng: &rng).logits
            nats += Double(crossEntropy(logits, targets: y, reduction: .sum).scalar)
            count += y.filter { $0 >= 0 }.count
        }
    }
    if Distributed.isActive {
        let total = Distributed.sumOrAbort([nats, Double(count)])
        (nats, count) = (total[0], Int(total[1]))
    }
    return (nats / Double(count) / Foundation.log(2.0), count)
}

/// Bits per character with the state carried across the whole of `ids` as one stream (unbounded context, for the
/// attention kinds with a fixed-size state): `ids` is fed in consecutive windows of the model's context, each
/// from position 0 (the learned positions stop at the context) with every layer's state carried over from the
/// windows before, and every symbol but the first is scored once. Runs without a tape.
public func evaluateBPCCarried(_ model: TransformerLM<Float>, ids: [UInt8], maxSymbols: Int? = nil) -> (bpc: Double, symbols: Int) {
    let ctx = model.config.context
    let n = min(ids.count, (maxSymbols ?? ids.count) + 1)
    guard n >= 2 else { return (.nan, 0) }
    var states = model.initialStates(batch: 1)
    var nats = 0.0, count = 0, start = 0
    Tape.withoutRecording {
        while start < n - 1 {
            let end = min(start + ctx, n - 1)
            let x = ids[start..<end].map { Int32($0) }, y = ids[(start + 1)...end].map { Int32($0) }
            let logits = model.step(x, batch: 1, length: x.count, start: 0, states: &states)
            nats += Double(crossEntropy(logits, targets: y, reduction: .sum).scalar)
            count += y.count
            start = end
        }
    }
    return (nats / Double(count) / Foundation.log(2.0), count)
}
