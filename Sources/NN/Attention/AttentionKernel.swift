import Engine
import Foundation

/// What an attention layer carries from one call to the next when a sequence is fed in pieces (generation,
/// or evaluation with the state carried across windows): softmax attention's KV cache, or a linear kind's state.
public enum AttentionState<T: Real> {
    /// Keys and values of every position so far, per sequence and head: [B x H, capacity, D], of which the
    /// first `count` positions are filled. The capacity doubles when it runs out, so appending a position costs
    /// amortised O(1) copies rather than a copy of the whole cache.
    case kv(keys: Tensor<T>, values: Tensor<T>, count: Int)
    case linear(LinearState<T>)
}

/// An attention kind inside a transformer block: it maps the block's input projection x [B, T, W]
/// (W = `projectionWidth`: queries, keys, values and any gates of every head) to the attended values
/// [B, T, heads x d_v], causally (position t sees positions <= t). With a `state`, the positions of x follow
/// the ones the state has seen, and the state is advanced past them.
public protocol AttentionKernel: Sendable {
    var name: String { get }
    /// Width of the input projection per position.
    func projectionWidth(dModel: Int, heads: Int) -> Int
    /// Learned values per head that are not part of the projection (e.g. a decay), declared by the block.
    var headParameters: Int { get }
    func attend<T: Real>(_ x: Tensor<T>, heads: Int, headParameters: Tensor<T>?, state: inout AttentionState<T>?) -> Tensor<T>
    /// The state before a sequence's first position (an empty KV cache, a zero linear state).
    func initialState<T: Real>(batch: Int, heads: Int, dModel: Int) -> AttentionState<T>
    /// Values per token a training step keeps from forward to backward beyond the projection (memory estimates).
    func keptValuesPerToken(length: Int, dModel: Int, heads: Int) -> Int
}

extension AttentionKernel {
    public func projectionWidth(dModel: Int, heads: Int) -> Int { 3 * dModel }
    public var headParameters: Int { 0 }
    public func keptValuesPerToken(length: Int, dModel: Int, heads: Int) -> Int { 0 }

    public func initialState<T: Real>(batch: Int, heads: Int, dModel: Int) -> AttentionState<T> {
        .kv(keys: Tensor(shape: [batch * heads, 0, dModel / heads]), values: Tensor(shape: [batch * heads, 0, dModel / heads]), count: 0)
    }

    /// The whole sequence at once, no state.
    public func attend<T: Real>(_ qkv: Tensor<T>, heads: Int) -> Tensor<T> {
        var none: AttentionState<T>? = nil
        return attend(qkv, heads: heads, headParameters: nil, state: &none)
    }
}

/// [B, T, W] columns `range` (heads x d each) -> [B x H, T, d].
func splitHeads<T: Real>(_ x: Tensor<T>, _ range: Range<Int>, heads: Int) -> Tensor<T> {
    let b = x.shape[0], t = x.shape[1], d = range.count / heads
    return reshape(permute(reshape(slice(x, axis: 2, range), [b, t, heads, d]), [0, 2, 1, 3]), [b * heads, t, d])
}

/// [B x H, T, d] -> [B, T, H x d].
func mergeHeads<T: Real>(_ x: Tensor<T>, batch b: Int, heads: Int) -> Tensor<T> {
    let t = x.shape[1], d = x.shape[2]
    return reshape(permute(reshape(x, [b, heads, t, d]), [0, 2, 1, 3]), [b, t, heads * d])
}

/// Scaled dot-product softmax attention, computed blockwise (see `causalSelfAttention`). Its state is a KV
/// cache; with one it attends from the new positions to every cached one (generation; no gradients).
public struct SoftmaxAttention: AttentionKernel {
    public var blockSize: Int
    public init(blockSize: Int = 64) { self.blockSize = blockSize }
    public var name: String { "softmax" }
    /// The strips of scores kept for short contexts (see `attentionKeepsScores`).
    public func keptValuesPerToken(length: Int, dModel: Int, heads: Int) -> Int {
        attentionKeptScoresPerToken(heads: heads, length: length, width: dModel, blockSize: blockSize)
    }

    public func attend<T: Real>(_ x: Tensor<T>, heads: Int, headParameters: Tensor<T>?, state: inout AttentionState<T>?) -> Tensor<T> {
        guard let current = state else { return causalSelfAttention(x, heads: heads, blockSize: blockSize) }
        guard case .kv(var keys, var values, let count) = current else { preconditionFailure("softmax attention keeps a KV cache") }
        let b = x.shape[0], c = x.shape[2] / 3, d = c / heads, bh = b * heads
        let q = splitHeads(x, 0..<c, heads: heads), newKeys = splitHeads(x, c..<(2 * c), heads: heads)
        let newValues = splitHeads(x, (2 * c)..<(3 * c), heads: heads)
        let tn = q.shape[1], total = count + tn
        if keys.shape[1] < total {  // grow: double the capacity, keep the filled positions
            let capacity = max(total, 2 * keys.shape[1], 64), old = keys.shape[1]
            let k2 = Tensor<T>(shape: [bh, capacity, d]), v2 = Tensor<T>(shape: [bh, capacity, d])
            for m in 0..<bh {
                (k2.data + m * capacity * d).update(from: keys.data + m * old * d, count: count * d)
                (v2.data + m * capacity * d).update(from: values.data + m * old * d, count: count * d)
            }
            keys = k2
            values = v2
        }
        let capacity = keys.shape[1]
        for m in 0..<bh {
            (keys.data + (m * capacity + count) * d).update(from: newKeys.data + m * tn * d, count: tn * d)
            (values.data + (m * capacity + count) * d).update(from: newValues.data + m * tn * d, count: tn * d)
        }
        state = .kv(keys: keys, values: values, count: total)
        // Each new position i attends to the positions before count + i + 1, straight from the cache (no copy of
        // it, no matrix packing); sequences and heads in parallel.
        let out = Tensor<T>(shape: [bh, tn, d])
        let scale = T(1 / Double(d).squareRoot())
        let weights = Tensor<T>(shape: [bh, total], uninitialized: true)
        parallelFor(bh, grain: 1) { heads in
            for m in heads {
                for i in 0..<tn {
                    decodeOne(q: q.data + (m * tn + i) * d, keys: keys.data + m * capacity * d, values: values.data + m * capacity * d,
                              total: count + i + 1, d: d, scale: scale, weights: weights.data + m * total, out: out.data + (m * tn + i) * d)
                }
            }
        }
        return mergeHeads(out, batch: b, heads: heads)
    }
}

/// Attention of one query over the first `total` cached positions of one head: out = softmax(scale K q) V, with `weights`
/// (at least `total` long) as scratch.
@_specialize(where T == Float)
@_specialize(where T == Double)
func decodeOne<T: Real>(q: UnsafePointer<T>, keys: UnsafePointer<T>, values: UnsafePointer<T>, total: Int, d: Int, scale: T,
                        weights: UnsafeMutablePointer<T>, out: UnsafeMutablePointer<T>) {
    var top = -T.infinity
    for j in 0..<total {
        let k = keys + j * d
        var dot: T = 0
        for c in 0..<d { dot += q[c] * k[c] }
        weights[j] = dot * scale
        top = max(top, weights[j])
    }
    var sum: T = 0
    for j in 0..<total { weights[j] = T.exp(weights[j] - top); sum += weights[j] }
    for c in 0..<d { out[c] = 0 }
    for j in 0..<total {
        let v = values + j * d, a = weights[j] / sum
        for c in 0..<d { out[c] += a * v[c] }
    }
}

