// Inverted dropout.

/// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
/// The mask comes from `rng` (the dropout stream), so a run is reproducible from its seed and counter.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func dropout<T: Real>(_ x: Tensor<T>, p: Double, rng: inout Philox) -> Tensor<T> {
    precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1)")
    if p == 0 { return x }
    let keep = T(1 / (1 - p))
    let mask = UnsafeMutablePointer<T>.allocate(capacity: max(x.count, 1))
    // Compare 24-bit integers so the mask is the same for Float and Double.
    let threshold = UInt32((p * Double(1 << 24)).rounded())
    let shard = Engine.dropoutShard
    if let shard { rng.skip(shard.index * x.count) }  // the rows of the processes before this one
    for i in 0..<x.count { mask[i] = (rng.nextUInt32() >> 8) < threshold ? 0 : keep }
    if let shard { rng.skip((shard.count - 1 - shard.index) * x.count) }  // and after it
    let y = Tensor<T>(shape: x.shape)
    let X = x.data, Y = y.data
    for i in 0..<x.count { Y[i] = X[i] * mask[i] }
    if let tape = recordingTape(x) {
        y.requiresGrad = true
        let owner = OwnedBuffer(mask)
        tape.record {
            let G = y.grad, D = x.grad
            for i in 0..<x.count { D[i] += G[i] * owner.pointer[i] }
        }
    } else {
        mask.deallocate()
    }
    return y
}
