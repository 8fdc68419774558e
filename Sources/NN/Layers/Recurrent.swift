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

/// A one-layer GRU with PyTorch's parameter layout and names (`<name>.weight_ih_l0<suffix>` [3H, In],
/// `weight_hh_l0` [3H, H], `bias_ih_l0`, `bias_hh_l0`; suffix `_reverse` for the backward direction of a
/// bidirectional pair), gates in PyTorch's order (r, z, n).
public struct GRU<T: Real> {
    public let hidden: Int
    public let wIH: Tensor<T>, wHH: Tensor<T>, bIH: Tensor<T>, bHH: Tensor<T>

    public init(_ store: ParameterStore<T>, _ name: String, input: Int, hidden: Int, suffix: String = "", rng: inout Philox) {
        self.hidden = hidden
        let bound = 1 / Double(hidden).squareRoot()  // PyTorch's default
        wIH = store.make("\(name).weight_ih_l0\(suffix)", [3 * hidden, input], .uniform(bound: bound), rng: &rng)
        wHH = store.make("\(name).weight_hh_l0\(suffix)", [3 * hidden, hidden], .uniform(bound: bound), rng: &rng)
        bIH = store.make("\(name).bias_ih_l0\(suffix)", [3 * hidden], .uniform(bound: bound), rng: &rng)
        bHH = store.make("\(name).bias_hh_l0\(suffix)", [3 * hidden], .uniform(bound: bound), rng: &rng)
    }

    /// Runs over `steps` positions of a batch of `batch` padded sequences from zero state. `x` holds the inputs
    /// time-major ([steps x batch, In], row t * batch + b); `lengths[b]` is sequence b's real length: a padded
    /// position leaves the state as it was, so the last state is each sequence's state after its last real
    /// position, in either direction (`reverse` runs from the last position to the first, and a right-padded
    /// sequence then starts from zero at its own last position). Returns every position's state ([batch, H]
    /// each, in position order) and the final state.
    public func callAsFunction(_ x: Tensor<T>, steps: Int, batch: Int, lengths: [Int], reverse: Bool = false)
        -> (states: [Tensor<T>], final: Tensor<T>) {
        precondition(steps > 0 && x.shape[0] == steps * batch && lengths.count == batch, "GRU: inputs \(x.shape) for \(steps) x \(batch)")
        let gi = linear(x, weight: wIH, bias: bIH)
        var h = Tensor<T>(shape: [batch, hidden])
        var states = [Tensor<T>?](repeating: nil, count: steps)
        for t in (reverse ? Array((0..<steps).reversed()) : Array(0..<steps)) {
            let next = gruCell(gi: slice(gi, axis: 0, (t * batch)..<((t + 1) * batch)), gh: linear(h, weight: wHH, bias: bHH), hPrev: h)
            if lengths.allSatisfy({ $0 > t }) {
                h = next
            } else {
                let keep = Tensor<T>(shape: [batch, 1], values: lengths.map { $0 > t ? 1 : 0 })
                let hold = Tensor<T>(shape: [batch, 1], values: lengths.map { $0 > t ? 0 : 1 })
                h = next * keep + h * hold
            }
            states[t] = h
        }
        return (states.map { $0! }, h)
    }
}
