/// Reverse-mode autodiff over coarse ops.
///
/// While a tape is active (`Tape.current`), each op whose inputs require gradients records its backward kernel
/// as a closure. `backward(from:)` seeds the loss gradient with 1 and runs the closures in reverse order; every
/// backward kernel *accumulates* (`+=`) into its inputs' gradients. With no active tape (evaluation) nothing is
/// recorded and intermediate activations are freed as soon as they go out of scope.
public final class Tape {
    nonisolated(unsafe) public static var current: Tape?
    private var entries: [() -> Void] = []

    public init() {}

    public var count: Int { entries.count }

    public func record(_ backward: @escaping () -> Void) { entries.append(backward) }

    /// Runs every recorded backward kernel in reverse order. Each kernel is dropped as soon as it has run, so
    /// the activations and gradient buffers only it still referenced are freed during the backward pass rather
    /// than at its end (a lower peak memory for deep models).
    public func backward<T: Real>(from loss: Tensor<T>, seed: T = 1) {
        precondition(loss.count == 1, "backward(from:) needs a scalar loss, got \(loss.shape)")
        loss.grad[0] += seed
        while let entry = entries.popLast() { entry() }
    }

    /// Runs every recorded backward kernel in reverse order, the outputs' gradients already seeded by the caller
    /// (`recomputed` seeds a block's output with the gradient it received).
    public func backwardFromSeededGradients() {
        while let entry = entries.popLast() { entry() }
    }

    public func reset() { entries.removeAll(keepingCapacity: true) }

    /// Runs `body` with this tape recording; restores the previous tape afterwards.
    public func recording<R>(_ body: () throws -> R) rethrows -> R {
        let previous = Tape.current
        Tape.current = self
        defer { Tape.current = previous }
        return try body()
    }

    /// Runs `body` with no tape: evaluation mode.
    public static func withoutRecording<R>(_ body: () throws -> R) rethrows -> R {
        let previous = Tape.current
        Tape.current = nil
        defer { Tape.current = previous }
        return try body()
    }
}

/// The tape to record on, if any input needs a gradient.
@inline(__always)
public func recordingTape<T>(_ inputs: Tensor<T>...) -> Tape? { recordingTape(inputs) }

@inline(__always)
public func recordingTape<T>(_ inputs: [Tensor<T>]) -> Tape? {
    guard let tape = Tape.current else { return nil }
    return inputs.contains { $0.requiresGrad } ? tape : nil
}
