// How the NN layer's state (parameters, optimizer moments) is laid out in HDF5 files.
import Engine
import NN

extension ParameterStore {
    /// Writes every parameter under `group/<name>` as Float32 (the engine's training precision).
    public func write(to file: HDF5File, group: String = "params") throws {
        for (e, t) in zip(entries, tensors) {
            try file.write(NDArray(t.values.map { Float($0) }, shape: e.shape), to: "\(group)/\(e.name)")
        }
    }

    /// Reads every parameter from `group/<name>`; names and shapes must match exactly.
    public func read(from file: HDF5File, group: String = "params") throws {
        for (e, t) in zip(entries, tensors) {
            let name = "\(group)/\(e.name)"
            guard file.kind(of: name) == .dataset else { throw StoreError("\(file.path): parameter '\(e.name)' is missing") }
            let a = try file.read(name)
            guard a.shape == e.shape else { throw StoreError("\(file.path): parameter '\(e.name)' has shape \(a.shape), the model needs \(e.shape)") }
            let v = a.doubles
            for i in 0..<e.count { t.data[i] = T(v[i]) }
        }
    }
}

extension Optimizer {
    /// Writes the optimizer's arrays (Float32) and step count under `group`.
    public func write(to file: HDF5File, group: String) throws {
        let s = state
        for (name, values) in s.arrays { try file.write(NDArray(values.map { Float($0) }), to: "\(group)/\(name)") }
        try file.write(NDArray([Int64(s.steps)], shape: []), to: "\(group)/steps")
    }

    /// Reads back what `write(to:group:)` wrote.
    public func read(from file: HDF5File, group: String) throws {
        var arrays: [(name: String, values: [Double])] = []
        for (name, _) in state.arrays {
            guard file.kind(of: "\(group)/\(name)") == .dataset else { throw StoreError("\(file.path): optimizer state '\(name)' is missing") }
            arrays.append((name, try file.read("\(group)/\(name)").doubles))
        }
        do {
            try restore(OptimizerState(arrays: arrays, steps: Int(try file.read("\(group)/steps").int64s[0])))
        } catch let e as NNError {
            throw StoreError("\(file.path): \(e.description)")
        }
    }
}
