import Foundation

/// Al-Rfou et al.'s three auxiliary losses, each with its switch.
public struct AuxiliaryLosses: Codable, Equatable, Sendable {
    /// Predict the next character at every position of the window, not only at the last.
    public var multiplePositions: Bool
    /// Every intermediate layer's output also predicts the next character (through the final layer norm and
    /// classifier); layer l of n stops contributing after l / (2n) of training.
    public var intermediateLayers: Bool
    /// A second classifier on the last layer predicts the character after next.
    public var multipleTargets: Bool
    /// Weight of each intermediate layer's loss while it is active.
    public var intermediateWeight: Double
    /// Weight of the character-after-next loss.
    public var multipleTargetsWeight: Double

    public init(multiplePositions: Bool = true, intermediateLayers: Bool = true, multipleTargets: Bool = true,
                intermediateWeight: Double = 1, multipleTargetsWeight: Double = 0.5) {
        self.multiplePositions = multiplePositions
        self.intermediateLayers = intermediateLayers
        self.multipleTargets = multipleTargets
        self.intermediateWeight = intermediateWeight
        self.multipleTargetsWeight = multipleTargetsWeight
    }

    /// Whether layer `layer` (1-based, of `layers`; the last layer is never an intermediate one) contributes
    /// a loss at `step` (1-based) of `totalSteps`: while the fraction of training done before this step is
    /// below layer / (2 x layers).
    public static func intermediateActive(layer: Int, of layers: Int, step: Int, totalSteps: Int) -> Bool {
        guard layer < layers else { return false }
        return Double(step - 1) / Double(max(totalSteps, 1)) < Double(layer) / Double(2 * layers)
    }
}

/// Everything that defines a language-model training run. Stored (as JSON) in every run file and checkpoint.
public struct LMTrainingConfig: Codable, Equatable, Sendable {
    public var preset: String
    public var dataset: String
    public var model: TransformerConfig
    public var aux: AuxiliaryLosses
    public var steps: Int
    public var batch: Int
    /// "adamw" or "sgd" (with momentum).
    public var optimizer: String
    public var lr: Double
    public var momentum: Double
    public var weightDecay: Double
    public var clip: Double
    public var warmup: Int
    /// "cosine" (to minLRFactor x lr at the last step) or "constant" (after the warm-up).
    public var schedule: String
    public var minLRFactor: Double
    public var evalEvery: Int
    /// Validation symbols scored at each periodic evaluation (a prefix of the validation split).
    public var evalSymbols: Int
    /// Stride of the periodic evaluation (see `evaluateBPC`); 1 is the paper's protocol.
    public var evalStride: Int
    public var checkpointEvery: Int
    public var seed: UInt64

    public var learningRateSchedule: LRSchedule {
        schedule == "cosine" ? .cosine(warmup: warmup, total: steps, minFactor: minLRFactor) : .warmup(steps: warmup)
    }

    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    public static func fromJSON(_ s: String) throws -> LMTrainingConfig {
        try JSONDecoder().decode(LMTrainingConfig.self, from: Data(s.utf8))
    }
}
