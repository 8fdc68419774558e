import Engine

/// A one-layer LSTM over a sequence, with PyTorch's parameter layout and names
/// (`<name>.weight_ih_l0` [4H, In], `<name>.weight_hh_l0` [4H, H], `<name>.bias_ih_l0`, `<name>.bias_hh_l0`).
public struct LSTM<T: Real> {
    public let hidden: Int
    public let wIH: Tensor<T>, wHH: Tensor<T>, bIH: Tensor<T>, bHH: Tensor<T>

    public init(_ store: ParameterStore<T>, _ name: String, input: Int, hidden: Int, rng: inout Philox) {
        self.hidden = hidden
        let bound = 1 / Double(hidden).squareRoot()  // PyTorch's default: uniform(-1/sqrt(H), 1/sqrt(H))
        wIH = store.make("\(name).weight_ih_l0", [4 * hidden, input], .uniform(bound: bound), rng: &rng)
        wHH = store.make("\(name).weight_hh_l0", [4 * hidden, hidden], .uniform(bound: bound), rng: &rng)
        bIH = store.make("\(name).bias_ih_l0", [4 * hidden], .uniform(bound: bound), rng: &rng)
        bHH = store.make("\(name).bias_hh_l0", [4 * hidden], .uniform(bound: bound), rng: &rng)
    }

    /// Runs over `steps` ([B, In] each) from zero state; returns every step's hidden state and the final cell.
    public func callAsFunction(_ steps: [Tensor<T>]) -> (outputs: [Tensor<T>], c: Tensor<T>) {
        precondition(!steps.isEmpty, "LSTM over an empty sequence")
        let batch = steps[0].shape[0]
        var h = Tensor<T>(shape: [batch, hidden]), c = Tensor<T>(shape: [batch, hidden])
        var outputs: [Tensor<T>] = []
        for x in steps {
            let gates = linear(x, weight: wIH, bias: bIH) + linear(h, weight: wHH, bias: bHH)
            (h, c) = lstmCell(gates: gates, cPrev: c)
            outputs.append(h)
        }
        return (outputs, c)
    }
}
