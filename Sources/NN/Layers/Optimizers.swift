import CRuntime
import Engine
import Foundation

/// Learning rate as a function of the step (1-based: the rate used for update number `step`).
public enum LRSchedule: Sendable, Equatable {
    case constant
    /// Linear warm-up from 0 over `warmup` steps, then constant.
    case warmup(steps: Int)
    /// Linear warm-up, then cosine decay to `minFactor` x the base rate at `total` steps.
    case cosine(warmup: Int, total: Int, minFactor: Double)
    /// Multiply by `gamma` every `every` steps.
    case stepDecay(every: Int, gamma: Double)

    public func rate(base: Double, step: Int) -> Double {
        switch self {
        case .constant: return base
        case .warmup(let w): return w > 0 && step < w ? base * Double(step) / Double(w) : base
        case .cosine(let w, let total, let minFactor):
            if w > 0 && step < w { return base * Double(step) / Double(w) }
            let progress = min(1, Double(step - w) / Double(max(1, total - w)))
            return base * (minFactor + (1 - minFactor) * 0.5 * (1 + Foundation.cos(Double.pi * progress)))
        case .stepDecay(let every, let gamma): return base * Foundation.pow(gamma, Double(step / max(every, 1)))
        }
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm` (as torch.nn.utils.clip_grad_norm_:
/// factor maxNorm / (norm + 1e-6) when norm > maxNorm). Returns the norm before clipping. The sum of squares
/// is accumulated in Double, in buffer order: deterministic.
@discardableResult
public func clipGradientNorm<T: Real>(_ params: ParameterStore<T>, maxNorm: Double) -> Double {
    let g = params.gradients
    var s = 0.0
    for i in 0..<params.count { let x = Double(g[i]); s += x * x }
    let norm = s.squareRoot()
    if maxNorm > 0 && norm > maxNorm {
        let f = T(maxNorm / (norm + 1e-6))
        for i in 0..<params.count { g[i] *= f }
    }
    return norm
}

/// An optimizer over a finalized parameter store's flat buffer.
public protocol Optimizer: AnyObject {
    /// Applies one update with learning rate `lr` using the gradients currently in the store.
    func step(lr: Double)
    /// Its state for a checkpoint: named arrays (moments) and the step count.
    var state: OptimizerState { get }
    /// Restores a state taken from an optimizer of the same kind over the same parameters.
    func restore(_ state: OptimizerState) throws
}

/// An optimizer's state, as the run store saves it: arrays by name (written in Float32, the engine's
/// training precision) and the number of steps taken.
public struct OptimizerState {
    public var arrays: [(name: String, values: [Double])]
    public var steps: Int
    public init(arrays: [(name: String, values: [Double])], steps: Int) {
        self.arrays = arrays
        self.steps = steps
    }

    /// The array called `name`, which must hold `count` values.
    public func array(_ name: String, count: Int) throws -> [Double] {
        guard let a = arrays.first(where: { $0.name == name })?.values else { throw NNError("optimizer state has no '\(name)'") }
        guard a.count == count else { throw NNError("optimizer state has \(a.count) values, the model \(count)") }
        return a
    }
}

/// A state or configuration that does not fit the model, in one line.
public struct NNError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// SGD with momentum (optionally Nesterov), PyTorch's formulation: buf = momentum*buf + g (g itself on the
/// first step); update = g + momentum*buf (Nesterov) or buf. L2 weight decay adds wd*p to g for decayed entries.
public final class SGD<T: Real>: Optimizer {
    public let params: ParameterStore<T>
    public let momentum: Double, nesterov: Bool, weightDecay: Double
    private var buffer: [T]
    private var steps = 0

    public init(_ params: ParameterStore<T>, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        precondition(params.isFinalized, "finalize the parameter store before making an optimizer")
        self.params = params
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        buffer = [T](repeating: 0, count: params.count)
    }

    public func step(lr: Double) {
        let first = steps == 0
        buffer.withUnsafeMutableBufferPointer { buf in
            for e in params.entries {
                sgdUpdate(p: params.values + e.offset, g: params.gradients + e.offset, buffer: buf.baseAddress! + e.offset, count: e.count,
                          lr: lr, momentum: momentum, nesterov: nesterov, weightDecay: e.decay ? weightDecay : 0, firstStep: first)
            }
        }
        steps += 1
    }

    public var state: OptimizerState {
        OptimizerState(arrays: [("momentum", buffer.map { Double($0) })], steps: steps)
    }

    public func restore(_ state: OptimizerState) throws {
        buffer = try state.array("momentum", count: buffer.count).map { T($0) }
        steps = state.steps
    }
}

/// Adam (Kingma & Ba) with bias correction, in PyTorch's arithmetic:
/// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps).
/// Epsilon is added after the square root of the bias-corrected second moment.
/// Weight decay: `decoupled` (AdamW, p *= 1 - lr*wd before the update) or L2 (g += wd*p); either way only for
/// entries marked `decay` (matrices by default; never biases, layer-norm gains or embeddings).
public final class Adam<T: Real>: Optimizer {
    public let params: ParameterStore<T>
    public let beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool
    private var m: [T], v: [T]
    public private(set) var steps = 0

    public init(_ params: ParameterStore<T>, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0, decoupled: Bool = true) {
        precondition(params.isFinalized, "finalize the parameter store before making an optimizer")
        self.params = params
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        m = [T](repeating: 0, count: params.count)
        v = [T](repeating: 0, count: params.count)
    }

    public func step(lr: Double) {
        steps += 1
        let bc1 = 1 - Foundation.pow(beta1, Double(steps)), bc2 = 1 - Foundation.pow(beta2, Double(steps))
        m.withUnsafeMutableBufferPointer { M in
            v.withUnsafeMutableBufferPointer { V in
                for entry in params.entries {
                    let wd = entry.decay ? weightDecay : 0
                    adamUpdate(p: params.values + entry.offset, g: params.gradients + entry.offset, m: M.baseAddress! + entry.offset,
                               v: V.baseAddress! + entry.offset, count: entry.count, lr: lr, beta1: beta1, beta2: beta2, eps: eps,
                               biasCorrection1: bc1, biasCorrection2: bc2, weightDecay: wd, decoupled: decoupled)
                }
            }
        }
    }

    public var state: OptimizerState {
        OptimizerState(arrays: [("m", m.map { Double($0) }), ("v", v.map { Double($0) })], steps: steps)
    }

    public func restore(_ state: OptimizerState) throws {
        let mm = try state.array("m", count: m.count), vv = try state.array("v", count: v.count)
        m = mm.map { T($0) }
        v = vv.map { T($0) }
        steps = state.steps
    }
}

/// RMSProp (Tieleman & Hinton), in PyTorch's formulation (torch.optim.RMSprop without momentum, not centered):
/// v = alpha v + (1 - alpha) g^2; p -= lr g / (sqrt(v) + eps), with v starting at 0 and eps added after the
/// square root. Weight decay is L2 (g += wd p before the update), only for entries marked `decay`.
public final class RMSProp<T: Real>: Optimizer {
    public let params: ParameterStore<T>
    public let alpha: Double, eps: Double, weightDecay: Double
    private var squareAvg: [T]
    public private(set) var steps = 0

    public init(_ params: ParameterStore<T>, alpha: Double = 0.99, eps: Double = 1e-8, weightDecay: Double = 0) {
        precondition(params.isFinalized, "finalize the parameter store before making an optimizer")
        self.params = params
        self.alpha = alpha
        self.eps = eps
        self.weightDecay = weightDecay
        squareAvg = [T](repeating: 0, count: params.count)
    }

    public func step(lr: Double) {
        steps += 1
        squareAvg.withUnsafeMutableBufferPointer { V in
            for entry in params.entries {
                rmspropUpdate(p: params.values + entry.offset, g: params.gradients + entry.offset, squareAvg: V.baseAddress! + entry.offset,
                              count: entry.count, lr: lr, alpha: alpha, eps: eps, weightDecay: entry.decay ? weightDecay : 0)
            }
        }
    }

    public var state: OptimizerState {
        OptimizerState(arrays: [("square_avg", squareAvg.map { Double($0) })], steps: steps)
    }

    public func restore(_ state: OptimizerState) throws {
        squareAvg = try state.array("square_avg", count: squareAvg.count).map { T($0) }
        steps = state.steps
    }
}

/// One Adam(W) update of `count` parameters (see `Adam`). A free function so that it is specialised for Float
/// even when the optimizer is reached through the `Optimizer` existential.
@_specialize(where T == Float)
@_specialize(where T == Double)
func adamUpdate<T: Real>(
    p: UnsafeMutablePointer<T>, g: UnsafeMutablePointer<T>, m: UnsafeMutablePointer<T>, v: UnsafeMutablePointer<T>, count: Int,
    lr: Double, beta1: Double, beta2: Double, eps: Double, biasCorrection1: Double, biasCorrection2: Double,
    weightDecay: Double, decoupled: Bool
) {
    let b1 = T(beta1), b2 = T(beta2), e = T(eps)
    let stepSize = T(lr / biasCorrection1), bc2Root = T(biasCorrection2.squareRoot())
    let wd = T(weightDecay), shrink = T(1 - lr * weightDecay)
    parallelFor(count, grain: 1 << 14) { range in
        if T.self == Float.self {  // the same operations, vectorised
            let o = range.lowerBound
            rb_adam_f32(f32(p + o), f32(g + o), f32(m + o), f32(v + o), range.count, Float(b1), Float(b2), Float(stepSize),
                        Float(bc2Root), Float(e), Float(wd), Float(shrink), decoupled ? 1 : 0)
            return
        }
        for i in range {
            var grad = g[i]
            if decoupled { p[i] *= shrink } else { grad += wd * p[i] }
            m[i] = b1 * m[i] + (1 - b1) * grad
            v[i] = b2 * v[i] + (1 - b2) * grad * grad
            p[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Root + e)
        }
    }
}

/// One SGD-with-momentum update of `count` parameters (see `SGD`).
@_specialize(where T == Float)
@_specialize(where T == Double)
func sgdUpdate<T: Real>(
    p: UnsafeMutablePointer<T>, g: UnsafeMutablePointer<T>, buffer: UnsafeMutablePointer<T>, count: Int,
    lr: Double, momentum: Double, nesterov: Bool, weightDecay: Double, firstStep: Bool
) {
    let mu = T(momentum), rate = T(lr), wd = T(weightDecay)
    parallelFor(count, grain: 1 << 14) { range in
        for i in range {
            var d = g[i] + wd * p[i]
            if momentum != 0 {
                buffer[i] = firstStep ? d : mu * buffer[i] + d
                d = nesterov ? d + mu * buffer[i] : buffer[i]
            }
            p[i] -= rate * d
        }
    }
}

/// One RMSProp update of `count` parameters (see `RMSProp`).
@_specialize(where T == Float)
@_specialize(where T == Double)
func rmspropUpdate<T: Real>(
    p: UnsafeMutablePointer<T>, g: UnsafeMutablePointer<T>, squareAvg: UnsafeMutablePointer<T>, count: Int,
    lr: Double, alpha: Double, eps: Double, weightDecay: Double
) {
    let a = T(alpha), e = T(eps), rate = T(lr), wd = T(weightDecay)
    parallelFor(count, grain: 1 << 14) { range in
        for i in range {
            let grad = g[i] + wd * p[i]
            squareAvg[i] = a * squareAvg[i] + (1 - a) * grad * grad
            p[i] -= rate * (grad / (squareAvg[i].squareRoot() + e))  // torch: addcdiv(p, g, sqrt(v) + eps, value: -lr)
        }
    }
}
