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
        let model = TransformerLM<Float>(config, seed: 0)
        let adam = Adam(model.params)
        var rng = Philox(seed: 0, purpose: .data)
        let n = batch * config.context
        let x = (0..<n).map { _ in Int32(rng.below(config.vocab)) }, y = (0..<n).map { _ in Int32(rng.below(config.vocab)) }
        var drop = Philox(seed: 0, purpose: .dropout)
        var loss: Float = 0
        func step() {
            model.params.zeroGrad()
            let tape = Tape()
            let l = tape.recording { crossEntropy(model.forward(x, batch: batch, length: config.context, rng: &drop).logits, targets: y) }
            tape.backward(from: l)
            adam.step(lr: 1e-3)
            loss = l.scalar
        }
        for _ in 0..<warmup { step() }
        BLAS.trace = trace
        defer { BLAS.trace = nil }
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps { step() }
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return TrainingResult(tokensPerSecond: Double(steps * n) / dt, secondsPerStep: dt / Double(steps), parameters: model.params.count, finalLoss: loss)
    }
}
