// Causal multi-head softmax self-attention (fused, blockwise) and its naive twin.

import CRuntime

/// Fused causal softmax attention in the style of FlashAttention, by row strips: for each head, a block of
/// queries meets every key it may see (keys 0 ..< the block's end) in one [block x keys] strip of scores, so
/// memory holds one strip per thread instead of B x H x T x T scores, each product is as large as the causal
/// structure allows, and the softmax of a strip is exact at once (no running rescale). For training at short
/// contexts (`attentionKeepsScores`) the strips are kept for backward; otherwise only each row's log-sum-exp is
/// kept, and backward recomputes the strips.
/// q, k, v are read in place from the packed qkv (leading dimension 3C); the output is written in place into
/// [B, T, C] (leading dimension C), so no head reshuffling copies are made.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func causalSelfAttention<T: Real>(_ qkv: Tensor<T>, heads: Int, blockSize: Int = 64, keepScores: Bool? = nil) -> Tensor<T> {
    precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0, "attention: qkv \(qkv.shape) is not [B, T, 3 x heads x D]")
    let b = qkv.shape[0], t = qkv.shape[1], c = qkv.shape[2] / 3, d = c / heads
    let ld = 3 * c, scale = 1 / T(d).squareRoot(), bs = max(1, min(blockSize, t))
    let out = Tensor<T>(shape: [b, t, c], uninitialized: true)
    let lse = UnsafeMutablePointer<T>.allocate(capacity: max(b * heads * t, 1))
    let Qall = qkv.data, Oall = out.data
    let tape = recordingTape(qkv)
    // With a tape and short contexts, the forward's strips (unnormalised exponentials) are kept for backward, which
    // then skips recomputing the scores; each head's strips lie one after another (stripOffsets).
    let blocks = (t + bs - 1) / bs
    let stripOffsets = attentionStripOffsets(length: t, blockSize: bs)
    let perHead = stripOffsets[blocks]
    let keep = tape != nil && (keepScores ?? Engine.attentionScoresKept ?? attentionKeepsScores(heads: heads, length: t, width: c))
    let strips = keep ? TensorMemory.allocate(T.self, count: max(b * heads * perHead, 1)) : nil
    let inverses = keep ? UnsafeMutablePointer<T>.allocate(capacity: max(b * heads * t, 1)) : nil
    ParallelJobs.perform(b * heads) { job in
        let bi = job / heads, h = job % heads
        let q = Qall + bi * t * ld + h * d, k = q + c, v = q + 2 * c
        let o = Oall + bi * t * c + h * d
        let scratch = strips == nil ? TensorMemory.allocate(T.self, count: bs * t) : nil
        let ownInv = inverses == nil ? UnsafeMutablePointer<T>.allocate(capacity: bs) : nil
        defer { scratch.map { TensorMemory.release($0) }; ownInv?.deallocate() }
        var i0 = 0
        while i0 < t {
            let bq = min(bs, t - i0), keys = i0 + bq  // query i0 + r sees keys 0 ... i0 + r
            let s = strips.map { $0 + job * perHead + stripOffsets[i0 / bs] } ?? scratch!
            let inv = inverses.map { $0 + job * t + i0 } ?? ownInv!
            gemmAccumulate(false, true, bq, keys, d, q + i0 * ld, ld, k, ld, s, keys, beta: 0, alpha: scale)
            causalSoftmaxRows(s, rows: bq, cols: keys, first: i0 + 1, lse: lse + job * t + i0, inverseSums: inv)
            gemmAccumulate(false, false, bq, d, keys, s, keys, v, ld, o + i0 * c, c, beta: 0)
            for r in 0..<bq {
                let orow = o + (i0 + r) * c, f = inv[r]
                for dd in 0..<d { orow[dd] *= f }
            }
            i0 += bq
        }
    }
    guard let tape else {
        lse.deallocate()
        return out
    }
    out.requiresGrad = true
    if keep { lse.deallocate() }  // backward normalises the kept strips by their inverse sums instead
    let saved = keep ? nil : OwnedBuffer(lse)
    let savedStrips = strips.map { AlignedBuffer($0) }, savedInverses = inverses.map { OwnedBuffer($0) }
    tape.record {
        let (dQall, fresh) = qkv.gradForWriting()
        let dOall = out.grad
        ParallelJobs.perform(b * heads) { job in
            let bi = job / heads, h = job % heads
            let q = Qall + bi * t * ld + h * d, k = q + c, v = q + 2 * c
            let dq = dQall + bi * t * ld + h * d, dk = dq + c, dv = dq + 2 * c
            let o = Oall + bi * t * c + h * d, dout = dOall + bi * t * c + h * d
            // Strips on 64-byte boundaries, as in forward (the library's code path may depend on alignment).
            let scratch = savedStrips == nil ? TensorMemory.allocate(T.self, count: bs * t) : nil
            let dp = TensorMemory.allocate(T.self, count: bs * t)
            let delta = UnsafeMutablePointer<T>.allocate(capacity: t)
            defer { scratch.map { TensorMemory.release($0) }; TensorMemory.release(dp); delta.deallocate() }
            for i in 0..<t {  // delta_i = dO_i . O_i
                var acc: T = 0
                for dd in 0..<d { acc += dout[i * c + dd] * o[i * c + dd] }
                delta[i] = acc
            }
            // Query blocks from the last to the first: the last block's strip spans every key, so on a fresh gradient it
            // writes dK and dV (beta 0) and the earlier strips add to them; each block writes its own rows of dQ once.
            for block in stride(from: blocks - 1, through: 0, by: -1) {
                let i0 = block * bs, bq = min(bs, t - i0), keys = i0 + bq
                let keyBeta: T = fresh && block == blocks - 1 ? 0 : 1, queryBeta: T = fresh ? 0 : 1
                let p: UnsafeMutablePointer<T>
                gemmAccumulate(false, true, bq, keys, d, dout + i0 * c, c, v, ld, dp, keys, beta: 0)
                if let savedStrips, let savedInverses {
                    p = savedStrips.pointer + job * perHead + stripOffsets[block]
                    causalSoftmaxBackwardRows(p, dp, rows: bq, cols: keys, first: i0 + 1, lse: nil, inverseSums: savedInverses.pointer + job * t + i0,
                                              delta: delta + i0)
                } else {
                    p = scratch!
                    gemmAccumulate(false, true, bq, keys, d, q + i0 * ld, ld, k, ld, p, keys, beta: 0, alpha: scale)
                    causalSoftmaxBackwardRows(p, dp, rows: bq, cols: keys, first: i0 + 1, lse: saved!.pointer + job * t + i0, inverseSums: nil,
                                              delta: delta + i0)
                }
                gemmAccumulate(true, false, keys, d, bq, p, keys, dout + i0 * c, c, dv, ld, beta: keyBeta)
                gemmAccumulate(false, false, bq, d, keys, dp, keys, k, ld, dq + i0 * ld, ld, beta: queryBeta, alpha: scale)
                gemmAccumulate(true, false, keys, d, bq, dp, keys, q + i0 * ld, ld, dk, ld, beta: keyBeta, alpha: scale)
            }
        }
    }
    return out
}

/// Whether training keeps attention's strips of scores from forward to backward (sparing backward one of its seven
/// products per strip and the exponentials): when a layer's strips, about heads x length^2 / 2 values, take no more
/// memory than its packed q, k, v (length x 3 x width), i.e. for contexts up to 6 x the head width. (Up to 12 x, T12's
/// 512 included, a step of T12 at batch 8 held more memory than PyTorch's.)
public func attentionKeepsScores(heads: Int, length: Int, width: Int) -> Bool {
    heads * length * length / 2 <= length * 3 * width
}

/// Values per token of one layer's kept strips (0 when they are not kept): the memory estimate's share of them.
public func attentionKeptScoresPerToken(heads: Int, length: Int, width: Int, blockSize: Int = 64) -> Int {
    guard attentionKeepsScores(heads: heads, length: length, width: width), length > 0 else { return 0 }
    let perHead = attentionStripOffsets(length: length, blockSize: max(1, min(blockSize, length))).last!
    return (heads * perHead + length - 1) / length
}

/// Where each block's strip of scores starts in one head's kept strips, and (last) their total: block i holds
/// min(bs, T - i bs) queries against min(T, (i + 1) bs) keys. Every strip starts on a 64-byte boundary, as the scratch
/// strip does when they are not kept, so that the library takes the same code path either way (--recompute's
/// forward passes do not keep them).
func attentionStripOffsets(length t: Int, blockSize bs: Int) -> [Int] {
    var offsets = [0]
    for block in 0..<((t + bs - 1) / bs) {
        offsets.append(offsets[block] + (min(bs, t - block * bs) * min(t, (block + 1) * bs) + 15) / 16 * 16)
    }
    return offsets
}

/// Softmax of a causal strip s [rows x cols] in place: row r sees its first min(cols, first + r) scores and the rest
/// are set to 0; lse[r] = log(sum exp) of the row, inverseSums[r] = 1 / sum. The exponentials are left unnormalised.
@inline(__always)
func causalSoftmaxRows<T: Real>(_ s: UnsafeMutablePointer<T>, rows: Int, cols: Int, first: Int, lse: UnsafeMutablePointer<T>,
                                inverseSums: UnsafeMutablePointer<T>) {
    if T.self == Float.self {
        rb_causal_softmax_rows_f32(f32(s), rows, cols, first, f32(lse), f32(inverseSums))
        return
    }
    for r in 0..<rows {
        let row = s + r * cols, visible = min(cols, first + r)
        var mx = -T.infinity
        for j in 0..<visible where row[j] > mx { mx = row[j] }
        var sum: T = 0
        for j in 0..<visible { let e = T.exp(row[j] - mx); row[j] = e; sum += e }
        for j in visible..<cols { row[j] = 0 }
        lse[r] = mx + T.log(sum)
        inverseSums[r] = 1 / sum
    }
}

/// The backward of a causal strip, in place; dp holds the output gradient's products dO V^T. Either s holds the
/// recomputed scores and `lse` their rows' log-sum-exp, or s holds the unnormalised exponentials kept from forward
/// (0 past each row's visible keys) and `inverseSums` their rows' 1 / sum. On return s holds P (exp(s - lse), or
/// s x inverse sum) and dp holds dS = P (dp - delta), both 0 past each row's visible keys.
@inline(__always)
func causalSoftmaxBackwardRows<T: Real>(_ s: UnsafeMutablePointer<T>, _ dp: UnsafeMutablePointer<T>, rows: Int, cols: Int, first: Int,
                                        lse: UnsafePointer<T>?, inverseSums: UnsafePointer<T>?, delta: UnsafePointer<T>) {
    precondition((lse == nil) != (inverseSums == nil), "causalSoftmaxBackwardRows: give lse or inverseSums")
    if T.self == Float.self {
        rb_causal_softmax_backward_rows_f32(f32(s), f32(dp), rows, cols, first, lse.map { f32($0) }, inverseSums.map { f32($0) }, f32(delta))
        return
    }
    for r in 0..<rows {
        let prow = s + r * cols, dprow = dp + r * cols, visible = min(cols, first + r), di = delta[r]
        if let lse {
            let l = lse[r]
            for j in 0..<visible { prow[j] = T.exp(prow[j] - l) }
        } else if let inverseSums {
            let f = inverseSums[r]
            for j in 0..<visible { prow[j] *= f }
        }
        for j in 0..<visible { dprow[j] = prow[j] * (dprow[j] - di) }
        for j in visible..<cols { prow[j] = 0; dprow[j] = 0 }
    }
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
