import Engine
import Foundation

/// What a linear reader keeps of an encoded story: C = sum_t g_t h_t h_t^T (g_t = 1 without a gate), d x d
/// whatever the story's length T, and T. A lookup is C q / T: O(d^2) per question.
public struct LinearStoryMemory<T: Real> {
    public let dimension: Int
    public let length: Int
    public let matrix: Tensor<T>

    /// `states`: T x d row-major story states; `gates`: one per state (gated linear attention) or nil.
    public init(states: [T], dimension d: Int, gates: [T]? = nil) {
        precondition(d > 0 && states.count % d == 0 && !states.isEmpty, "LinearStoryMemory: \(states.count) values for width \(d)")
        dimension = d
        length = states.count / d
        precondition(gates == nil || gates!.count == length, "LinearStoryMemory: \(gates!.count) gates for \(length) states")
        let h = Tensor<T>(shape: [length, d], values: states)
        var weighted = h
        if let gates {
            weighted = Tensor(shape: [length, d], values: (0..<(length * d)).map { states[$0] * gates[$0 / d] })
        }
        matrix = Tape.withoutRecording { matmul(weighted, h, transA: true) }
    }

    /// Bytes of the representation: d x d numbers, whatever T.
    public var bytes: Int { dimension * dimension * MemoryLayout<T>.size }

    /// C q / T for one question vector.
    public func lookup(_ q: [T]) -> [T] { lookup(Tensor(shape: [1, dimension], values: q)).values }

    /// C q / T for a batch of questions [Q, d] (C is symmetric: Q C = (C Q^T)^T).
    public func lookup(_ q: Tensor<T>) -> Tensor<T> {
        Tape.withoutRecording { matmul(q, matrix) * (1 / T(length)) }
    }
}

/// What a softmax reader must keep of an encoded story: all T states. A lookup is softmax(H q)^T H: O(T d).
public struct SoftmaxStoryMemory<T: Real> {
    public let states: Tensor<T>

    public init(states: [T], dimension d: Int) {
        precondition(d > 0 && states.count % d == 0 && !states.isEmpty, "SoftmaxStoryMemory: \(states.count) values for width \(d)")
        self.states = Tensor(shape: [states.count / d, d], values: states)
    }

    public var bytes: Int { states.count * MemoryLayout<T>.size }

    /// softmax_t(h_t . q) weighted sum of the states, for a batch of questions [Q, d].
    public func lookup(_ q: Tensor<T>) -> Tensor<T> {
        Tape.withoutRecording { matmul(softmax(matmul(q, states, transB: true)), states) }
    }
}

/// One row of the lookup-cost measurement: a story of `length` states of width d, `queries` questions.
public struct LookupCost: Sendable {
    public let length: Int
    /// Seconds per question, once the story is encoded.
    public let softmaxSeconds: Double, linearSeconds: Double
    /// Seconds to reduce the encoded story to C (once per story).
    public let linearBuildSeconds: Double
    public let softmaxBytes: Int, linearBytes: Int
}

public enum LookupBenchmark {
    /// The story lengths measured by default (the 100 to 10,000 tokens).
    public static let lengths = [100, 300, 1_000, 3_000, 10_000]

    /// Times both lookups on random states and questions of width `dimension` (Float, the engine's threads),
    /// `queries` questions at a time, the best of `repeats` passes, after one warm-up pass.
    public static func measure(lengths: [Int] = lengths, dimension d: Int, queries: Int = 256, repeats: Int = 5, seed: UInt64 = 1) -> [LookupCost] {
        var rng = Philox(seed: seed, stream: 17)
        let q = Tensor<Float>(shape: [queries, d], values: (0..<(queries * d)).map { _ in rng.uniform() * 2 - 1 })
        return lengths.map { t in
            let states = (0..<(t * d)).map { _ in Float.tanh(rng.uniform() * 4 - 2) }
            let soft = SoftmaxStoryMemory(states: states, dimension: d)
            var built = LinearStoryMemory(states: states, dimension: d)
            let build = best(repeats) { built = LinearStoryMemory(states: states, dimension: d) }
            let s = best(repeats) { _ = soft.lookup(q) }, l = best(repeats) { _ = built.lookup(q) }
            return LookupCost(length: t, softmaxSeconds: s / Double(queries), linearSeconds: l / Double(queries),
                              linearBuildSeconds: build, softmaxBytes: soft.bytes, linearBytes: built.bytes)
        }
    }

    static func best(_ repeats: Int, _ body: () -> Void) -> Double {
        body()
        var fastest = Double.infinity
        for _ in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return fastest
    }
}
