// Causal multi-head softmax self-attention (fused, blockwise) and its naive twin.

/// Fused causal softmax attention in the style of FlashAttention: for each head, query blocks meet key blocks
/// one tile at a time with an online softmax, so memory holds one [block x block] tile per thread instead of
/// B x H x T x T scores. Only each row's log-sum-exp is kept for backward, which recomputes the tiles.
/// q, k, v are read in place from the packed qkv (leading dimension 3C); the output is written in place into
/// [B, T, C] (leading dimension C), so no head reshuffling copies are made.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func causalSelfAttention<T: Real>(_ qkv: Tensor<T>, heads: Int, blockSize: Int = 64) -> Tensor<T> {
    precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0, "attention: qkv \(qkv.shape) is not [B, T, 3 x heads x D]")
    let b = qkv.shape[0], t = qkv.shape[1], c = qkv.shape[2] / 3, d = c / heads
    let ld = 3 * c, scale = 1 / T(d).squareRoot(), bs = max(1, min(blockSize, t))
    let out = Tensor<T>(shape: [b, t, c])
    let lse = UnsafeMutablePointer<T>.allocate(capacity: max(b * heads * t, 1))
    let Qall = qkv.data, Oall = out.data
    ParallelJobs.perform(b * heads) { job in
        let bi = job / heads, h = job % heads
        let q = Qall + bi * t * ld + h * d, k = q + c, v = q + 2 * c
        let o = Oall + bi * t * c + h * d
        let s = UnsafeMutablePointer<T>.allocate(capacity: bs * bs)
        let m = UnsafeMutablePointer<T>.allocate(capacity: bs), l = UnsafeMutablePointer<T>.allocate(capacity: bs)
        defer { s.deallocate(); m.deallocate(); l.deallocate() }
        var i0 = 0
        while i0 < t {
            let bq = min(bs, t - i0)
            m.update(repeating: -T.infinity, count: bq)
            l.update(repeating: 0, count: bq)
            var j0 = 0
            while j0 <= i0 + bq - 1 {
                let bk = min(bs, t - j0)
                gemmAccumulate(false, true, bq, bk, d, q + i0 * ld, ld, k + j0 * ld, ld, s, bk, beta: 0, alpha: scale)
                for r in 0..<bq {
                    let row = s + r * bk, qi = i0 + r
                    let visible = min(bk, qi - j0 + 1)  // keys j0 ..< j0+visible are <= qi
                    if visible <= 0 {
                        for cc in 0..<bk { row[cc] = 0 }
                        continue
                    }
                    var mx = m[r]
                    for cc in 0..<visible where row[cc] > mx { mx = row[cc] }
                    let corr = m[r] == -T.infinity ? 0 : T.exp(m[r] - mx)
                    let sum = expShiftedSum(row, visible, shift: mx)
                    for cc in visible..<max(bk, visible) { row[cc] = 0 }
                    l[r] = l[r] * corr + sum
                    m[r] = mx
                    let orow = o + qi * c
                    for dd in 0..<d { orow[dd] *= corr }
                }
                gemmAccumulate(false, false, bq, d, bk, s, bk, v + j0 * ld, ld, o + i0 * c, c)
                j0 += bk
            }
            for r in 0..<bq {
                let orow = o + (i0 + r) * c, inv = 1 / l[r]
                for dd in 0..<d { orow[dd] *= inv }
                lse[job * t + i0 + r] = m[r] + T.log(l[r])
            }
            i0 += bq
        }
    }
    guard let tape = recordingTape(qkv) else {
        lse.deallocate()
        return out
    }
    out.requiresGrad = true
    let saved = OwnedBuffer(lse)
    tape.record {
        // A fresh gradient is zeroed by the jobs, each its own head's columns (in parallel, not in one pass here).
        let (dQall, fresh) = qkv.gradForWriting()
        let dOall = out.grad
        ParallelJobs.perform(b * heads) { job in
            let bi = job / heads, h = job % heads
            let q = Qall + bi * t * ld + h * d, k = q + c, v = q + 2 * c
            let dq = dQall + bi * t * ld + h * d, dk = dq + c, dv = dq + 2 * c
            if fresh {
                for i in 0..<t {
                    (dq + i * ld).initialize(repeating: 0, count: d)
                    (dk + i * ld).initialize(repeating: 0, count: d)
                    (dv + i * ld).initialize(repeating: 0, count: d)
                }
            }
            let o = Oall + bi * t * c + h * d, dout = dOall + bi * t * c + h * d
            let L = saved.pointer + job * t
            let p = UnsafeMutablePointer<T>.allocate(capacity: bs * bs), dp = UnsafeMutablePointer<T>.allocate(capacity: bs * bs)
            let delta = UnsafeMutablePointer<T>.allocate(capacity: t)
            defer { p.deallocate(); dp.deallocate(); delta.deallocate() }
            for i in 0..<t {  // delta_i = dO_i . O_i
                var acc: T = 0
                for dd in 0..<d { acc += dout[i * c + dd] * o[i * c + dd] }
                delta[i] = acc
            }
            var i0 = 0
            while i0 < t {
                let bq = min(bs, t - i0)
                var j0 = 0
                while j0 <= i0 + bq - 1 {
                    let bk = min(bs, t - j0)
                    gemmAccumulate(false, true, bq, bk, d, q + i0 * ld, ld, k + j0 * ld, ld, p, bk, beta: 0, alpha: scale)
                    gemmAccumulate(false, true, bq, bk, d, dout + i0 * c, c, v + j0 * ld, ld, dp, bk, beta: 0)
                    for r in 0..<bq {
                        let qi = i0 + r, prow = p + r * bk, dprow = dp + r * bk
                        let li = L[qi], di = delta[qi]
                        let visible = max(0, min(bk, qi - j0 + 1))
                        _ = expShiftedSum(prow, visible, shift: li)  // P = exp(S - L); S <= L always
                        for cc in 0..<visible { dprow[cc] = prow[cc] * (dprow[cc] - di) }  // dS
                        for cc in visible..<max(bk, visible) { prow[cc] = 0; dprow[cc] = 0 }
                    }
                    gemmAccumulate(true, false, bk, d, bq, p, bk, dout + i0 * c, c, dv + j0 * ld, ld)
                    gemmAccumulate(false, false, bq, d, bk, dp, bk, k + j0 * ld, ld, dq + i0 * ld, ld, alpha: scale)
                    gemmAccumulate(true, false, bk, d, bq, dp, bk, q + i0 * ld, ld, dk + j0 * ld, ld, alpha: scale)
                    j0 += bk
                }
                i0 += bq
            }
        }
    }
    return out
}

/// The same attention composed from plain ops (materialising every T x T score matrix): the naive twin.
public func causalSelfAttentionNaive<T: Real>(_ qkv: Tensor<T>, heads: Int) -> Tensor<T> {
    let b = qkv.shape[0], t = qkv.shape[1], c = qkv.shape[2] / 3, d = c / heads
    func headsFirst(_ x: Tensor<T>) -> Tensor<T> {  // [B, T, C] -> [B*H, T, D]
        reshape(permute(reshape(x, [b, t, heads, d]), [0, 2, 1, 3]), [b * heads, t, d])
    }
    let q = headsFirst(slice(qkv, axis: 2, 0..<c))
    let k = headsFirst(slice(qkv, axis: 2, c..<(2 * c)))
    let v = headsFirst(slice(qkv, axis: 2, (2 * c)..<(3 * c)))
    let scores = batchedMatmul(q, k, transB: true) * (1 / T(d).squareRoot())
    let probs = softmax(causalMask(scores))
    let o = batchedMatmul(probs, v)  // [B*H, T, D]
    return reshape(permute(reshape(o, [b, heads, t, d]), [0, 2, 1, 3]), [b, t, c])
}
