import CharLM
import Engine
import Foundation
import NN
import PaperLinearAttention
import Runs
import XCTest

/// The linear-attention family: the triangular solve, the three forms' agreement, finite differences, and
/// flash-linear-attention's naive implementations as an outside reference (scripts/make_linear_attention_fixtures.py).
final class LinearAttentionTests: XCTestCase {
    func testUnitLowerTriangularSolveSolvesAndHasExactGradients() {
        let m = randomTensor([3, 5, 5], seed: 1), b = randomTensor([3, 5, 2], seed: 2)
        let x = Tape.withoutRecording { unitLowerTriangularSolve(m, b) }
        // (I + strictLower(M)) X reproduces B.
        for i in 0..<3 {
            for t in 0..<5 {
                for j in 0..<2 {
                    var acc = x.data[i * 10 + t * 2 + j]
                    for s in 0..<t { acc += m.data[i * 25 + t * 5 + s] * x.data[i * 10 + s * 2 + j] }
                    XCTAssertEqual(acc, b.data[i * 10 + t * 2 + j], accuracy: 1e-12)
                }
            }
        }
        gradCheck([m, b]) { unitLowerTriangularSolve($0[0], $0[1]) }
    }

    /// One configuration of the family, on inputs in [N, T, d] layout.
    struct Kind {
        let name: String
        let decay: Bool, delta: Bool, normalize: Bool
    }
    let kinds = [
        Kind(name: "sum", decay: false, delta: false, normalize: false),
        Kind(name: "sum, normalised", decay: false, delta: false, normalize: true),
        Kind(name: "decayed (per-token decay)", decay: true, delta: false, normalize: false),
        Kind(name: "decayed, normalised", decay: true, delta: false, normalize: true),
        Kind(name: "delta rule", decay: false, delta: true, normalize: false),
        Kind(name: "gated delta rule", decay: true, delta: true, normalize: false),
    ]

    /// Runs a kind: raw inputs [q, k, v, gRaw, betaRaw, S0, z0] -> [o, S(, z)] flattened into one tensor for the
    /// gradient checks. Keys and queries are made positive for the normalised kinds (as a feature map would).
    func run(_ kind: Kind, _ x: [Tensor<Double>], withState: Bool, form: LinearForm) -> (o: Tensor<Double>, s: LinearState<Double>) {
        var q = x[0], k = x[1]
        if kind.normalize { q = exp(q); k = exp(k) }
        if kind.delta { k = l2Normalize(k) }
        let g = kind.decay ? log(sigmoid(x[3] + 2.0)) : nil
        let beta = kind.delta ? sigmoid(x[4]) : nil
        let state = withState ? LinearState(s: x[5], z: kind.normalize ? exp(x[6]) : nil) : nil
        let r = linearAttention(q: q, k: k, v: x[2], logDecay: g, beta: beta, normalize: kind.normalize, state: state, form: form)
        return (r.output, r.state)
    }

    func inputs(n: Int, t: Int, dk: Int, dv: Int, seed: UInt64) -> [Tensor<Double>] {
        [randomTensor([n, t, dk], seed: seed), randomTensor([n, t, dk], seed: seed + 1), randomTensor([n, t, dv], seed: seed + 2),
         randomTensor([n, t, 1], seed: seed + 3), randomTensor([n, t, 1], seed: seed + 4), randomTensor([n, dk, dv], seed: seed + 5),
         randomTensor([n, dk, 1], seed: seed + 6)]
    }

    func flat(_ r: (o: Tensor<Double>, s: LinearState<Double>)) -> Tensor<Double> {
        var parts = [reshape(r.o, [r.o.count]), reshape(r.s.s, [r.s.s.count])]
        if let z = r.s.z { parts.append(reshape(z, [z.count])) }
        return concat(parts, axis: 0)
    }

    /// Parallel, chunked (lengths below, equal to and not divisible by the chunk) and recurrent forms agree in
    /// output, final state and every gradient, with and without an initial state.
    func testThreeFormsAgreeInOutputsStatesAndGradients() {
        let chunk = 4
        for kind in kinds {
            for t in [3, 4, 8, 11] {
                for withState in [false, true] {
                    let x = inputs(n: 3, t: t, dk: 4, dv: 3, seed: UInt64(10 * t))
                    var results: [(String, [Double], [[Double]])] = []
                    for (formName, form) in [("parallel", LinearForm.parallel), ("chunked", .chunked(chunk)), ("recurrent", .recurrent)] {
                        for input in x { input.zeroGrad() }
                        let w = randomTensor([flat(Tape.withoutRecording { run(kind, x, withState: withState, form: form) }).count], seed: 5,
                                             requiresGrad: false)
                        let tape = Tape()
                        let out = tape.recording { flat(run(kind, x, withState: withState, form: form)) }
                        let loss = tape.recording { sumAll(out * w) }
                        tape.backward(from: loss)
                        results.append((formName, out.values, x.map(\.gradValues)))
                    }
                    for r in results.dropFirst() {
                        let label = "\(kind.name), T = \(t), state \(withState): \(r.0) vs parallel"
                        XCTAssertLessThan(maxRelativeError(r.1, results[0].1), 1e-10, label)
                        for (i, (a, b)) in zip(r.2, results[0].2).enumerated() { XCTAssertLessThan(maxRelativeError(a, b), 1e-9, "\(label), input \(i)") }
                    }
                }
            }
        }
    }

    func testChunkedFormGradientsByFiniteDifferences() {
        for kind in kinds {
            let x = inputs(n: 2, t: 6, dk: 3, dv: 2, seed: 77)
            gradCheck(x, tolerance: 1e-6) { flat(run(kind, $0, withState: true, form: .chunked(4))) }
        }
    }

    func testFeatureMapsAndNormalisationGradients() {
        let x = randomTensor([2, 3, 4], seed: 3)
        for map in [FeatureMap.identity, .elu1, .dpfp(nu: 1), .dpfp(nu: 2), .dpfp(nu: 3)] {
            XCTAssertEqual(Tape.withoutRecording { map.apply(x) }.shape, [2, 3, map.outputSize(4)])
            gradCheck([x]) { map.apply($0[0]) }
        }
        gradCheck([x]) { l2Normalize($0[0]) }
    }

    // MARK: flash-linear-attention's naive forms

    var fixture: HDF5File!

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/linear_attention", withExtension: "h5"))
        fixture = try HDF5File.open(url.path)
    }

    /// A fixture array as a Double tensor of `shape` (the same row-major values: [B, H, T, D] is [N, T, D]).
    func array(_ group: String, _ name: String, _ shape: [Int], grad: Bool = true) throws -> Tensor<Double> {
        Tensor(shape: shape, values: try fixture.read("\(group)/\(name)").doubles, requiresGrad: grad)
    }

    /// Runs one fixture case through our kernel (all three forms) and compares output, final state and the
    /// gradients of L = sum(o * wo) + sum(S * wS) with respect to the raw inputs.
    func checkFixture(_ group: String, scale: Double = 1, normalize: Bool = false, eps: Double = 1e-10,
                      inputs extra: [String] = [], prepare: ([String: Tensor<Double>]) -> (q: Tensor<Double>, k: Tensor<Double>,
                                                                                           g: Tensor<Double>?, beta: Tensor<Double>?)) throws {
        let b = 2, h = 2, t = 7, dk = 4, dv = 3, n = b * h
        let hasS0 = fixture.kind(of: "\(group)/S0") == .dataset
        for form in [LinearForm.parallel, .chunked(3), .recurrent] {
            var x: [String: Tensor<Double>] = [
                "q": try array(group, "q", [n, t, dk]), "k": try array(group, "k", [n, t, dk]), "v": try array(group, "v", [n, t, dv]),
            ]
            for name in extra {
                let shape: [Int] = name == "a" ? [h] : [n, t, 1]
                x[name] = try array(group, name, shape)
            }
            if hasS0 { x["S0"] = try array(group, "S0", [n, dk, dv]) }
            let wo = try array(group, "wo", [n, t, dv], grad: false), ws = try array(group, "wS", [n, dk, dv], grad: false)
            let tape = Tape()
            let (o, state) = tape.recording { () -> (Tensor<Double>, LinearState<Double>) in
                let p = prepare(x)
                let r = linearAttention(q: p.q * scale, k: p.k, v: x["v"]!, logDecay: p.g, beta: p.beta, normalize: normalize, eps: eps,
                                        state: x["S0"].map { LinearState(s: $0, z: nil) }, form: form)
                return (r.output, r.state)
            }
            let loss = tape.recording { sumAll(o * wo) + sumAll(state.s * ws) }
            tape.backward(from: loss)
            let label = "\(group), \(form)"
            XCTAssertLessThan(maxRelativeError(o.values, try fixture.read("\(group)/o").doubles), 1e-10, label)
            XCTAssertLessThan(maxRelativeError(state.s.values, try fixture.read("\(group)/S").doubles), 1e-10, label)
            var grads = ["q": "dq", "k": "dk", "v": "dv", "S0": "dS0"]
            for name in extra { grads[name] = "d" + name }
            for (input, gradName) in grads {
                guard let tensor = x[input] else { continue }
                XCTAssertLessThan(maxRelativeError(tensor.gradValues, try fixture.read("\(group)/\(gradName)").doubles), 1e-9, "\(label): \(gradName)")
            }
        }
    }

    func testLinearMatchesFlashLinearAttention() throws {
        try checkFixture("linear") { ($0["q"]!, $0["k"]!, nil, nil) }
        try checkFixture("linear_s0") { ($0["q"]!, $0["k"]!, nil, nil) }
        try checkFixture("linear_normalized", normalize: true) { ($0["q"]!, $0["k"]!, nil, nil) }
        try checkFixture("elu1", normalize: true) { (FeatureMap.elu1.apply($0["q"]!), FeatureMap.elu1.apply($0["k"]!), nil, nil) }
    }

    func testDecayedFastWeightsMatchFlashLinearAttention() throws {
        let n = 4, t = 7
        try checkFixture("decayed_fixed") { x in
            (x["q"]!, x["k"]! * 0.5, Tensor(shape: [n, t, 1], values: [Double](repeating: Foundation.log(0.9), count: n * t)), nil)
        }
        // lambda_h = sigmoid(a_h), learned per head: the per-token log decay is logsigmoid(a_h) for head h.
        try checkFixture("decayed_learned", inputs: ["a"]) { x in
            let perHead = reshape(log(sigmoid(x["a"]!)), [1, 2, 1, 1])  // [1, H, 1, 1]
            let g = reshape(perHead + Tensor<Double>(shape: [2, 2, t, 1]), [n, t, 1])
            return (x["q"]!, x["k"]!, g, nil)
        }
    }

    func testDeltaRulesMatchFlashLinearAttention() throws {
        let tiny = 1e-30  // F.normalize divides by max(|x|, 1e-12): no epsilon at these sizes
        for group in ["delta", "delta_s0"] {
            try checkFixture(group, scale: 0.5, inputs: ["beta"]) { x in
                (l2Normalize(x["q"]!, eps: tiny), l2Normalize(x["k"]!, eps: tiny), nil, sigmoid(x["beta"]!))
            }
        }
        try checkFixture("gated_delta", scale: 0.5, inputs: ["beta", "g"]) { x in
            (l2Normalize(x["q"]!, eps: tiny), l2Normalize(x["k"]!, eps: tiny), log(sigmoid(x["g"]!)), sigmoid(x["beta"]!))
        }
    }

    func testDPFPMatchesFlashLinearAttention() throws {
        for nu in 1...3 {
            let x = try array("dpfp\(nu)", "x", [2, 2, 7, 4])
            let w = try array("dpfp\(nu)", "w", [2, 2, 7, 8 * nu], grad: false)
            let tape = Tape()
            let phi = tape.recording { FeatureMap.dpfp(nu: nu).apply(x) }
            XCTAssertLessThan(maxRelativeError(phi.values, try fixture.read("dpfp\(nu)/phi").doubles), 1e-12, "nu \(nu)")
            tape.backward(from: tape.recording { sumAll(phi * w) })
            XCTAssertLessThan(maxRelativeError(x.gradValues, try fixture.read("dpfp\(nu)/dx").doubles), 1e-12, "nu \(nu)")
        }
    }
}

/// Whole models with every attention kind: generation position by position (KV cache or recurrent state)
/// equals the full forward, and the gates and per-head parameters get exact gradients.
final class AttentionKindModelTests: XCTestCase {
    func kinds() -> [AttentionKind] {
        AttentionKind.catalogue.map { AttentionKind.named($0.name, block: 3)! }
            + [.decayedFastWeights(lambda: 0.9, eta: 0.5), AttentionKind.named("delta", keyDim: 6)!, AttentionKind.named("gated-delta", keyDim: 5)!]
    }

    func model(_ kind: AttentionKind) -> TransformerLM<Double> {
        var attention = kind
        if case .linear(let name, var spec) = kind { spec.chunk = 4; attention = .linear(name: name, spec: spec) }
        return TransformerLM<Double>(TransformerConfig(vocab: 11, layers: 2, dModel: 8, heads: 2, dFF: 16, context: 10, positionsEveryLayer: true,
                                                       attention: attention), seed: 3)
    }

    func testDecodingPositionByPositionEqualsTheFullForwardForEveryKind() {
        var rng = Philox(seed: 9)
        let b = 2, t = 10
        let ids = (0..<(b * t)).map { _ in Int32(rng.below(11)) }
        for kind in kinds() {
            let m = model(kind)
            // Pieces of 1, 3, 2 and 4 positions, the state carried between them.
            _ = assertDecodingEqualsFullForward(m, ids: ids, batch: b, length: t, pieces: [1, 3, 2, 4], kind.name)
        }
    }

    /// Decodes `ids` (`batch` sequences of `length`, vocabulary 11) in `pieces`, the states carried between them,
    /// and checks every position's logits against the full forward's; returns the final states.
    func assertDecodingEqualsFullForward(_ m: TransformerLM<Double>, ids: [Int32], batch b: Int, length t: Int, pieces: [Int],
                                         _ what: String, line: UInt = #line) -> [AttentionState<Double>?] {
        var r = Philox(seed: 0)
        let full = Tape.withoutRecording { m.forward(ids, batch: b, length: t, rng: &r).logits }.values  // [b * t, vocab], row b*t + i
        var states = m.initialStates(batch: b)
        var start = 0
        for piece in pieces {
            let chunk = (0..<b).flatMap { s in ids[(s * t + start)..<(s * t + start + piece)] }
            let logits = Tape.withoutRecording { m.step(chunk, batch: b, length: piece, start: start, states: &states) }.values
            for s in 0..<b {
                for i in 0..<piece {
                    let got = Array(logits[((s * piece + i) * 11)..<((s * piece + i + 1) * 11)])
                    let want = Array(full[((s * t + start + i) * 11)..<((s * t + start + i + 1) * 11)])
                    XCTAssertLessThan(maxRelativeError(got, want), 1e-10, "\(what): sequence \(s), position \(start + i)", line: line)
                }
            }
            start += piece
        }
        return states
    }

    /// Softmax's KV cache grows by doubling (64, 128, 256 positions) while pieces of every size are decoded: the
    /// logits still equal the full forward's.
    func testTheKVCacheGrowsWithoutChangingTheResult() {
        var rng = Philox(seed: 5)
        let b = 2, t = 150
        let ids = (0..<(b * t)).map { _ in Int32(rng.below(11)) }
        let m = TransformerLM<Double>(TransformerConfig(vocab: 11, layers: 2, dModel: 8, heads: 2, dFF: 16, context: t, attention: .softmax(block: 16)),
                                      seed: 4)
        let states = assertDecodingEqualsFullForward(m, ids: ids, batch: b, length: t, pieces: [1, 70, 1, 60, 18], "softmax")
        guard case .kv(let keys, _, let count) = states[0]! else { return XCTFail("softmax keeps a KV cache") }
        XCTAssertEqual(count, t)
        XCTAssertEqual(keys.shape[1], 256, "capacity doubled 64 -> 128 -> 256")
    }

    func testEveryKindsModelGradientsByFiniteDifferences() {
        var rng = Philox(seed: 4)
        let ids = (0..<14).map { _ in Int32(rng.below(11)) }, targets = (0..<14).map { _ in Int32(rng.below(11)) }
        for kind in kinds() where kind.name != "softmax" {
            let m = model(kind)
            // Every parameter tensor of the first block's attention (projection with its gates, head parameters).
            let attn = m.blocks[0]
            var checked = [attn.qkv.weight, attn.qkv.bias!]
            if let p = attn.attentionParameters { checked.append(p) }
            gradCheck(checked, tolerance: 1e-5) { _ in
                var r = Philox(seed: 0)
                return crossEntropy(m.forward(ids, batch: 2, length: 7, rng: &r).logits, targets: targets)
            }
        }
    }

    func testNamedKindsAndTheirProjections() {
        XCTAssertNil(AttentionKind.named("nope"))
        XCTAssertNil(AttentionKind.named("softmax", keyDim: 8), "softmax has no separate key size")
        XCTAssertEqual(AttentionKind.named("delta", keyDim: 32)?.name, "delta-k32")
        let d = 16, h = 2
        XCTAssertEqual(AttentionKind.named("softmax")!.kernel.projectionWidth(dModel: d, heads: h), 3 * d)
        XCTAssertEqual(AttentionKind.named("gated-delta")!.kernel.projectionWidth(dModel: d, heads: h), 3 * d + 2 * h)
        XCTAssertEqual(AttentionKind.named("delta", keyDim: 12)!.kernel.projectionWidth(dModel: d, heads: h), 2 * h * 12 + d + h)
        XCTAssertEqual(TransformerLM<Float>(TransformerConfig(vocab: 5, layers: 1, dModel: d, heads: h, dFF: 8, context: 4,
                                                              attention: AttentionKind.named("decayed-learned")!), seed: 1)
            .blocks[0].attentionParameters?.values, [Float](repeating: Float(Foundation.log(0.95 / 0.05)), count: h))
    }
}

final class GenerationTests: XCTestCase {
    /// Greedy generation with the carried state picks, at every position, the argmax of a full forward pass over
    /// the whole text so far (softmax with its KV cache and a linear kind with its state), also past the context.
    func testGreedyGenerationEqualsFullForwardArgmax() {
        for kind in [AttentionKind.softmax(block: 4), AttentionKind.named("gated-delta")!, AttentionKind.named("elu")!] {
            let m = TransformerLM<Float>(TransformerConfig(vocab: 7, layers: 2, dModel: 8, heads: 2, dFF: 16, context: 8, attention: kind), seed: 5)
            let prompt: [Int32] = [1, 2, 3]
            let out = generate(m, prompt: prompt, length: 12, temperature: 0)
            // The generator's window: the symbols fed since the last restart, from position 0; at the context it
            // restarts from the last half-context.
            var text = prompt, window = Array(prompt.suffix(8))
            for i in 0..<12 {
                var r = Philox(seed: 0)
                let logits = Tape.withoutRecording { m.forward(window, batch: 1, length: window.count, rng: &r).logits }.values
                let last = Array(logits.suffix(7))
                let next = Int32(last.indices.max { last[$0] < last[$1] || (last[$0] == last[$1] && $0 > $1) }!)
                XCTAssertEqual(out[i], next, "\(kind.name), symbol \(i)")
                text.append(next)
                window = window.count >= 8 ? Array(text.suffix(4)) : window + [next]
            }
        }
    }
}

final class LinearAttentionExperimentTests: XCTestCase {
    /// The parameter count the matcher uses is the model's, for every kind; matching lands within 2%.
    func testParameterCountsAndMatching() {
        let base = LinearAttentionExperiment.preset("cpu", dataset: "x", vocab: 27)!
        let target = LinearAttentionExperiment.parameterCount(base.model)
        XCTAssertEqual(target, TransformerLM<Float>(base.model, seed: 1).params.count)
        for (name, _) in AttentionKind.catalogue {
            for keyDim in [nil, 8, 96] as [Int?] {
                guard let kind = AttentionKind.named(name, keyDim: keyDim) else { continue }
                let m = LinearAttentionExperiment.matched(base, attention: kind)
                XCTAssertEqual(m.parameters, TransformerLM<Float>(m.config.model, seed: 1).params.count, kind.name)
                XCTAssertLessThan(abs(Double(m.parameters - target)) / Double(target), 0.02, kind.name)
            }
        }
    }

    /// The carried-state evaluation scores the stream position by position with the state carried across windows
    /// and positions restarting at every window.
    func testCarriedEvaluationEqualsAPositionByPositionLoop() {
        let m = TransformerLM<Float>(TransformerConfig(vocab: 5, layers: 2, dModel: 8, heads: 2, dFF: 8, context: 6,
                                                       attention: AttentionKind.named("gated-delta")!), seed: 2)
        var rng = Philox(seed: 3)
        let ids = (0..<20).map { _ in UInt8(rng.below(5)) }
        let carried = evaluateBPCCarried(m, ids: ids)
        XCTAssertEqual(carried.symbols, 19)
        var states = m.initialStates(batch: 1)
        var nats = 0.0
        Tape.withoutRecording {
            for i in 0..<19 {
                let logits = m.step([Int32(ids[i])], batch: 1, length: 1, start: i % 6, states: &states).values.map(Double.init)
                let top = logits.max()!
                nats += top + Foundation.log(logits.map { Foundation.exp($0 - top) }.reduce(0, +)) - logits[Int(ids[i + 1])]
            }
        }
        XCTAssertEqual(carried.bpc, nats / 19 / Foundation.log(2.0), accuracy: 1e-5)
    }
}
