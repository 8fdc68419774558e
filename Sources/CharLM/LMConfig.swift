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
    /// Recompute each block's activations in the backward pass instead of keeping them (`--recompute`; nil, as in
    /// configurations written before it existed: no). The same numbers, far less memory, ~1/3 more compute.
    public var recompute: Bool?
    public var recomputes: Bool { recompute ?? false }

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
        if evalStride > model.context { p.append(strideProblem(option: "eval-stride", stride: evalStride, context: model.context)) }
        if model.dModel % model.heads != 0 { p.append("the model width \(model.dModel) is not a multiple of its \(model.heads) heads") }
        return p
    }

    /// Bytes a training step needs, estimated: see `TransformerConfig.trainingBytes`; the auxiliary losses add
    /// a classifier output per position for every intermediate layer and for the character after next.
    public var estimatedTrainingBytes: Double {
        let classifiers = 1 + (aux.intermediateLayers ? model.layers - 1 : 0) + (model.predictsNextButOne ? 1 : 0)
        return model.trainingBytes(batch: training.batch, classifiers: classifiers, recompute: recomputes)
    }
}

/// The one-line refusal of an evaluation stride longer than the model's context: a window scores at most its
/// context, so such a stride would silently become the context.
public func strideProblem(option: String, stride: Int, context: Int) -> String {
    "--\(option) \(stride) is longer than the model's context of \(context) symbols (a window scores at most its context)"
}

extension TransformerConfig {
    /// Parameters, counted from the layers' declarations without making the model.
    public var parameterCount: Int {
        let d = dModel, kernel = attention.kernel
        let perLayer = (d + 1) * kernel.projectionWidth(dModel: d, heads: heads) + (d + 1) * d + (d + 1) * dFF + (dFF + 1) * d + 4 * d
            + kernel.headParameters * heads
        let positions = (positionsEveryLayer ? layers : 1) * context * d
        return vocab * d + positions + layers * perLayer + 2 * d + (d + 1) * vocab * (predictsNextButOne ? 2 : 1)
    }

    /// Bytes one training step of `batch` full windows needs, estimated: the parameters four times (weights,
    /// gradients, Adam's two moments) and the activations the tape keeps, per position and layer the block's
    /// inputs and outputs (8 x width, the attention's projection, 2 x the feed-forward width, 4 x width more with
    /// dropout), plus the embeddings and `classifiers` classifier outputs (logits and their softmax) per position,
    /// all Float32. Within 25% of the peak memory measured for the t12 and t64 presets (papers/al-rfou2018.md).
    /// With `recompute`, a layer keeps only its input and output and one block's activations exist at a time.
    public func trainingBytes(batch: Int, classifiers: Int = 1, recompute: Bool = false) -> Double {
        let d = Double(dModel), tokens = Double(batch) * Double(context)
        let perLayer = (dropout > 0 ? 12 : 8) * d + Double(attention.kernel.projectionWidth(dModel: dModel, heads: heads)) + 2 * Double(dFF)
            + Double(attention.kernel.keptValuesPerToken(length: context, dModel: dModel, heads: heads))
        let embeddings = d * Double(positionsEveryLayer ? layers + 1 : 2)
        let blocks = recompute ? Double(layers) * 2 * d + perLayer : Double(layers) * perLayer
        let activations = tokens * (blocks + embeddings + Double(classifiers) * (d + 2 * Double(vocab)))
        return 4 * (4 * Double(parameterCount) + activations)
    }
}
