import Engine
import Foundation

/// What an attention layer carries from one call to the next when a sequence is fed in pieces (generation,
/// or evaluation with the state carried across windows): softmax attention's KV cache, or a linear kind's state.
public enum AttentionState<T: Real> {
    /// Keys and values of every position so far, per sequence and head: [B x H, positions, D].
    case kv(keys: Tensor<T>, values: Tensor<T>)
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
}

extension AttentionKernel {
    public func projectionWidth(dModel: Int, heads: Int) -> Int { 3 * dModel }
    public var headParameters: Int { 0 }

    public func initialState<T: Real>(batch: Int, heads: Int, dModel: Int) -> AttentionState<T> {
        .kv(keys: Tensor(shape: [batch * heads, 0, dModel / heads]), values: Tensor(shape: [batch * heads, 0, dModel / heads]))
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

    public func attend<T: Real>(_ x: Tensor<T>, heads: Int, headParameters: Tensor<T>?, state: inout AttentionState<T>?) -> Tensor<T> {
        guard let current = state else { return causalSelfAttention(x, heads: heads, blockSize: blockSize) }
        let b = x.shape[0], c = x.shape[2] / 3
        var keys = splitHeads(x, c..<(2 * c), heads: heads), values = splitHeads(x, (2 * c)..<(3 * c), heads: heads)
        if case .kv(let k0, let v0) = current, k0.shape[1] > 0 {
            keys = concat([k0, keys], axis: 1)
            values = concat([v0, values], axis: 1)
        }
        state = .kv(keys: keys, values: values)
        let q = splitHeads(x, 0..<c, heads: heads)
        let tn = q.shape[1], total = keys.shape[1], past = total - tn
        var scores = batchedMatmul(q, keys, transB: true) * (1 / T(c / heads).squareRoot())  // [BH, Tn, total]
        scores = scores.copy()
        for m in 0..<scores.shape[0] {  // new position i sees cached positions < past + i + 1
            for i in 0..<tn { for j in (past + i + 1)..<max(total, past + i + 1) { scores.data[(m * tn + i) * total + j] = -T.infinity } }
        }
        return mergeHeads(batchedMatmul(softmax(scores), values), batch: b, heads: heads)
    }
}
