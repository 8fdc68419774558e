import Engine

/// An attention kind: maps the packed projections qkv [B, T, 3C] (q | k | v, each C = heads x headDim, head h
/// in columns h*D ..< (h+1)*D) to the attended values [B, T, C], causally (position t sees positions <= t).
/// Softmax attention is the first kind; the linear family (parallel, chunked and recurrent forms) plugs in here.
public protocol AttentionKernel: Sendable {
    var name: String { get }
    func attend<T: Real>(_ qkv: Tensor<T>, heads: Int) -> Tensor<T>
}

/// Scaled dot-product softmax attention, computed blockwise (see `causalSelfAttention`).
public struct SoftmaxAttention: AttentionKernel {
    public var blockSize: Int
    public init(blockSize: Int = 64) { self.blockSize = blockSize }
    public var name: String { "softmax" }
    public func attend<T: Real>(_ qkv: Tensor<T>, heads: Int) -> Tensor<T> {
        causalSelfAttention(qkv, heads: heads, blockSize: blockSize)
    }
}
