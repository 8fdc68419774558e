import Runs
import Foundation

/// de Brébisson & Vincent 2016: presets and the anchors a CNN run is compared with.
public enum Brebisson2016 {
    public static let presetNames = ["smoke", "cpu", "paper"]

    /// Accuracy anchors on CNN (%), valid / test, with where each comes from.
    public static let anchors: [(what: String, valid: Double?, test: Double?, source: String)] = [
        ("Attentive Reader (Hermann et al. 2015)", 61.6, 63.0, "Hermann et al. 2015, Table 5 (recalled)"),
        ("Impatient Reader (Hermann et al. 2015)", 61.8, 63.8, "Hermann et al. 2015, Table 5 (recalled)"),
        ("Deep LSTM Reader (Hermann et al. 2015)", 55.0, 57.0, "Hermann et al. 2015, Table 5 (recalled)"),
        ("softmax reader, 256-unit GRUs (de Brébisson & Vincent's code)", 62.1, nil, "the authors' README (recalled; not the paper's table)"),
    ]

    /// The model and training of one reader in a preset. The data source comes from the command (--data or the
    /// synthetic stand-in); `vocabulary` and `entities` are filled in once the data is read.
    ///  - smoke: seconds; a tiny synthetic task (tests).
    ///  - cpu: minutes per reader on 2 cores: the synthetic stand-in with stories of 60 to 480 tokens, 64 units.
    ///  - paper: the authors' configs (embedding, GRUs and output layer of 100, unidirectional, batch 32, Adam
    ///    1e-3, clipping at 10: paper configs as summarised in ../shared/papers/brebisson2016.md); 60,000 steps
    ///    (about 5 epochs of CNN's 380,298 questions) and the 50,000-word vocabulary are our choices. Days per
    ///    reader on a CPU with the real data.
    public static func preset(_ name: String, reader: ClozeReader, seed: UInt64 = 1) -> ClozeTrainingConfig? {
        func config(size: Int, data: ClozeDataConfig, steps: Int, batch: Int, evalEvery: Int, checkpointEvery: Int) -> ClozeTrainingConfig {
            ClozeTrainingConfig(preset: name,
                                model: ClozeModelConfig(reader: reader, vocabulary: 0, entities: 0, embedding: size, hidden: size, output: size),
                                data: data,
                                training: TrainingConfig(steps: steps, batch: batch, optimizer: .adam, lr: 1e-3, clip: 10,
                                                         evalEvery: evalEvery, checkpointEvery: checkpointEvery, seed: seed))
        }
        switch name {
        case "smoke":
            var c = config(size: 32, data: synthetic(lengths: [30, 60], entities: 4, facts: 2, sizes: [3_000, 200, 200]),
                           steps: 300, batch: 32, evalEvery: 100, checkpointEvery: 100)
            c.training.lr = 3e-3
            return c
        case "cpu":
            return config(size: 64, data: synthetic(lengths: [60, 120, 240, 480], entities: 8, facts: 4, sizes: [12_000, 1_000, 2_000]),
                          steps: 1_500, batch: 32, evalEvery: 250, checkpointEvery: 500)
        case "paper":
            var c = config(size: 100, data: synthetic(lengths: [200, 400, 800], entities: 8, facts: 4, sizes: [100_000, 4_000, 4_000]),
                           steps: 60_000, batch: 32, evalEvery: 2_000, checkpointEvery: 2_000)
            c.data.vocabularyCap = 50_000
            return c
        default:
            return nil
        }
    }

    static func synthetic(lengths: [Int], entities: Int, facts: Int, sizes: [Int]) -> ClozeDataConfig {
        ClozeDataConfig(source: "synthetic", format: "question", vocabularyCap: 10_000, maxExamples: nil, storyLengths: lengths,
                        entities: entities, facts: facts, splitSizes: sizes)
    }
}
