import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import PaperLinearAttention
import ArgumentParser
import Foundation

/// Every paper of the suite. Adding a paper: its target under Sources/Papers/, then its type here.
let papers: [any Paper.Type] = [AlRfou2018Paper.self, LinearAttentionPaper.self, FastWeights2016Paper.self]

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
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {  // --help, --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

enum VersionInfo {
    static let version = "0.1.0"
    static var text: String {
        let code = CodeVersion.current
        var lines = ["replicate \(version) (commit \(code.commit.prefix(12)), \(code.dirty))"]
        if (try? BLAS.ensureLoaded()) != nil {
            let chosen = BLAS.chosenCoreType.map { "chosen from CPU features: \($0)" } ?? "OPENBLAS_CORETYPE set by the user"
            lines.append("BLAS: \(BLAS.config); kernel \(BLAS.coreName) (\(chosen))")
        } else {
            lines.append("BLAS: OpenBLAS not found (apt-get install libopenblas-dev)")
        }
        lines.append("HDF5: \(HDF5File.libraryVersion)")
        lines.append("CPU: \(Machine.cpuModel), \(Machine.coreCount) cores")
        return lines.joined(separator: "\n")
    }
}
