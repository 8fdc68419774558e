import Engine
import NN
import Runs
import CharLM

/// Al-Rfou et al. 2018 settings and published numbers.
public enum AlRfou2018 {
    /// Test bits per character from the paper (Tables 1 and 2).
    public static let paperBPC: [(model: String, params: String, text8: Double, enwik8: Double)] = [
        ("T12", "44M", 1.18, 1.11),
        ("T64", "235M", 1.13, 1.06),
    ]

    public static let presetNames = ["smoke", "cpu", "t12", "t64"]

    /// A preset's full configuration for a corpus with `vocab` symbols.
    ///  - smoke: seconds; for tests.
    ///  - cpu: about 15 minutes on 2 cores; the README default.
    ///  - t12, t64: the paper's shapes (context 512, width 512, 2048 feed-forward, dropout 0.55, SGD with
    ///    momentum 0.99 at 0.003: reported from reimplementations, unconfirmed). Days to weeks on a CPU.
    public static func preset(_ name: String, dataset: String, vocab: Int) -> LMTrainingConfig? {
        func model(_ layers: Int, _ d: Int, _ heads: Int, _ ff: Int, _ ctx: Int, _ dropout: Double) -> TransformerConfig {
            TransformerConfig(vocab: vocab, layers: layers, dModel: d, heads: heads, dFF: ff, context: ctx, dropout: dropout,
                              positionsEveryLayer: true, attention: .softmax(block: 64), predictsNextButOne: true)
        }
        func lm(_ m: TransformerConfig, _ t: TrainingConfig, evalSymbols: Int) -> LMTrainingConfig {
            LMTrainingConfig(preset: name, dataset: dataset, model: m, aux: AuxiliaryLosses(), training: t, evalSymbols: evalSymbols,
                             evalStride: name == "smoke" ? 16 : 128)
        }
        switch name {
        case "smoke":
            return lm(model(2, 32, 2, 64, 32, 0),
                      TrainingConfig(steps: 80, batch: 8, optimizer: .adamw, lr: 3e-3, weightDecay: 0.01, clip: 1, warmup: 10,
                                     schedule: .cosine, minLRFactor: 0.1, evalEvery: 40, checkpointEvery: 40, seed: 1),
                      evalSymbols: 4000)
        case "cpu":
            return lm(model(4, 256, 4, 1024, 256, 0.1),
                      TrainingConfig(steps: 1500, batch: 16, optimizer: .adamw, lr: 2e-3, weightDecay: 0.01, clip: 1, warmup: 100,
                                     schedule: .cosine, minLRFactor: 0.1, evalEvery: 250, checkpointEvery: 250, seed: 1),
                      evalSymbols: 50_000)
        case "t12", "t64":
            return lm(model(name == "t12" ? 12 : 64, 512, 8, 2048, 512, 0.55),
                      TrainingConfig(steps: 2_500_000, batch: 16, optimizer: .sgd, lr: 0.003, momentum: 0.99, clip: 1,
                                     schedule: .constant, evalEvery: 10_000, checkpointEvery: 2_000, seed: 1),
                      evalSymbols: 1_000_000)
        default:
            return nil
        }
    }
}
