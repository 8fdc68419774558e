import Engine
import Foundation

/// The Associative LSTM (Danihelka, Wayne, Uria, Kalchbrenner, Graves 2016; "A-LSTM" in Ba et al. 2016's Table 1):
/// an LSTM whose cell is a holographic associative memory. R real hidden units hold N = R/2 complex units, a
/// complex vector stored as R reals [re(0..<N) | im(0..<N)]:
///
///     a_t = W_ih x_t + W_hh h_{t-1} + b                       G = 3N + 3R rows: f, i, o (N each), u, r_i, r_o (R each)
///     g_f, g_i, g_o = sigmoid(a_f, a_i, a_o)                  real, one gate scaling both halves of its unit
///     u = bound(a_u), r_i = bound(a_ri), r_o = bound(a_ro)   bound(z)_k = z_k / sqrt(max(1, |z_k|^2))
///     c_{s,t} = g_f * c_{s,t-1} + (P_s r_i) (x) (g_i * u)     copy s = 0 ..< copies, (P_s r)_k = r_{perm[s][k]}
///     h_t = g_o * bound( mean_s (P_s r_o) (x) c_{s,t} )       (x): elementwise complex product; no conjugate
///
/// Conventions (scripts/make_alstm_fixture.py says where each comes from): the read uses r_o itself (as in
/// mpezeshki/Associative_LSTM's AssociativeLSTM brick and juesato/rnn); copies are averaged before one bound();
/// permutations act on complex units, the same for r_i and r_o; copy 0 is unpermuted; h_0 = 0, c_0 = 0.
/// A step is two products and the fused kernel `associativeLSTMCell`; `composed` is the same layer built from
/// plain engine ops (the fused kernel's naive twin, its gradients the tape's), and `associativeLSTMNaive` a scalar
/// twin of both.
public struct AssociativeLSTM<T: Real> {
    public let hidden: Int
    public let copies: Int
    public let wIH: Tensor<T>, wHH: Tensor<T>, bias: Tensor<T>
    /// permutations[s][k]: the complex unit of the key that copy s uses at unit k.
    public let permutations: [[Int]]
    /// Every copy's permutation as one [R, copies x R] matrix acting on [re | im] rows (x P gathers; copy 0's is
    /// the identity), so that one product permutes a key for all copies.
    let permutationMatrix: Tensor<T>

    public static func gateRows(hidden r: Int) -> Int { 3 * (r / 2) + 3 * r }

    /// Declares `<name>.weight_ih` [G, In], `<name>.weight_hh` [G, R], `<name>.bias` [G] (uniform in
    /// +-1/sqrt(R), as the LSTM here and Ba et al.'s appendix), and draws copies - 1 fixed random permutations.
    public init(_ store: ParameterStore<T>, _ name: String, input: Int, hidden: Int, copies: Int, rng: inout Philox) {
        precondition(hidden % 2 == 0 && hidden > 0, "AssociativeLSTM: the hidden size \(hidden) must be even (R/2 complex units)")
        precondition(copies >= 1, "AssociativeLSTM: at least one copy")
        let g = Self.gateRows(hidden: hidden), bound = 1 / Double(hidden).squareRoot()
        let w1 = store.make("\(name).weight_ih", [g, input], .uniform(bound: bound), rng: &rng)
        let w2 = store.make("\(name).weight_hh", [g, hidden], .uniform(bound: bound), rng: &rng)
        let b = store.make("\(name).bias", [g], .uniform(bound: bound), rng: &rng)
        let n = hidden / 2
        var perms = [Array(0..<n)]
        for _ in 1..<copies {
            var p = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, rng.below(i + 1)) }  // Fisher-Yates
            perms.append(p)
        }
        self.init(hidden: hidden, wIH: w1, wHH: w2, bias: b, permutations: perms)
    }

    /// A layer over given tensors and permutations (tests, the reference fixture).
    public init(hidden: Int, wIH: Tensor<T>, wHH: Tensor<T>, bias: Tensor<T>, permutations: [[Int]]) {
        self.hidden = hidden
        self.copies = permutations.count
        self.wIH = wIH
        self.wHH = wHH
        self.bias = bias
        self.permutations = permutations
        let n = hidden / 2
        let width = hidden * permutations.count
        var m = [T](repeating: 0, count: hidden * width)
        for (s, p) in permutations.enumerated() {
            for k in 0..<n {
                m[p[k] * width + s * hidden + k] = 1  // (r P_s)[k] = r[p[k]], for the real and the imaginary half
                m[(p[k] + n) * width + s * hidden + k + n] = 1
            }
        }
        permutationMatrix = Tensor(shape: [hidden, width], values: m)
    }

    public typealias Output = (outputs: [Tensor<T>], cells: [Tensor<T>])

    public func callAsFunction(_ steps: [Tensor<T>]) -> Output {
        precondition(!steps.isEmpty, "AssociativeLSTM over an empty sequence")
        let b = steps[0].shape[0]
        var h = Tensor<T>(shape: [b, hidden])
        var cells = Tensor<T>(shape: [b, copies, hidden])
        var outputs: [Tensor<T>] = []
        for x in steps {
            let a = linear(x, weight: wIH, bias: bias) + linear(h, weight: wHH, bias: nil)
            (h, cells) = associativeLSTMCell(gates: a, cells: cells, permutations: permutations)
            outputs.append(h)
        }
        return (outputs, (0..<copies).map { reshape(slice(cells, axis: 1, $0..<($0 + 1)), [b, hidden]) })
    }

    /// The same layer composed from plain ops (slices, products, sums): the fused kernel's twin.
    public func composed(_ steps: [Tensor<T>]) -> Output {
        precondition(!steps.isEmpty, "AssociativeLSTM over an empty sequence")
        let b = steps[0].shape[0], r = hidden, n = r / 2
        var h = Tensor<T>(shape: [b, r])
        var cells = Tensor<T>(shape: [b, copies, r])  // every copy at once
        var outputs: [Tensor<T>] = []
        func both(_ gate: Tensor<T>) -> Tensor<T> { concat([gate, gate], axis: 1) }
        func permuted(_ key: Tensor<T>) -> Tensor<T> { reshape(matmul(key, permutationMatrix), [b, copies, r]) }
        for x in steps {
            let a = linear(x, weight: wIH, bias: bias) + linear(h, weight: wHH, bias: nil)
            let f = both(sigmoid(slice(a, axis: 1, 0..<n))), i = both(sigmoid(slice(a, axis: 1, n..<(2 * n))))
            let o = both(sigmoid(slice(a, axis: 1, (2 * n)..<(3 * n))))
            let u = complexBound(slice(a, axis: 1, (3 * n)..<(3 * n + r)))
            let ri = complexBound(slice(a, axis: 1, (3 * n + r)..<(3 * n + 2 * r)))
            let ro = complexBound(slice(a, axis: 1, (3 * n + 2 * r)..<(3 * n + 3 * r)))
            cells = reshape(f, [b, 1, r]) * cells + complexProduct(permuted(ri), reshape(i * u, [b, 1, r]))
            h = o * complexBound(mean(complexProduct(permuted(ro), cells), axis: 1))
            outputs.append(h)
        }
        return (outputs, (0..<copies).map { reshape(slice(cells, axis: 1, $0..<($0 + 1)), [b, r]) })
    }
}

/// (a + ib)(c + id) per unit, for tensors whose last axis holds [re | im] (broadcasting like `*`).
public func complexProduct<T: Real>(_ x: Tensor<T>, _ y: Tensor<T>) -> Tensor<T> {
    let ax = x.rank - 1, ay = y.rank - 1, n = x.shape[ax] / 2
    let a = slice(x, axis: ax, 0..<n), b = slice(x, axis: ax, n..<(2 * n))
    let c = slice(y, axis: ay, 0..<n), d = slice(y, axis: ay, n..<(2 * n))
    return concat([a * c - b * d, a * d + b * c], axis: max(ax, ay))
}

/// z_k / sqrt(max(1, |z_k|^2)) per complex unit of a tensor whose last axis holds [re | im]: units inside the
/// unit circle pass unchanged, the others are scaled onto it (smooth in z: no sqrt at 0).
public func complexBound<T: Real>(_ z: Tensor<T>) -> Tensor<T> {
    let ax = z.rank - 1, n = z.shape[ax] / 2
    let re = slice(z, axis: ax, 0..<n), im = slice(z, axis: ax, n..<(2 * n))
    let modulus2 = re * re + im * im
    let scale = exp(log(relu(modulus2 + T(-1)) + T(1)) * T(-0.5))  // 1 / sqrt(max(1, |z|^2))
    return z * concat([scale, scale], axis: ax)
}

/// The same function on plain arrays, one scalar at a time (no tape): the twin `AssociativeLSTM` is tested against.
/// Weights row-major as in the layer; x[t][b][j]. Returns h[t][b][k] and the final cells[s][b][k].
public func associativeLSTMNaive(x: [[[Double]]], wIH: [Double], wHH: [Double], bias: [Double], hidden r: Int,
                                 permutations: [[Int]]) -> (h: [[[Double]]], cells: [[[Double]]]) {
    let n = r / 2, g = AssociativeLSTM<Double>.gateRows(hidden: r), input = x[0][0].count, batch = x[0].count
    func sig(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
    func bound(_ re: Double, _ im: Double) -> (Double, Double) {
        let m = max(1, re * re + im * im).squareRoot()
        return (re / m, im / m)
    }
    var h = [[Double]](repeating: [Double](repeating: 0, count: r), count: batch)
    var cells = [[[Double]]](repeating: h, count: permutations.count)
    var out: [[[Double]]] = []
    for xt in x {
        var next = h
        for bi in 0..<batch {
            var a = [Double](repeating: 0, count: g)
            for row in 0..<g {
                var v = bias[row]
                for j in 0..<input { v += wIH[row * input + j] * xt[bi][j] }
                for j in 0..<r { v += wHH[row * r + j] * h[bi][j] }
                a[row] = v
            }
            var u = [(Double, Double)](), ri = u, ro = u
            for k in 0..<n {
                u.append(bound(a[3 * n + k], a[3 * n + n + k]))
                ri.append(bound(a[3 * n + r + k], a[3 * n + r + n + k]))
                ro.append(bound(a[3 * n + 2 * r + k], a[3 * n + 2 * r + n + k]))
            }
            for k in 0..<n {
                let f = sig(a[k]), i = sig(a[n + k]), o = sig(a[2 * n + k])
                var readRe = 0.0, readIm = 0.0
                for (s, p) in permutations.enumerated() {
                    let (kr, ki) = ri[p[k]], (wr, wi) = (i * u[k].0, i * u[k].1)
                    let cr = f * cells[s][bi][k] + kr * wr - ki * wi
                    let ci = f * cells[s][bi][n + k] + kr * wi + ki * wr
                    cells[s][bi][k] = cr
                    cells[s][bi][n + k] = ci
                    let (or, oi) = ro[p[k]]
                    readRe += or * cr - oi * ci
                    readIm += or * ci + oi * cr
                }
                let c = Double(permutations.count)
                let (br, bim) = bound(readRe / c, readIm / c)
                next[bi][k] = o * br
                next[bi][n + k] = o * bim
            }
        }
        h = next
        out.append(h)
    }
    return (out, cells)
}
