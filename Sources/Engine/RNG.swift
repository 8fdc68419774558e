/// Philox4x32-10 (Salmon et al. 2011): a counter-based generator. A stream is (seed, stream id); its state is
/// just a counter, so it can be saved in a checkpoint and restored exactly, and streams never overlap.
public struct Philox: Equatable, Sendable {
    public let seed: UInt64
    public let stream: UInt64
    /// How many 4-word blocks have been drawn.
    public private(set) var counter: UInt64
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    /// Named streams, so that initialisation, data order and dropout never share random numbers.
    public enum Purpose: UInt64 { case initialisation = 1, data = 2, dropout = 3, evaluation = 4, generation = 5 }

    public init(seed: UInt64, stream: UInt64 = 0, counter: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.counter = counter
    }
    public init(seed: UInt64, purpose: Purpose) { self.init(seed: seed, stream: purpose.rawValue) }

    public static func == (a: Philox, b: Philox) -> Bool {
        a.seed == b.seed && a.stream == b.stream && a.counter == b.counter && a.used == b.used
            && a.buffer.0 == b.buffer.0 && a.buffer.1 == b.buffer.1 && a.buffer.2 == b.buffer.2 && a.buffer.3 == b.buffer.3
    }

    /// The state as four integers (seed, stream, counter, words used from the current block).
    public var state: [Int64] { [Int64(bitPattern: seed), Int64(bitPattern: stream), Int64(bitPattern: counter), Int64(used)] }

    public init(state: [Int64]) {
        precondition(state.count == 4, "Philox state needs 4 integers")
        self.init(seed: UInt64(bitPattern: state[0]), stream: UInt64(bitPattern: state[1]), counter: UInt64(bitPattern: state[2]))
        let used = Int(state[3])
        if used < 4 {
            // Regenerate the current block (counter - 1) and skip the words already used.
            counter -= 1
            refill()
            self.used = used
        }
    }

    /// One Philox4x32-10 block for counter c under key (seed).
    public static func block(counter c: (UInt32, UInt32, UInt32, UInt32), key k: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (x0, x1, x2, x3) = c
        var (k0, k1) = k
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(x0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(x2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (x0, x1, x2, x3) = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)
            k0 = k0 &+ 0x9E37_79B9
            k1 = k1 &+ 0xBB67_AE85
        }
        return (x0, x1, x2, x3)
    }

    private mutating func refill() {
        let c = (UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32),
                 UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32))
        buffer = Philox.block(counter: c, key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
        counter += 1
        used = 0
    }

    public mutating func nextUInt32() -> UInt32 {
        if used == 4 { refill() }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    /// Skips `n` words, as if drawn: O(1), the generator being counter-based (a rank of a data-parallel job
    /// skips the dropout masks of the other ranks' rows).
    public mutating func skip(_ n: Int) {
        precondition(n >= 0, "Philox.skip: negative count")
        var n = n
        let fromBlock = min(n, 4 - used)
        used += fromBlock
        n -= fromBlock
        guard n > 0 else { return }
        counter += UInt64((n - 1) / 4)  // the blocks passed over whole; the last one is generated, as drawing would
        refill()
        used = (n - 1) % 4 + 1
    }

    public mutating func nextUInt64() -> UInt64 { UInt64(nextUInt32()) << 32 | UInt64(nextUInt32()) }

    /// Uniform in [0, 1) with 24 random bits (exactly representable as Float).
    public mutating func uniform() -> Float { Float(nextUInt32() >> 8) * 0x1p-24 }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniformDouble() -> Double { Double(nextUInt64() >> 11) * 0x1p-53 }

    /// Uniform integer in 0..<n, without modulo bias (Lemire's method with rejection).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        var x = nextUInt64()
        var m = x.multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold {
                x = nextUInt64()
                m = x.multipliedFullWidth(by: bound)
            }
        }
        return Int(m.high)
    }

    /// Standard normal (Box-Muller, one value per call from two uniforms).
    public mutating func normal() -> Double {
        let u1 = 1 - uniformDouble()  // (0, 1]
        let u2 = uniformDouble()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    public mutating func bernoulli(_ p: Double) -> Bool { uniformDouble() < p }

    /// A uniformly random permutation of 0..<n (Fisher-Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        if n < 2 { return a }
        for i in stride(from: n - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
        return a
    }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero).
    public mutating func categorical<T: BinaryFloatingPoint>(_ weights: [T]) -> Int {
        let total = weights.reduce(0.0) { $0 + Double($1) }
        precondition(total > 0, "categorical: weights sum to zero")
        let r = uniformDouble() * total
        var acc = 0.0
        for (i, w) in weights.enumerated() {
            acc += Double(w)
            if r < acc { return i }
        }
        return weights.lastIndex { $0 > 0 }!
    }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
