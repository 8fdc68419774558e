import CRuntime
import Foundation

/// Memory for one or more tensors: values and, allocated on first use, their gradients.
/// Views (reshape) and the parameters of a model share one `Storage`.
public final class Storage<T: Real> {
    public let count: Int
    public let data: UnsafeMutablePointer<T>
    private var gradPointer: UnsafeMutablePointer<T>?

    /// Zero-filled memory, or (`zeroed: false`) memory whose contents are undefined, for ops that write every
    /// element before anything reads it.
    public init(count: Int, zeroed: Bool = true) {
        self.count = count
        data = TensorMemory.allocate(T.self, count: max(count, 1))
        if zeroed { data.initialize(repeating: 0, count: max(count, 1)) }
    }

    deinit {
        TensorMemory.release(data)
        if let g = gradPointer { TensorMemory.release(g) }
    }

    /// The gradient buffer, zero-filled when first touched.
    public var grad: UnsafeMutablePointer<T> {
        if let g = gradPointer { return g }
        let g = TensorMemory.allocate(T.self, count: max(count, 1))
        g.initialize(repeating: 0, count: max(count, 1))
        gradPointer = g
        return g
    }
    /// The gradient buffer, uninitialised, for a backward kernel that assigns every element before anything
    /// reads it; only while no gradient exists yet (see `Tensor.gradForWriting`).
    func uninitialisedGrad() -> UnsafeMutablePointer<T> {
        precondition(gradPointer == nil, "uninitialisedGrad: the gradient already exists")
        let g = TensorMemory.allocate(T.self, count: max(count, 1))
        gradPointer = g
        return g
    }
    public var hasGrad: Bool { gradPointer != nil }
    public func zeroGrad() { gradPointer?.update(repeating: 0, count: count) }
}

/// Tensor memory on a 64-byte boundary (a cache line, an AVX-512 vector), so that a BLAS whose code path depends
/// on its operands' alignment (oneMKL) takes the same path in every run, whatever malloc returns. It comes from
/// plain malloc, aligned by hand (rb_alloc64): glibc's memalign fragmented a training step's heap (the kernel's
/// page clearing and faults took ~9% of a step), and a pool of freed blocks kept by size was no faster but
/// doubled the peak memory of runs whose tensor shapes vary from step to step.
enum TensorMemory {
    @inline(__always)
    static func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = count * MemoryLayout<T>.stride
        guard let p = rb_alloc64(bytes) else { fatalError("out of memory: \(bytes) bytes for a tensor") }
        return p.bindMemory(to: T.self, capacity: count)
    }

    @inline(__always)
    static func release<T>(_ p: UnsafeMutablePointer<T>) { rb_free64(p) }
}

/// A dense, row-major tensor: a shape over a range of a `Storage`.
public final class Tensor<T: Real> {
    public let shape: [Int]
    public let count: Int
    public internal(set) var storage: Storage<T>
    public internal(set) var offset: Int
    /// Whether backward passes compute a gradient for this tensor.
    public var requiresGrad: Bool

    /// A zero-filled tensor; `uninitialized: true` skips the fill, for op outputs written in full.
    public init(shape: [Int], requiresGrad: Bool = false, uninitialized: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        storage = Storage(count: count, zeroed: !uninitialized)
        offset = 0
        self.requiresGrad = requiresGrad
    }

    public convenience init(shape: [Int], values: [T], requiresGrad: Bool = false) {
        self.init(shape: shape, requiresGrad: requiresGrad)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor over existing storage (a view); shares values and gradients.
    public init(shape: [Int], storage: Storage<T>, offset: Int, requiresGrad: Bool) {
        self.shape = shape
        count = shape.reduce(1, *)
        precondition(offset + count <= storage.count, "view out of range")
        self.storage = storage
        self.offset = offset
        self.requiresGrad = requiresGrad
    }

    /// Moves this tensor onto `storage` at `offset` (copying its values there): how a parameter store packs its
    /// parameters into one flat buffer.
    public func rebind(to storage: Storage<T>, offset: Int) {
        precondition(offset + count <= storage.count, "rebind out of range")
        (storage.data + offset).update(from: data, count: count)
        self.storage = storage
        self.offset = offset
    }

    public var data: UnsafeMutablePointer<T> { storage.data + offset }
    public var grad: UnsafeMutablePointer<T> { storage.grad + offset }

    /// The gradient buffer for a backward kernel that writes every one of this tensor's `count` elements, and
    /// whether it must assign (`true`: the first gradient this tensor's whole storage receives, in uninitialised
    /// memory, so no zero fill and no read of zeros) or add (`false`: the buffer exists, or the tensor is a view of
    /// part of its storage). Assigning v gives what adding v to zero gives.
    @inline(__always)
    public func gradForWriting() -> (pointer: UnsafeMutablePointer<T>, assign: Bool) {
        if offset == 0 && count == storage.count && count > 0 && !storage.hasGrad { return (storage.uninitialisedGrad(), true) }
        return (grad, false)
    }
    public var rank: Int { shape.count }

    public var values: [T] { Array(UnsafeBufferPointer(start: data, count: count)) }
    public var gradValues: [T] { Array(UnsafeBufferPointer(start: grad, count: count)) }
    public var scalar: T { precondition(count == 1); return data[0] }

    public func fill(_ value: T) { data.update(repeating: value, count: count) }
    public func zeroGrad() { if storage.hasGrad { grad.update(repeating: 0, count: count) } }

    /// A copy with its own storage, not recorded on any tape.
    public func copy() -> Tensor<T> {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// The same values in another scalar type (e.g. Float -> Double for gradient checks).
    public func converted<U: Real>(to: U.Type) -> Tensor<U> {
        let t = Tensor<U>(shape: shape, requiresGrad: requiresGrad)
        for i in 0..<count { t.data[i] = U(data[i]) }
        return t
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = values.prefix(8).map { String(format: "%.5g", Double($0)) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 8 ? ", …" : "")]"
    }
}
