// The settings every training run has, whatever its task, and the protocol of a run's complete configuration.
import Engine
import Foundation
import NN

/// The optimizer of a run.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    /// Adam; weight decay (if any) added to the gradient (L2).
    case adam
    /// Adam with decoupled weight decay (Loshchilov & Hutter).
    case adamw
    /// SGD with momentum (PyTorch's formulation), L2 weight decay.
    case sgd
    /// RMSProp (PyTorch's formulation: alpha 0.99, eps 1e-8, no momentum, not centered), L2 weight decay.
    case rmsprop
}

/// The learning-rate schedule of a run.
public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
    /// Linear warm-up over `warmup` steps (none when 0), then constant.
    case constant
    /// Linear warm-up, then cosine decay to `minLRFactor` x the rate at the last step.
    case cosine
}

/// Steps, batch, optimizer, schedule, clipping, evaluation and checkpoint intervals and the seed: the part of a
/// run's configuration that the trainer reads.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var steps: Int
    public var batch: Int
    public var optimizer: OptimizerKind
    public var lr: Double
    /// SGD's momentum.
    public var momentum: Double
    public var weightDecay: Double
    /// Largest global gradient norm (0: no clipping).
    public var clip: Double
    public var warmup: Int
    public var schedule: ScheduleKind
    /// Cosine schedule: the last step's rate as a fraction of `lr`.
    public var minLRFactor: Double
    public var evalEvery: Int
    public var checkpointEvery: Int
    /// Seeds every stream of the run: initialisation, data order, dropout.
    public var seed: UInt64

    public init(steps: Int, batch: Int, optimizer: OptimizerKind, lr: Double, momentum: Double = 0, weightDecay: Double = 0,
                clip: Double, warmup: Int = 0, schedule: ScheduleKind = .constant, minLRFactor: Double = 1, evalEvery: Int,
                checkpointEvery: Int, seed: UInt64) {
        self.steps = steps
        self.batch = batch
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.clip = clip
        self.warmup = warmup
        self.schedule = schedule
        self.minLRFactor = minLRFactor
        self.evalEvery = evalEvery
        self.checkpointEvery = checkpointEvery
        self.seed = seed
    }

    public var learningRateSchedule: LRSchedule {
        switch schedule {
        case .cosine: return .cosine(warmup: warmup, total: steps, minFactor: minLRFactor)
        case .constant: return .warmup(steps: warmup)
        }
    }

    /// The optimizer over `params` that this configuration names.
    public func makeOptimizer<T: Real>(_ params: ParameterStore<T>) -> Optimizer {
        switch optimizer {
        case .adam: return Adam(params, weightDecay: weightDecay, decoupled: false)
        case .adamw: return Adam(params, weightDecay: weightDecay, decoupled: true)
        case .sgd: return SGD(params, momentum: momentum, weightDecay: weightDecay)
        case .rmsprop: return RMSProp(params, weightDecay: weightDecay)
        }
    }

    /// Problems with the values, one line each (empty when the configuration can run).
    public var problems: [String] {
        var p: [String] = []
        for (name, v) in [("steps", steps), ("batch", batch), ("eval-every", evalEvery), ("checkpoint-every", checkpointEvery)] where v <= 0 {
            p.append("--\(name) must be positive")
        }
        if !(lr > 0 && lr.isFinite) { p.append("--lr must be a positive number") }
        if !(clip >= 0 && clip.isFinite) { p.append("the gradient clip must be a non-negative number") }
        if warmup < 0 { p.append("the warm-up must not be negative") }
        return p
    }
}

/// A run's complete configuration: everything that defines it, stored as JSON in every file of the run, so
/// that a checkpoint rebuilds its model from its own configuration and a resumed run is checked against it.
public protocol RunConfig: Codable, Equatable, Sendable {
    var training: TrainingConfig { get set }
}

extension RunConfig {
    /// Sorted-key JSON: the same configuration always gives the same text.
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    public static func fromJSON(_ s: String) throws -> Self {
        try JSONDecoder().decode(Self.self, from: Data(s.utf8))
    }
}
