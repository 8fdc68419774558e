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
        abstract: "Show an HDF5 run file: provenance, groups, datasets (shape, type), attributes, last value of every series.",
        discussion: """
            Reads any valid HDF5 file. Every object is shown once, however many names (hard links) it has, so link \
            loops end; soft and external links are shown, not followed. Values are read in small slabs (the first \
            few, a series' last), so a huge or sparse dataset costs no more than a small one.
            """)

    @Argument(help: "An HDF5 file written by replicate (metrics.h5, checkpoint.h5) or any HDF5 file.")
    var file: String

    func run() throws {
        let f = try HDF5File.open(file)
        print(file)
        var tree = TreePrinter(file: f)
        try tree.printTree()
    }
}

/// Prints a file's groups, datasets, named types, links and attributes depth first, visiting every object once by
/// its address: a name that leads to an object already shown (a second hard link, a link to an ancestor) says so
/// instead of showing it again. The walk keeps its own stack and opens objects by address, so deep nesting costs
/// neither the call stack nor path lookups.
private struct TreePrinter {
    let file: HDF5File
    /// Where each object was shown: its parent group's address (nil for the root) and its name there.
    private var shown: [HDF5Address: (parent: HDF5Address?, name: String)] = [:]

    /// Values shown of a dataset (along its last axis) and of an attribute; attributes shown of one object.
    private let datasetValues = 6, attributeValues = 16, attributesShown = 100
    /// Deeper levels are not indented further but labelled with their depth, so lines stay short.
    private let maxIndent = 32

    init(file: HDF5File) { self.file = file }

    private struct Frame {
        let group: HDF5Address
        let depth: Int
        let links: [HDF5Link]
        var next = 0
    }

    mutating func printTree() throws {
        let root = try file.rootAddress()
        shown[root] = (nil, "")
        printAttributes(of: root, depth: 1)
        var stack = [Frame(group: root, depth: 1, links: links(of: root, depth: 1))]
        while let top = stack.last {
            guard top.next < top.links.count else { stack.removeLast(); continue }
            stack[stack.count - 1].next += 1
            let link = top.links[top.next], depth = top.depth, indent = indentation(depth)
            if let address = link.target.address {
                if shown[address] != nil {
                    let name = link.target.isGroup ? link.name + "/" : link.name
                    emit("\(indent)\(name)  (hard link to \(path(of: address)), shown above)")
                    continue
                }
                shown[address] = (top.group, link.name)
            }
            switch link.target {
            case .group(let address):
                emit("\(indent)\(link.name)/")
                printAttributes(of: address, depth: depth + 1)
                stack.append(Frame(group: address, depth: depth + 1, links: links(of: address, depth: depth + 1)))
            case .dataset(let address):
                do {
                    emit(indent + datasetLine(link.name, try file.preview(datasetAt: address, limit: datasetValues)))
                } catch {
                    emit("\(indent)\(link.name)  (\(error))")
                }
                printAttributes(of: address, depth: depth + 1)
            case .namedType(let address):
                emit("\(indent)\(link.name)  (named datatype \((try? file.typeName(ofNamedTypeAt: address)) ?? "?"))")
                printAttributes(of: address, depth: depth + 1)
            case .otherObject:
                emit("\(indent)\(link.name)  (other object)")
            case .soft(let target, let resolves):
                emit("\(indent)\(link.name) -> \(target)  (soft link\(resolves ? "" : ", does not resolve in this file"))")
            case .external(let otherFile, let object):
                emit("\(indent)\(link.name) -> \(otherFile):\(object)  (external link, not followed)")
            case .userDefined(let linkClass):
                emit("\(indent)\(link.name)  (user-defined link of class \(linkClass), not followed)")
            case .unreadable(let why):
                emit("\(indent)\(link.name)  (unreadable link: \(why))")
            }
        }
    }

    private func links(of group: HDF5Address, depth: Int) -> [HDF5Link] {
        do {
            return try file.links(inGroupAt: group)
        } catch {
            emit("\(indentation(depth))(group not listed: \(error))")
            return []
        }
    }

    private func printAttributes(of object: HDF5Address, depth: Int) {
        do {
            let (attributes, total) = try file.attributes(ofObjectAt: object, first: attributesShown, limit: attributeValues)
            for (name, preview) in attributes { emit("\(indentation(depth))@\(name) = \(attributeText(preview))") }
            if total > attributes.count {
                emit("\(indentation(depth))@… \(total - attributes.count) more attributes (\(total) in all)")
            }
        } catch {
            emit("\(indentation(depth))(attributes not read: \(error))")
        }
    }

    /// `name  type shape` and what is known of the values: a series' last value, a single value, the first few.
    private func datasetLine(_ name: String, _ p: HDF5Preview) -> String {
        let line = "\(name)  \(p.typeName) \(shapeText(p.shape))"
        if let why = p.unreadable { return line + "  (\(why))" }
        if p.extendible, p.shape?.count == 1 { return line + "  series" + (p.last.map { ", last = \($0)" } ?? "") }
        if p.count == 1, let value = p.first.first { return line + "  = \(bare(value))" }
        guard !p.first.isEmpty else { return line }
        // The shape is on the line already (and its element count may not even fit in 64 bits).
        let more = p.count > UInt64(p.first.count) ? ", …" : ""
        return line + "  = [" + p.first.map(\.description).joined(separator: ", ") + more + "]"
    }

    private func attributeText(_ p: HDF5Preview) -> String {
        if let why = p.unreadable { return "(\(why))" }
        guard let shape = p.shape else { return "(null dataspace, \(p.typeName))" }
        if shape.isEmpty, let value = p.first.first { return bare(value) }
        let values = HDF5Element.describe(p.first, count: Int(clamping: p.count))
        return shape.count > 1 ? values + "  shape \(shapeText(shape))" : values
    }

    private func shapeText(_ shape: [UInt64]?) -> String {
        guard let shape else { return "(null dataspace)" }
        return shape.isEmpty ? "scalar" : "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }

    /// A value shown alone: a (non-empty) string without quotes, anything else as usual.
    private func bare(_ value: HDF5Element) -> String {
        if case .string(let s) = value, !s.isEmpty { return s }
        return value.description
    }

    /// The path under which an already shown object was shown.
    private func path(of address: HDF5Address) -> String {
        var names: [String] = [], at = address
        while let entry = shown[at], let parent = entry.parent {
            names.append(entry.name)
            at = parent
        }
        return "/" + names.reversed().joined(separator: "/")
    }

    private func indentation(_ depth: Int) -> String {
        depth <= maxIndent ? String(repeating: "  ", count: depth) : String(repeating: "  ", count: maxIndent) + "(depth \(depth)) "
    }

    /// Prints one line, newlines in names or values flattened and very long lines cut.
    private func emit(_ line: String) {
        let flat = line.replacingOccurrences(of: "\n", with: " ")
        print(flat.count > 400 ? String(flat.prefix(400)) + "…" : flat)
    }
}

private extension HDF5Link.Target {
    /// The object a hard link leads to.
    var address: HDF5Address? {
        switch self {
        case .group(let a), .dataset(let a), .namedType(let a), .otherObject(let a): return a
        default: return nil
        }
    }
    var isGroup: Bool {
        if case .group = self { return true }
        return false
    }
}
