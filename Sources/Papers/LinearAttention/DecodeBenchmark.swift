import Engine
import Foundation
import NN
import Runs

/// Decode time per token of one transformer block at a given context: softmax attention reads a KV cache of that
/// many positions, a linear kind its fixed-size state (the same cost at every context).
public enum DecodeBenchmark {
    /// Milliseconds per generated token through one block of `config` (its attention kind, width and heads),
    /// with `context` positions already seen: the median of `tokens` single-position steps after two untimed ones.
    public static func millisecondsPerToken(_ config: TransformerConfig, context: Int, tokens: Int = 24) -> Double {
        let store = ParameterStore<Float>()
        var rng = Philox(seed: 1, purpose: .initialisation)
        let block = TransformerBlock<Float>(store, "block", config, rng: &rng)
        store.finalize()
        let h = config.heads, d = config.dModel
        var state: AttentionState<Float>? = block.attention.initialState(batch: 1, heads: h, dModel: d)
        if case .kv = state! {
            var r = Philox(seed: 2)
            func filled(_ shape: [Int]) -> Tensor<Float> {
                let t = Tensor<Float>(shape: shape)
                for i in 0..<t.count { t.data[i] = Float(r.uniformDouble() - 0.5) }
                return t
            }
            state = .kv(keys: filled([h, context, d / h]), values: filled([h, context, d / h]), count: context)
        }
        let x = Tensor<Float>(shape: [1, 1, d], values: (0..<d).map { Float($0 % 7) / 7 })
        var times: [Double] = []
        var noDropout = Philox(seed: 0, purpose: .dropout)
        Tape.withoutRecording {
            for i in 0..<(tokens + 2) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = block(x, dropout: 0, rng: &noDropout, state: &state)
                if i >= 2 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) }
            }
        }
        return median(times)
    }
}
