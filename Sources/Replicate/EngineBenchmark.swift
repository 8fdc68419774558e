import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation

/// Measurements for `replicate bench engine`.
public enum EngineBenchmark {
    /// GFLOP/s of an n x n x n single-precision product, best of `repeats`: the machine's limit with the BLAS in
    /// use, run as the engine runs its products (`matmul`: split over `Engine.threads` threads, the library itself
    /// single-threaded; see gemmAccumulate).
    public static func sgemmGFLOPs(n: Int = 1024, repeats: Int = 5) -> Double {
        let a = Tensor<Float>(shape: [n, n]), b = Tensor<Float>(shape: [n, n])
        var rng = Philox(seed: 1)
        for i in 0..<(n * n) { a.data[i] = rng.uniform(); b.data[i] = rng.uniform() }
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = Tape.withoutRecording { matmul(a, b) }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    public struct TrainingResult {
        public let tokensPerSecond: Double
        public let secondsPerStep: Double
        public let parameters: Int
        public let finalLoss: Float
    }

    /// Trains `config` on random tokens with Adam: `warmup` untimed steps, then `steps` timed ones.
    /// With `trace`, the timed steps' matrix products are counted in it.
    public static func train(_ config: TransformerConfig, batch: Int, steps: Int, warmup: Int, trace: GEMMTrace? = nil) -> TrainingResult {
        let session = TrainingSession(config, batch: batch)
        session.run(warmup)
        BLAS.trace = trace
        defer { BLAS.trace = nil }
        let dt = session.timed(steps)
        return TrainingResult(tokensPerSecond: Double(steps * session.tokensPerStep) / dt, secondsPerStep: dt / Double(steps),
                              parameters: session.parameters, finalLoss: session.loss)
    }

    /// One model training on fixed random tokens with Adam, kept alive so that its steps can be timed in slices
    /// (interleaved with the peer's in `bench engine`).
    public final class TrainingSession {
        let config: TransformerConfig
        let batch: Int
        let model: TransformerLM<Float>
        let adam: Adam<Float>
        let x: [Int32], y: [Int32]
        var drop = Philox(seed: 0, purpose: .dropout)
        public private(set) var loss: Float = 0
        public var tokensPerStep: Int { batch * config.context }
        public var parameters: Int { model.params.count }

        public init(_ config: TransformerConfig, batch: Int) {
            self.config = config
            self.batch = batch
            model = TransformerLM<Float>(config, seed: 0)
            adam = Adam(model.params)
            var rng = Philox(seed: 0, purpose: .data)
            let n = batch * config.context
            x = (0..<n).map { _ in Int32(rng.below(config.vocab)) }
            y = (0..<n).map { _ in Int32(rng.below(config.vocab)) }
        }

        /// `steps` training steps.
        public func run(_ steps: Int) {
            for _ in 0..<steps {
                model.params.zeroGrad()
                let tape = Tape()
                let l = tape.recording { crossEntropy(model.forward(x, batch: batch, length: config.context, rng: &drop).logits, targets: y) }
                tape.backward(from: l)
                adam.step(lr: 1e-3)
                loss = l.scalar
            }
        }

        /// Seconds of wall time for `steps` training steps.
        public func timed(_ steps: Int) -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            run(steps)
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
    }
}
