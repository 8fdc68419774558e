import CharLM
import NN
import PaperAlRfou2018
import Runs

/// Settings of the linear-attention comparison: Al-Rfou et al.'s model and training (auxiliary losses included)
/// with only the attention swapped, every kind at (nearly) the softmax model's parameter count.
public enum LinearAttentionExperiment {
    public static let presetNames = ["smoke", "cpu", "paper"]

    /// The softmax model of a preset, for a corpus of `vocab` symbols.
    ///  - smoke: Al-Rfou's smoke preset (seconds; tests).
    ///  - cpu: 3 layers, width 128, 4 heads, context 256, 400 steps of 16 windows (1.6M tokens; 2 to 8 minutes per
    ///    kind on 2 cores). Far below the paper's scale.
    ///  - paper: Zhai et al. 2021's enwik8 setting (Table 4): 12 layers, width 512, 8 heads, context 1024,
    ///    batch 128 sequences; weeks on a CPU.
    public static func preset(_ name: String, dataset: String, vocab: Int) -> LMTrainingConfig? {
        switch name {
        case "smoke":
            return AlRfou2018.preset("smoke", dataset: dataset, vocab: vocab).map { c in var c = c; c.preset = name; return c }
        case "cpu":
            guard var c = AlRfou2018.preset("cpu", dataset: dataset, vocab: vocab) else { return nil }
            c.preset = name
            c.model = TransformerConfig(vocab: vocab, layers: 3, dModel: 128, heads: 4, dFF: 512, context: 256, dropout: 0.1,
                                        positionsEveryLayer: true, attention: .softmax(block: 64), predictsNextButOne: true)
            c.training.steps = 400
            c.training.warmup = 40
            c.training.evalEvery = 100
            c.training.checkpointEvery = 100
            c.evalSymbols = 20_000
            return c
        case "paper":
            guard var c = AlRfou2018.preset("t12", dataset: dataset, vocab: vocab) else { return nil }
            c.preset = name
            c.model = TransformerConfig(vocab: vocab, layers: 12, dModel: 512, heads: 8, dFF: 2048, context: 1024, dropout: 0.1,
                                        positionsEveryLayer: true, attention: .softmax(block: 64), predictsNextButOne: true)
            c.training.batch = 128
            return c
        default:
            return nil
        }
    }

    /// `base` with `attention`, its feed-forward width changed so that the parameter count is as close as it can
    /// be to `base`'s (each feed-forward unit is 2 x d_model + 1 parameters per layer). Returns the configuration
    /// and both counts.
    public static func matched(_ base: LMTrainingConfig, attention: AttentionKind) -> (config: LMTrainingConfig, parameters: Int, target: Int) {
        let target = parameterCount(base.model)
        var c = base
        c.model.attention = attention
        let unpadded = parameterCount(c.model)
        let perUnit = base.model.layers * (2 * base.model.dModel + 1)
        c.model.dFF = max(1, base.model.dFF - Int((Double(unpadded - target) / Double(perUnit)).rounded()))
        return (c, parameterCount(c.model), target)
    }

    /// Parameters of a model configuration (counted from its declarations, without initialising a model).
    public static func parameterCount(_ m: TransformerConfig) -> Int {
        let d = m.dModel, kernel = m.attention.kernel
        let proj = kernel.projectionWidth(dModel: d, heads: m.heads)
        let perLayer = (d + 1) * proj + (d + 1) * d + (d + 1) * m.dFF + (m.dFF + 1) * d + 4 * d + kernel.headParameters * m.heads
        let positions = (m.positionsEveryLayer ? m.layers : 1) * m.context * d
        return m.vocab * d + positions + m.layers * perLayer + 2 * d + (d + 1) * m.vocab * (m.predictsNextButOne ? 2 : 1)
    }
}
