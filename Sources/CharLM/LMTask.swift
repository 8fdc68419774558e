// The character language-modelling task for the one trainer: random windows, Al-Rfou's auxiliary losses,
// bits per character on validation (periodic) and on the whole test split (the selected model).
import Engine
import Foundation
import NN
import Runs

/// A decoder-only transformer trained on random windows of a corpus's training split, with Al-Rfou et al.'s
/// auxiliary losses as the configuration switches them. Validation bits per character select the model; the
/// selected model is scored on the validation prefix and on the whole test split, both with the configuration's
/// stride (stride 1 is the paper's protocol, larger strides are labelled approximations).
public final class LMTask: TrainingTask {
    public let config: LMTrainingConfig
    public let corpus: CharCorpus
    public let model: TransformerLM<Float>
    public let experiment: String
    /// Also score the selected model on the test split with the state carried across it (`evaluateBPCCarried`):
    /// for attention kinds with a fixed-size state.
    public let carriedTestEvaluation: Bool

    public var params: ParameterStore<Float> { model.params }
    public var label: String { "" }
    public var attributes: [(String, AttributeValue)] { [("attention", .string(config.model.attention.name))] }
    public var tokensPerStep: Int? { config.training.batch * config.model.context }
    public var progressEvery: Int { 1 }
    public var selectionMetric: String { "bpc" }

    /// `experiment` names the paper the runs belong to (the `experiment` attribute of their files).
    public init(config: LMTrainingConfig, corpus: CharCorpus, experiment: String, carriedTestEvaluation: Bool = false) throws {
        if let problem = config.problems.first { throw TrainingError(problem) }
        guard config.model.vocab == corpus.alphabet.size else {
            throw TrainingError("model vocabulary \(config.model.vocab) does not match \(corpus.name)'s \(corpus.alphabet.size) symbols")
        }
        guard corpus.train.count > config.model.context + 2 else {
            throw TrainingError("\(corpus.name): training split (\(corpus.train.count) symbols) is shorter than one window of \(config.model.context + 2)")
        }
        guard corpus.valid.count >= 2, corpus.test.count >= 2 else {
            throw TrainingError("\(corpus.name): the validation and test splits need at least 2 symbols each")
        }
        self.config = config
        self.corpus = corpus
        self.experiment = experiment
        self.carriedTestEvaluation = carriedTestEvaluation
        model = TransformerLM<Float>(config.model, seed: config.training.seed)
    }

    public func batchLoss(step: Int, rng: inout RunRNG) -> BatchLoss {
        // The global batch's windows are drawn on every rank of a data-parallel job; each trains on its rows.
        let rows = Distributed.slice(config.training.batch), b = rows.count, t = config.model.context, n = corpus.train.count
        var x = [Int32](), y1 = [Int32](), y2 = [Int32]()
        x.reserveCapacity(b * t); y1.reserveCapacity(b * t); y2.reserveCapacity(b * t)
        for row in 0..<config.training.batch {
            let s = rng.data.below(n - t - 1)  // needs symbols s ... s+t+1
            guard rows.contains(row) else { continue }
            for j in 0..<t {
                x.append(Int32(corpus.train[s + j]))
                y1.append(Int32(corpus.train[s + j + 1]))
                y2.append(Int32(corpus.train[s + j + 2]))
            }
        }
        let aux = config.aux
        if !aux.multiplePositions {  // only the last position of each window is a target
            for r in 0..<b { for j in 0..<(t - 1) { y1[r * t + j] = -1; y2[r * t + j] = -1 } }
        }
        let out = model.forward(x, batch: b, length: t, dropout: config.model.dropout, recompute: config.recomputes, rng: &rng.dropout)
        var loss = crossEntropy(out.logits, targets: y1)
        let finalLoss = loss.scalar
        var intermediate: Float = 0, nextButOne: Float = 0, active = 0
        let layers = config.model.layers
        if aux.intermediateLayers {
            for l in 1..<max(layers, 1)
            where AuxiliaryLosses.intermediateActive(layer: l, of: layers, step: step, totalSteps: config.training.steps) {
                let h = model.lnF(reshape(out.hidden[l - 1], [b * t, config.model.dModel]))
                let li = crossEntropy(model.head(h), targets: y1, weight: Float(aux.intermediateWeight))
                intermediate += li.scalar
                active += 1
                loss = loss + li
            }
        }
        if aux.multipleTargets, let head2 = model.headNextButOne {
            let w = Float(aux.multipleTargetsWeight)
            let l2 = crossEntropy(head2(out.final), targets: y2, weight: w)
            nextButOne = w > 0 ? l2.scalar / w : 0
            loss = loss + l2
        }
        return BatchLoss(loss: loss, metrics: [
            "loss_final": Double(finalLoss), "bpc_final": Double(finalLoss) / Foundation.log(2.0),
            "loss_intermediate": Double(intermediate), "loss_next2": Double(nextButOne), "active_intermediate": Double(active),
        ])
    }

    /// Validation bits per character on the configured prefix and stride.
    public func evaluate(step: Int) throws -> [String: Double] {
        let e = evaluateBPC(model, ids: corpus.valid, stride: config.evalStride, maxSymbols: config.evalSymbols)
        return ["bpc": e.bpc, "symbols": Double(e.symbols)]
    }

    /// The selected model on the validation prefix (as during training) and on the whole test split.
    public func results() throws -> TaskResults {
        let v = evaluateBPC(model, ids: corpus.valid, stride: config.evalStride, maxSymbols: config.evalSymbols)
        let t = evaluateBPC(model, ids: corpus.test, stride: config.evalStride)
        var values = ["valid_bpc": v.bpc, "valid_symbols": Double(v.symbols), "test_bpc": t.bpc, "test_symbols": Double(t.symbols),
                      "stride": Double(config.evalStride)]
        if carriedTestEvaluation {
            let c = evaluateBPCCarried(model, ids: corpus.test)
            values["test_bpc_carried"] = c.bpc
            values["test_symbols_carried"] = Double(c.symbols)
        }
        return TaskResults(values: values)
    }

    public func progress(batch: [String: Double], lastEval: [String: Double]?) -> String {
        String(format: "train bpc %.3f  valid bpc %@", batch["bpc_final"] ?? .nan, lastEval?["bpc"].map { String(format: "%.3f", $0) } ?? "-")
    }

    /// Loads a trained model and its configuration from any LM run file (checkpoint.h5 or best.h5), for
    /// evaluation and sampling: the model is rebuilt from the file's own configuration.
    public static func loadModel(checkpoint path: String) throws -> (model: TransformerLM<Float>, config: LMTrainingConfig, step: Int) {
        let f = try Checkpoint.open(path)
        guard let json = try f.attribute("config")?.stringValue, let config = try? LMTrainingConfig.fromJSON(json) else {
            throw TrainingError("\(path): not a language-model checkpoint (no language-model configuration)")
        }
        let model = TransformerLM<Float>(config.model, seed: config.training.seed)
        try model.params.read(from: f)
        return (model, config, Int(try f.attribute("step")?.intValue ?? 0))
    }
}
