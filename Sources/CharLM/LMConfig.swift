import Engine
import NN
import Runs
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

/// Everything that defines a character language-model training run. Stored (as JSON) in every run file and
/// checkpoint; a checkpoint rebuilds its model from `model` (attention kind included).
public struct LMTrainingConfig: RunConfig {
    public var preset: String
    public var dataset: String
    public var model: TransformerConfig
    public var aux: AuxiliaryLosses
    public var training: TrainingConfig
    /// Validation symbols scored at each periodic evaluation (a prefix of the validation split).
    public var evalSymbols: Int
    /// Stride of the evaluations during and after training (see `evaluateBPC`); 1 is the paper's protocol.
    public var evalStride: Int

    public init(preset: String, dataset: String, model: TransformerConfig, aux: AuxiliaryLosses, training: TrainingConfig,
                evalSymbols: Int, evalStride: Int) {
        self.preset = preset
        self.dataset = dataset
        self.model = model
        self.aux = aux
        self.training = training
        self.evalSymbols = evalSymbols
        self.evalStride = evalStride
    }

    /// Problems with the values, one line each (empty when the configuration can run).
    public var problems: [String] {
        var p = training.problems + model.attention.problems
        if evalSymbols <= 0 { p.append("--eval-symbols must be positive") }
        if evalStride <= 0 { p.append("--eval-stride must be positive") }
        if model.dModel % model.heads != 0 { p.append("the model width \(model.dModel) is not a multiple of its \(model.heads) heads") }
        return p
    }
}
