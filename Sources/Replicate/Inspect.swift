import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import ArgumentParser
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an HDF5 run file: provenance, groups, datasets (shape, type), attributes, last value of every series.")

    @Argument(help: "An HDF5 file written by replicate (metrics.h5, checkpoint.h5) or any HDF5 file.")
    var file: String

    func run() throws {
        let f = try HDF5File.open(file)
        print("\(file)")
        for (key, value) in try f.attributes() { print("  @\(key) = \(oneLine(value.description))") }
        try show(f, group: "/", indent: "  ")
    }

    private func show(_ f: HDF5File, group: String, indent: String) throws {
        for child in try f.children(of: group) {
            let path = group == "/" ? child : group + "/" + child
            switch f.kind(of: path) {
            case .group:
                print("\(indent)\(child)/")
                for (key, value) in try f.attributes(on: path) { print("\(indent)  @\(key) = \(oneLine(value.description))") }
                try show(f, group: path, indent: indent + "  ")
            case .dataset:
                let info = try f.info(path)
                var line = "\(indent)\(child)  \(info.typeName) \(info.shape)"
                if info.extendible, info.shape.count == 1 {
                    line += "  series"
                    if info.shape[0] > 0, let last = try f.read(path).doubles.last { line += ", last = \(format(last))" }
                } else if info.shape.reduce(1, *) == 1, info.dtype != nil {
                    line += "  = \(format(try f.read(path).doubles[0]))"
                }
                print(line)
                for (key, value) in try f.attributes(on: path) { print("\(indent)  @\(key) = \(oneLine(value.description))") }
            default:
                print("\(indent)\(child)  (other object)")
            }
        }
    }

    private func oneLine(_ s: String) -> String {
        let flat = s.replacingOccurrences(of: "\n", with: " ")
        return flat.count > 400 ? String(flat.prefix(400)) + "…" : flat
    }

    private func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.6g", x)
    }
}
