/// Activation recomputation ("gradient checkpointing") of one segment of a model, e.g. a transformer block.
///
/// While a tape records, `body` runs without recording: its intermediate activations are freed as it goes and only
/// `x` (and the output) are kept. One entry is recorded instead; in the backward pass it runs `body` on `x`'s
/// values again under its own tape, seeds the output with the gradient the output received, and backpropagates
/// through the segment. The segment's parameters get their gradients directly, in the same order as without
/// recomputation, and `x`'s gradient buffer is handed through the segment (seeded with what `x` had received, so
/// the sums run in the same order), which makes losses and gradients bit-identical to a run without
/// recomputation, for one extra forward pass of the segment.
///
/// `body` must compute the same values when called again: a segment that draws dropout masks must draw them
/// from a copy of the generator's state taken before the first call.
public func recomputed<T: Real>(_ x: Tensor<T>, _ body: @escaping (Tensor<T>) -> Tensor<T>) -> Tensor<T> {
    guard let tape = Tape.current else { return body(x) }
    let y = Tape.withoutRecording { body(x) }
    y.requiresGrad = true
    tape.record {
        let input = Tensor<T>(shape: x.shape, values: x.values, requiresGrad: true)
        if x.requiresGrad { input.grad.update(from: x.grad, count: x.count) }
        let segment = Tape()
        let again = segment.recording { body(input) }
        precondition(again.shape == y.shape, "recomputed: the segment gave \(again.shape) the second time, \(y.shape) the first")
        again.grad.update(from: y.grad, count: y.count)
        segment.backwardFromSeededGradients()
        if x.requiresGrad { x.grad.update(from: input.grad, count: x.count) }
    }
    return y
}
