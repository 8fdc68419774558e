import Engine

/// y = x W^T + b, with W [out, in] (PyTorch's layout and names: `<name>.weight`, `<name>.bias`).
public struct Linear<T: Real> {
    public let weight: Tensor<T>
    public let bias: Tensor<T>?

    public init(_ store: ParameterStore<T>, _ name: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true,
                weightInit: Initializer = .xavierUniform, rng: inout Philox) {
        weight = store.make("\(name).weight", [outFeatures, inFeatures], weightInit, rng: &rng)
        self.bias = bias ? store.make("\(name).bias", [outFeatures], .zeros, rng: &rng) : nil
    }

    public func callAsFunction(_ x: Tensor<T>) -> Tensor<T> { linear(x, weight: weight, bias: bias) }
    /// residual + this layer of x, fused (see `linear`).
    public func callAsFunction(_ x: Tensor<T>, residual: Tensor<T>) -> Tensor<T> { linear(x, weight: weight, bias: bias, residual: residual) }
}

/// A lookup table [count, dim] (`<name>.weight`).
public struct Embedding<T: Real> {
    public let weight: Tensor<T>

    public init(_ store: ParameterStore<T>, _ name: String, count: Int, dim: Int, initializer: Initializer = .normal(std: 0.02), rng: inout Philox) {
        weight = store.make("\(name).weight", [count, dim], initializer, rng: &rng, decay: false)
    }

    public func callAsFunction(_ indices: [Int32]) -> Tensor<T> { gather(weight, indices) }
}

/// Layer normalisation over the last dimension (`<name>.weight` = gain, `<name>.bias`).
public struct LayerNorm<T: Real> {
    public let gamma: Tensor<T>
    public let beta: Tensor<T>
    public let eps: T

    public init(_ store: ParameterStore<T>, _ name: String, _ dim: Int, eps: T = 1e-5, rng: inout Philox) {
        gamma = store.make("\(name).weight", [dim], .ones, rng: &rng, decay: false)
        beta = store.make("\(name).bias", [dim], .zeros, rng: &rng, decay: false)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor<T>) -> Tensor<T> { layerNorm(x, gamma: gamma, beta: beta, eps: eps) }
}
