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
    /// Writes its state (moments, step count) under `group`.
    func write(to file: HDF5File, group: String) throws
    func read(from file: HDF5File, group: String) throws
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

    public func write(to file: HDF5File, group: String) throws {
        try file.write(NDArray(buffer.map { Float($0) }), to: "\(group)/momentum")
        try file.write(NDArray([Int64(steps)], shape: []), to: "\(group)/steps")
    }

    public func read(from file: HDF5File, group: String) throws {
        let b = try file.read("\(group)/momentum").doubles
        guard b.count == buffer.count else { throw StoreError("\(file.path): optimizer state has \(b.count) values, the model \(buffer.count)") }
        buffer = b.map { T($0) }
        steps = Int(try file.read("\(group)/steps").int64s[0])
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

    public func write(to file: HDF5File, group: String) throws {
        try file.write(NDArray(m.map { Float($0) }), to: "\(group)/m")
        try file.write(NDArray(v.map { Float($0) }), to: "\(group)/v")
        try file.write(NDArray([Int64(steps)], shape: []), to: "\(group)/steps")
    }

    public func read(from file: HDF5File, group: String) throws {
        let mm = try file.read("\(group)/m").doubles, vv = try file.read("\(group)/v").doubles
        guard mm.count == m.count, vv.count == v.count else {
            throw StoreError("\(file.path): optimizer state has \(mm.count) values, the model \(m.count)")
        }
        m = mm.map { T($0) }
        v = vv.map { T($0) }
        steps = Int(try file.read("\(group)/steps").int64s[0])
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
