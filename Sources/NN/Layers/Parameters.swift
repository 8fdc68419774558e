import Engine
import Foundation

/// How a parameter starts.
public enum Initializer: Sendable {
    case zeros, ones, constant(Double)
    case normal(std: Double)
    case uniform(bound: Double)
    /// Glorot & Bengio: uniform in ±sqrt(6 / (fanIn + fanOut)) for a [fanOut, fanIn] matrix.
    case xavierUniform
    case xavierNormal
    /// The identity matrix (square weights), e.g. the IRNN's recurrent matrix; `scale` times it.
    case identity(scale: Double)
}

/// Every parameter of a model in one flat buffer, with one flat gradient buffer beside it, each named by its
/// path (`blocks.3.attn.qkv.weight`). Layers declare parameters with `make`; `finalize()` then moves them into
/// the flat buffer, and from then on each parameter tensor is a view into it. A checkpoint is the list of named
/// arrays; optimizers run over the whole buffer at once.
public final class ParameterStore<T: Real> {
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public let count: Int
        /// Whether weight decay applies (by default: matrices, not biases, gains or embeddings' norms).
        public let decay: Bool
    }

    public private(set) var entries: [Entry] = []
    public private(set) var tensors: [Tensor<T>] = []
    public private(set) var flat: Storage<T>
    public private(set) var count = 0
    public private(set) var isFinalized = false
    private var index: [String: Int] = [:]

    public init() { flat = Storage(count: 0) }

    /// Declares a parameter, initialised from `rng`.
    public func make(_ name: String, _ shape: [Int], _ initializer: Initializer, rng: inout Philox, decay: Bool? = nil) -> Tensor<T> {
        precondition(!isFinalized, "ParameterStore: '\(name)' declared after finalize()")
        precondition(index[name] == nil, "ParameterStore: '\(name)' declared twice")
        let t = Tensor<T>(shape: shape, requiresGrad: true)
        fill(t, initializer, rng: &rng)
        index[name] = entries.count
        entries.append(Entry(name: name, shape: shape, offset: count, count: t.count, decay: decay ?? (shape.count >= 2)))
        tensors.append(t)
        count += t.count
        return t
    }

    /// Moves every parameter into one flat buffer; the tensors handed out become views into it.
    public func finalize() {
        guard !isFinalized else { return }
        let storage = Storage<T>(count: count)
        for (e, t) in zip(entries, tensors) {
            t.rebind(to: storage, offset: e.offset)
        }
        flat = storage
        isFinalized = true
    }

    public subscript(name: String) -> Tensor<T>? { index[name].map { tensors[$0] } }
    public var names: [String] { entries.map(\.name) }

    public var values: UnsafeMutablePointer<T> { precondition(isFinalized); return flat.data }
    public var gradients: UnsafeMutablePointer<T> { precondition(isFinalized); return flat.grad }

    /// Zeroes every gradient before a step's backward pass adds to them; the flat buffer is cleared over the engine's
    /// threads (a serial clear of T12's 153 MB of gradients was 0.5% of its step, with the other thread idle).
    public func zeroGrad() {
        guard isFinalized else { tensors.forEach { $0.zeroGrad() }; return }
        let grad = flat.grad
        parallelFor(max(count, 1), grain: 1 << 16) { r in (grad + r.lowerBound).update(repeating: 0, count: r.count) }
    }

    private func fill(_ t: Tensor<T>, _ initializer: Initializer, rng: inout Philox) {
        let (fanOut, fanIn) = (t.shape.first ?? 1, t.shape.count >= 2 ? t.shape[1...].reduce(1, *) : 1)
        switch initializer {
        case .zeros: t.fill(0)
        case .ones: t.fill(1)
        case .constant(let v): t.fill(T(v))
        case .normal(let std): for i in 0..<t.count { t.data[i] = T(rng.normal() * std) }
        case .uniform(let b): for i in 0..<t.count { t.data[i] = T((rng.uniformDouble() * 2 - 1) * b) }
        case .xavierUniform:
            let b = (6.0 / Double(fanIn + fanOut)).squareRoot()
            for i in 0..<t.count { t.data[i] = T((rng.uniformDouble() * 2 - 1) * b) }
        case .xavierNormal:
            let std = (2.0 / Double(fanIn + fanOut)).squareRoot()
            for i in 0..<t.count { t.data[i] = T(rng.normal() * std) }
        case .identity(let scale):
            precondition(t.rank == 2 && t.shape[0] == t.shape[1], "identity init needs a square matrix, got \(t.shape)")
            t.fill(0)
            for i in 0..<t.shape[0] { t.data[i * t.shape[0] + i] = T(scale) }
        }
    }
}
