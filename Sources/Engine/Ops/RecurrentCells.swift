import CRuntime
// Recurrent cells. The matrix products (input and recurrent projections) are `linear` calls; the fused kernels
// here do the pointwise part of a step, forward and backward, in one pass.

/// LSTM step, pointwise part. gates [N, 4H] = x W_ih^T + b_ih + h W_hh^T + b_hh in PyTorch's order
/// (input i, forget f, cell g, output o); cPrev [N, H]. Returns (h, c):
/// c = sigmoid(f) * cPrev + sigmoid(i) * tanh(g), h = sigmoid(o) * tanh(c).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func lstmCell<T: Real>(gates: Tensor<T>, cPrev: Tensor<T>) -> (h: Tensor<T>, c: Tensor<T>) {
    let n = cPrev.shape[0], hs = cPrev.shape[1]
    precondition(gates.shape == [n, 4 * hs], "lstmCell: gates \(gates.shape) should be [\(n), \(4 * hs)]")
    let h = Tensor<T>(shape: [n, hs], uninitialized: true), c = Tensor<T>(shape: [n, hs], uninitialized: true)
    let G = gates.data, CP = cPrev.data, H = h.data, C = c.data
    // The activated gates (i, f, g, o) and tanh(c), computed once and kept for backward.
    let act = UnsafeMutablePointer<T>.allocate(capacity: max(n * 4 * hs, 1))
    let tc = UnsafeMutablePointer<T>.allocate(capacity: max(n * hs, 1))
    activateGates(G, act, rows: n, hidden: hs)
    for r in 0..<n {
        let a = act + r * 4 * hs, cp = CP + r * hs, cr = C + r * hs
        for j in 0..<hs { cr[j] = a[hs + j] * cp[j] + a[j] * a[2 * hs + j] }
    }
    tanhArray(C, tc, n * hs)
    for r in 0..<n {
        let o = act + r * 4 * hs + 3 * hs, t = tc + r * hs, hr = H + r * hs
        for j in 0..<hs { hr[j] = o[j] * t[j] }
    }
    let savedAct = OwnedBuffer(act), savedTC = OwnedBuffer(tc)
    if let tape = recordingTape(gates, cPrev) {
        h.requiresGrad = true
        c.requiresGrad = true
        tape.record {
            let dH = h.grad, dC = c.grad, act = savedAct.pointer, tc = savedTC.pointer
            let dG = gates.requiresGrad ? gates.grad : nil, dCP = cPrev.requiresGrad ? cPrev.grad : nil
            for r in 0..<n {
                let a = act + r * 4 * hs
                for j in 0..<hs {
                    let idx = r * hs + j
                    let i = a[j], f = a[hs + j], gg = a[2 * hs + j], o = a[3 * hs + j], t = tc[idx]
                    let dc = dC[idx] + dH[idx] * o * (1 - t * t)
                    if let dG {
                        let dg = dG + r * 4 * hs
                        dg[j] += dc * gg * i * (1 - i)
                        dg[hs + j] += dc * CP[idx] * f * (1 - f)
                        dg[2 * hs + j] += dc * i * (1 - gg * gg)
                        dg[3 * hs + j] += dH[idx] * t * o * (1 - o)
                    }
                    dCP?[idx] += dc * f
                }
            }
        }
    }
    return (h, c)
}

/// out = sigmoid of the i, f, o quarters and tanh of the g quarter of each [4H] row. Float goes through the
/// vectorised tanh (sigmoid(x) = (1 + tanh(x / 2)) / 2); Double through libm.
@inline(__always)
private func activateGates<T: Real>(_ g: UnsafeMutablePointer<T>, _ out: UnsafeMutablePointer<T>, rows n: Int, hidden hs: Int) {
    let w = 4 * hs
    if T.self == Float.self {
        // tanh of (x / 2 for i, f, o; x for g), out of place: the kernel only vectorises when input and output differ.
        let half = UnsafeMutablePointer<T>.allocate(capacity: max(n * w, 1))
        defer { half.deallocate() }
        for r in 0..<n {
            let src = g + r * w, dst = half + r * w
            for j in 0..<w { dst[j] = src[j] * 0.5 }
            (dst + 2 * hs).update(from: src + 2 * hs, count: hs)
        }
        tanhArray(half, out, n * w)
        for r in 0..<n {
            let row = out + r * w
            for j in 0..<(2 * hs) { row[j] = 0.5 + 0.5 * row[j] }
            for j in (3 * hs)..<w { row[j] = 0.5 + 0.5 * row[j] }
        }
    } else {
        for r in 0..<n {
            let src = g + r * w, dst = out + r * w
            for j in 0..<w { dst[j] = j / hs == 2 ? T.tanh(src[j]) : sigmoidScalar(src[j]) }
        }
    }
}

/// y = tanh(x) elementwise (x and y distinct for the vectorised path): the vectorised kernel for Float, libm for Double.
@inline(__always)
func tanhArray<T: Real>(_ x: UnsafeMutablePointer<T>, _ y: UnsafeMutablePointer<T>, _ count: Int) {
    if T.self == Float.self {
        rb_tanh_f32(f32(x), f32(y), count)
    } else {
        for i in 0..<count { y[i] = T.tanh(x[i]) }
    }
}

/// The LSTM step composed from plain ops: the naive twin.
public func lstmCellNaive<T: Real>(gates: Tensor<T>, cPrev: Tensor<T>) -> (h: Tensor<T>, c: Tensor<T>) {
    let hs = cPrev.shape[1]
    let i = sigmoid(slice(gates, axis: 1, 0..<hs)), f = sigmoid(slice(gates, axis: 1, hs..<(2 * hs)))
    let g = tanh(slice(gates, axis: 1, (2 * hs)..<(3 * hs))), o = sigmoid(slice(gates, axis: 1, (3 * hs)..<(4 * hs)))
    let c = f * cPrev + i * g
    return (o * tanh(c), c)
}

/// GRU step, pointwise part, in PyTorch's formulation: gi = x W_ih^T + b_ih [N, 3H], gh = h W_hh^T + b_hh [N, 3H]
/// (order r, z, n); r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
/// h' = (1 - z) * n + z * hPrev.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gruCell<T: Real>(gi: Tensor<T>, gh: Tensor<T>, hPrev: Tensor<T>) -> Tensor<T> {
    let n = hPrev.shape[0], hs = hPrev.shape[1]
    precondition(gi.shape == [n, 3 * hs] && gh.shape == [n, 3 * hs], "gruCell: gi \(gi.shape), gh \(gh.shape), h \(hPrev.shape)")
    let out = Tensor<T>(shape: [n, hs])
    let GI = gi.data, GH = gh.data, HP = hPrev.data, H = out.data
    for r in 0..<n {
        let a = GI + r * 3 * hs, b = GH + r * 3 * hs
        for j in 0..<hs {
            let rg = sigmoidScalar(a[j] + b[j]), z = sigmoidScalar(a[hs + j] + b[hs + j])
            let nn = T.tanh(a[2 * hs + j] + rg * b[2 * hs + j])
            H[r * hs + j] = (1 - z) * nn + z * HP[r * hs + j]
        }
    }
    if let tape = recordingTape(gi, gh, hPrev) {
        out.requiresGrad = true
        tape.record {
            let dH = out.grad
            let dGI = gi.requiresGrad ? gi.grad : nil, dGH = gh.requiresGrad ? gh.grad : nil
            let dHP = hPrev.requiresGrad ? hPrev.grad : nil
            for r in 0..<n {
                let a = GI + r * 3 * hs, b = GH + r * 3 * hs
                for j in 0..<hs {
                    let idx = r * hs + j
                    let rg = sigmoidScalar(a[j] + b[j]), z = sigmoidScalar(a[hs + j] + b[hs + j])
                    let nn = T.tanh(a[2 * hs + j] + rg * b[2 * hs + j])
                    let dh = dH[idx]
                    let dnPre = dh * (1 - z) * (1 - nn * nn)
                    let dzPre = dh * (HP[idx] - nn) * z * (1 - z)
                    let drPre = dnPre * b[2 * hs + j] * rg * (1 - rg)
                    if let d = dGI.map({ $0 + r * 3 * hs }) {
                        d[j] += drPre; d[hs + j] += dzPre; d[2 * hs + j] += dnPre
                    }
                    if let d = dGH.map({ $0 + r * 3 * hs }) {
                        d[j] += drPre; d[hs + j] += dzPre; d[2 * hs + j] += dnPre * rg
                    }
                    dHP?[idx] += dh * z
                }
            }
        }
    }
    return out
}

/// The GRU step composed from plain ops: the naive twin.
public func gruCellNaive<T: Real>(gi: Tensor<T>, gh: Tensor<T>, hPrev: Tensor<T>) -> Tensor<T> {
    let hs = hPrev.shape[1]
    func part(_ x: Tensor<T>, _ i: Int) -> Tensor<T> { slice(x, axis: 1, (i * hs)..<((i + 1) * hs)) }
    let r = sigmoid(part(gi, 0) + part(gh, 0)), z = sigmoid(part(gi, 1) + part(gh, 1))
    let n = tanh(part(gi, 2) + r * part(gh, 2))
    let ones = Tensor<T>(shape: [1], values: [1])
    return (ones - z) * n + z * hPrev
}

/// A plain RNN step: h' = f(x W_ih^T + b_ih + h W_hh^T + b_hh), f = tanh or ReLU (the IRNN uses ReLU with
/// W_hh initialised to the identity).
public func rnnCell<T: Real>(
    x: Tensor<T>, hPrev: Tensor<T>, wIH: Tensor<T>, bIH: Tensor<T>?, wHH: Tensor<T>, bHH: Tensor<T>?, activation f: Activation
) -> Tensor<T> {
    activation(linear(x, weight: wIH, bias: bIH) + linear(hPrev, weight: wHH, bias: bHH), f)
}
