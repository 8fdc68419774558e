import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import PaperLinearAttention
import PaperBrebisson2016
import ArgumentParser
import Foundation

/// Every paper of the suite. Adding a paper: its target under Sources/Papers/, then its type here.
let papers: [any Paper.Type] = [AlRfou2018Paper.self, LinearAttentionPaper.self, FastWeights2016Paper.self, Brebisson2016Paper.self]

@main
struct Replicate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Re-run attention and fast-weight papers end to end: data, model, training, evaluation, figures.",
        discussion: """
            Every run writes its configuration, metrics and checkpoints to HDF5 under runs/; `replicate figures`
            redraws figures from those files alone.
            """,
        version: VersionInfo.text,
        subcommands: papers.map { $0.command } + [Sample.self, DataCommand.self, Inspect.self, Figures.self, Bench.self]
    )

    /// Runs the command line; any failure is one line on stderr and a non-zero exit.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)  // line by line into logs and pipes too, so a killed run's log is complete
        do {
            var command = try parseAsRoot(attachingNegativeNumbers(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {  // --help, --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = message(for: error)
            // Under mpirun every rank says which it is, and a rank that fails ends the whole job (no rank waits on it).
            let rank = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"].map { "rank \($0): " } ?? ""
            FileHandle.standardError.write(Data("error: \(rank)\(oneLine(message.isEmpty ? "\(error)" : message))\n".utf8))
            let status = code.rawValue == 0 ? 1 : code.rawValue
            if Distributed.isActive { Distributed.abort(code: status) }
            Foundation.exit(status)
        }
    }

    /// The arguments with a negative number that follows a long option attached to it ("--batch -5" becomes
    /// "--batch=-5"): ArgumentParser would take "-5" for an option and report the value missing, where the
    /// option's validate() names the allowed range. Arguments after "--" are left alone.
    static func attachingNegativeNumbers(_ arguments: [String]) -> [String] {
        var out: [String] = []
        for (i, a) in arguments.enumerated() {
            if a == "--" { return out + arguments[i...] }
            if let option = out.last, option.hasPrefix("--"), option.count > 2, !option.contains("="), a.hasPrefix("-"), Double(a) != nil {
                out[out.count - 1] = option + "=" + a
            } else {
                out.append(a)
            }
        }
        return out
    }

    /// An error message as one line that keeps all of it: line breaks inside it (a path with a newline, a
    /// library's multi-line text) are shown escaped, "\n" and "\r" as such and the rarer ones as "\u{2028}".
    static func oneLine(_ message: String) -> String {
        message.trimmingCharacters(in: .newlines).unicodeScalars.map { s in
            switch s {
            case "\n": return "\\n"
            case "\r": return "\\r"
            case "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}": return "\\u{\(String(s.value, radix: 16))}"
            default: return String(s)
            }
        }.joined()
    }
}

enum VersionInfo {
    static let version = "0.1.0"
    static var text: String {
        let code = CodeVersion.current
        var lines = ["replicate \(version) (commit \(code.commit.prefix(12)), \(code.dirty))"]
        do {
            try BLAS.ensureLoaded()
            if BLAS.vendor == "OpenBLAS" {
                let chosen = BLAS.chosenCoreType.map { "chosen from CPU features: \($0)" } ?? "OPENBLAS_CORETYPE set by the user"
                lines.append("BLAS: \(BLAS.config); kernel \(BLAS.coreName) (\(chosen)); \(BLAS.libraryPath)")
            } else {
                lines.append("BLAS: \(BLAS.summary); \(BLAS.libraryPath)")
            }
        } catch {
            lines.append("BLAS: \(error)")
        }
        lines.append("HDF5: \(HDF5File.libraryVersion)")
        lines.append("CPU: \(Machine.cpuModel), \(Machine.coreCount) cores")
        return lines.joined(separator: "\n")
    }
}
