import Engine
import Foundation
import Runs
import XCTest

/// Input a user should not give, through the binary: every refusal is one line on stderr starting "error: ",
/// naming the cause, with a non-zero exit and nothing trained or written.
final class HostileInputTests: XCTestCase {
    /// Runs `args` and checks the refusal's shape; returns the message (without "error: " and the newline).
    @discardableResult
    func refusal(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let (rc, out, err) = try runReplicate(args)
        XCTAssertNotEqual(rc, 0, "\(args)", file: file, line: line)
        XCTAssertEqual(out, "", "\(args)", file: file, line: line)
        XCTAssertTrue(err.hasPrefix("error: ") && err.hasSuffix("\n"), "\(args): \(err)", file: file, line: line)
        XCTAssertEqual(err.filter { $0 == "\n" }.count, 1, "\(args): \(err)", file: file, line: line)
        return String(err.dropFirst("error: ".count).dropLast())
    }

    /// A text8-alphabet corpus of `symbols` symbols at `path`.
    func writeCorpus(_ path: String, seed: UInt64, symbols: Int = 6_000) throws {
        try writeWordCorpus(path, seed: seed, symbols: symbols)
    }

    /// Sizes, counts and seeds of every command outside their ranges, negative numbers included (which
    /// ArgumentParser would otherwise take for options): the message names the option and its range.
    func testNumericOptionsOutOfRangeNameTheOptionAndItsRange() throws {
        let dir = try makeTempDirectory()
        let cases: [([String], String)] = [
            (["al-rfou2018", "--batch", "-5"], "--batch must be positive and at most 1048576 (got -5)"),
            (["al-rfou2018", "--batch", "10000000"], "--batch must be positive and at most 1048576 (got 10000000)"),
            (["al-rfou2018", "--steps", "-1"], "--steps must be positive and at most 1000000000 (got -1)"),
            (["al-rfou2018", "--eval-every", "0"], "--eval-every must be positive"),
            (["fastweights", "--clip", "-1"], "--clip must be a non-negative number"),
            (["al-rfou2018", "--threads", "-2"], "--threads must be positive and at most 1024 (got -2)"),
            (["al-rfou2018", "--seed", "9223372036854775808"], "--seed must be between 0 and 9223372036854775807 (got 9223372036854775808)"),
            (["al-rfou2018", "--eval-symbols", "-1"], "--eval-symbols must be positive"),
            (["al-rfou2018", "--eval-stride", "-4"], "--eval-stride must be positive"),
            (["al-rfou2018", "eval", "--checkpoint", dir + "/x.h5", "--stride", "-1"], "--stride must be positive"),
            (["al-rfou2018", "eval", "--checkpoint", dir + "/x.h5", "--max-symbols", "-3"], "--max-symbols must be positive"),
            (["linear-attention", "--key-dim", "-2"], "--key-dim must be positive and at most 65536 (got -2)"),
            (["linear-attention", "--sweep-key-dims", "8,100000"], "--sweep-key-dims must be positive and at most 65536 (got 100000)"),
            (["linear-attention", "--decode-contexts", "-1"], "--decode-contexts must be positive"),
            (["fastweights", "--hidden", "100000"], "--hidden must be positive and at most 65536 (got 100000)"),
            (["fastweights", "--pairs", "-3"], "--pairs must be positive and at most 26 (got -3)"),
            (["fastweights", "--inner-steps", "-1"], "--inner-steps must be between 0 and 100 (got -1)"),
            (["fastweights", "--head-hidden", "-1"], "--head-hidden must be between 0 and 65536 (got -1)"),
            (["fastweights", "--jobs", "-2"], "--jobs must be positive"),
            (["fastweights", "--batch", "-5"], "--batch must be positive"),
            (["fastweights", "export-data", dir + "/d", "--sizes", "1000000000000,1,1"],
             "--sizes must be positive and at most 1000000000 (got 1000000000000)"),
            (["fastweights", "export-data", dir + "/d", "--sizes", "100,-1,5"], "--sizes must be positive and at most 1000000000 (got -1)"),
            (["fastweights", "export-data", dir + "/d", "--seed", "18446744073709551615"], "--seed must be between 0 and 9223372036854775807"),
            (["sample", "--checkpoint", dir + "/x.h5", "--prompt", "a", "--length", "-3"], "--length must be positive"),
            (["sample", "--checkpoint", dir + "/x.h5", "--prompt", "a", "--top-k", "0"], "--top-k must be positive"),
            (["sample", "--checkpoint", dir + "/x.h5", "--prompt", "a", "--seed", "9223372036854775808"], "--seed must be between 0 and"),
            (["bench", "engine", "--batch", "-1"], "--batch must be positive"),
            (["bench", "engine", "--warmup", "-1"], "--warmup must be between 0 and 1000 (got -1)"),
            (["bench", "engine", "--layers", "100000"], "--layers must be positive and at most 1024 (got 100000)"),
            (["bench", "engine", "--memory-contexts", "-4"], "--memory-contexts must be positive"),
            (["bench", "engine", "--shape", "t99"], "--shape must be one of cpu, t12"),
            (["bench", "engine", "--rounds", "0"], "--rounds must be positive and at most 100 (got 0)"),
            (["bench", "engine", "--scaling-rounds", "0"], "--scaling-rounds must be positive and at most 100 (got 0)"),
            (["bench", "engine", "--without", "dropout"], "--without must be one of keep-scores (got 'dropout')"),
            (["bench", "blas", "--shape", "huge"], "--shape must be one of cpu, t12"),
            (["bench", "blas", "--rounds", "0"], "--rounds must be positive and at most 100 (got 0)"),
            (["bench", "blas", "--threads", "0"], "--threads must be positive"),
            (["bench", "linear-attention", "--contexts", "0"], "--contexts must be positive"),
            (["bench", "linear-attention", "--tokens-per-step", "-1"], "--tokens-per-step must be positive"),
            (["bench", "step-memory", "--context", "-1"], "--context must be positive"),
        ]
        for (args, message) in cases {
            XCTAssertTrue(try refusal(args).hasPrefix(message), "\(args): expected '\(message)'")
        }
        // A seed that is not a number ArgumentParser can read is still one line naming the option.
        XCTAssertTrue(try refusal(["al-rfou2018", "--seed", "-1"]).contains("'--seed <seed>'"))
        // After "--" a negative number is an argument like any other, not an option's value.
        XCTAssertEqual(try refusal(["inspect", "--", "-5"]), "-5: no such file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/d"))
    }

    /// Sizes within range whose run cannot fit in this machine's memory (the estimate of parameters, gradients,
    /// optimizer state and one step's activations is in petabytes or hundreds of gigabytes) are refused before
    /// anything is read, allocated or written, with the estimate and the machine's memory (MemTotal).
    func testRunsBeyondTheMachinesMemoryAreRefusedWithTheEstimate() throws {
        let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        let kB = try XCTUnwrap(meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }?.split(separator: " ").compactMap { Double($0) }.first)
        let machine = String(format: "this machine has %.1f GB", kB * 1024 / 1e9)
        let dir = try makeTempDirectory()
        let cases: [([String], String)] = [
            (["al-rfou2018", "--batch", "1000000", "--out", dir + "/r"], "preset cpu with batch 1000000 needs an estimated "),
            (["linear-attention", "--batch", "1000000", "--out", dir + "/r"], "softmax (preset cpu, batch 1000000) needs an estimated "),
            (["fastweights", "--hidden", "65536", "--batch", "1048576", "--out", dir + "/r"], "irnn-R65536 (batch 1048576) needs an estimated "),
            (["fastweights", "export-data", dir + "/r", "--pairs", "26", "--sizes", "1000000000,1000000000,1000000000"],
             "--sizes 1000000000,1000000000,1000000000 needs an estimated "),
            (["bench", "engine", "--batch", "1000000"], "context 256, batch 1000000 needs an estimated "),
            (["bench", "linear-attention", "--contexts", "1048576", "--tokens-per-step", "16777216", "--out", dir + "/r"],
             "softmax at context 1048576, batch 16 needs an estimated "),
        ]
        for (args, start) in cases {
            let message = try refusal(args)
            XCTAssertTrue(message.hasPrefix(start) && message.contains(" GB of memory (") && message.hasSuffix(machine), "\(args): \(message)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/r"), "nothing is written")
    }

    /// The largest seed trains and is recorded as given; `eval` refuses another corpus unless asked, and a stride
    /// longer than the context, in training and in eval.
    func testLargestSeedEvalOnAnotherCorpusAndStrideLongerThanTheContext() throws {
        let dir = try makeTempDirectory()
        try writeCorpus(dir + "/a.txt", seed: 1)
        try writeCorpus(dir + "/b.txt", seed: 2)
        let run = dir + "/run"
        let train = ["al-rfou2018", "--preset", "smoke", "--data-file", dir + "/a.txt", "--alphabet", "text8", "--eval-symbols", "200", "--out", run]
        XCTAssertEqual(try refusal(train + ["--eval-stride", "33"]),
                       "--eval-stride 33 is longer than the model's context of 32 symbols (a window scores at most its context)")
        var (rc, _, err) = try runReplicate(train + ["--steps", "2", "--seed", "9223372036854775807"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(try HDF5File.open(run + "/metrics.h5").attribute("seed")?.intValue, Int64.max)

        let eval = ["al-rfou2018", "eval", "--checkpoint", run + "/checkpoint.h5", "--max-symbols", "100"]
        XCTAssertEqual(try refusal(eval + ["--data-file", dir + "/b.txt"]),
                       "\(run)/checkpoint.h5 was trained on a.txt, not b.txt: pass --other-corpus to evaluate it on another corpus")
        XCTAssertEqual(try refusal(eval), "\(run)/checkpoint.h5 was trained on the file \(dir)/a.txt: pass it with --data-file")
        XCTAssertEqual(try refusal(eval + ["--data-file", dir + "/a.txt", "--stride", "33"]),
                       "--stride 33 is longer than the model's context of 32 symbols (a window scores at most its context)")
        // Asked for, another corpus is scored but not recorded as the run's result.
        var out = ""
        (rc, out, err) = try runReplicate(eval + ["--data-file", dir + "/b.txt", "--other-corpus"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("| smoke | b.txt |"), out)
        XCTAssertNotEqual(try HDF5File.open(run + "/metrics.h5").kind(of: "results_test/bpc"), .dataset)
        (rc, out, err) = try runReplicate(eval + ["--data-file", dir + "/a.txt", "--stride", "32"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("| smoke | a.txt |") && out.contains("stride 32 approximation"), out)
        XCTAssertEqual(try HDF5File.open(run + "/metrics.h5").read("results_test/stride").doubles, [32])
    }

    /// A message with a line break (here from a path) stays one line and keeps its cause: the break is escaped.
    func testMessagesWithLineBreaksStayOneLineWithTheirCause() throws {
        let dir = try makeTempDirectory()
        XCTAssertEqual(try refusal(["inspect", dir + "/no\nsuch.h5"]), "\(dir)/no\\nsuch.h5: no such file")
        XCTAssertEqual(try refusal(["al-rfou2018", "eval", "--checkpoint", dir + "/a\r\nb.h5"]), "\(dir)/a\\r\\nb.h5: no such file")
        XCTAssertEqual(try refusal(["al-rfou2018", "--preset", "smoke", "--data-file", dir + "/x\ny.txt", "--out", dir + "/r"]),
                       "\(dir)/x\\ny.txt: cannot read")
    }

    /// Retrieval TSV files with CRLF line ends (training data and --also-evaluate) train exactly as the same
    /// files with LF.
    func testRetrievalFilesWithCRLFTrainLikeLF() throws {
        let dir = try makeTempDirectory()
        var (rc, _, err) = try runReplicate(["fastweights", "export-data", dir + "/lf", "--pairs", "3", "--sizes", "300,50,60", "--seed", "5"])
        XCTAssertEqual(rc, 0, err)
        try FileManager.default.createDirectory(atPath: dir + "/crlf", withIntermediateDirectories: true)
        for name in ["train", "validation", "test"] {
            let lf = try String(contentsOfFile: dir + "/lf/\(name).tsv", encoding: .utf8)
            try Data(lf.replacingOccurrences(of: "\n", with: "\r\n").utf8).write(to: URL(fileURLWithPath: dir + "/crlf/\(name).tsv"))
        }
        var errors: [[Double]] = []
        for data in ["lf", "crlf"] {
            let root = dir + "/runs-\(data)"
            (rc, _, err) = try runReplicate(["fastweights", "--preset", "smoke", "--data", dir + "/" + data, "--also-evaluate", dir + "/\(data)/test.tsv",
                                             "--models", "lstm", "--hidden", "8", "--steps", "4", "--eval-every", "2", "--jobs", "1", "--no-report",
                                             "--out", root])
            XCTAssertEqual(rc, 0, "\(data): \(err)")
            let metrics = try HDF5File.open(root + "/lstm-R8/metrics.h5")
            errors.append(try ["results/test_error", "results/also_test_error", "results/also_test_count", "train/loss"].flatMap { try metrics.read($0).doubles })
        }
        XCTAssertEqual(errors[0], errors[1])
        XCTAssertEqual(errors[0][2], 60, "every example of the CRLF file is read")
    }

    /// An OPENBLAS_CORETYPE that OpenBLAS does not take is one warning line at load, naming the value and the
    /// kernel used; one it takes is silent.
    func testUnknownOpenBLASCoreTypeIsReported() throws {
        let version = try Subprocess.run(try replicateBinary(), ["--version"], environment: ["OPENBLAS_CORETYPE": "NoSuchCore", "REPLICATE_BLAS": "openblas"])
        XCTAssertEqual(version.status, 0, version.errorText)
        let kernel = try XCTUnwrap(version.outputText.components(separatedBy: "kernel ").dropFirst().first?.split(separator: " ").first)
        XCTAssertEqual(version.errorText, "warning: OPENBLAS_CORETYPE=NoSuchCore was not taken by OpenBLAS (a name it does not know, or kernels this "
                       + "CPU cannot run); it runs its \(kernel) kernels\n")
        let taken = try Subprocess.run(try replicateBinary(), ["--version"], environment: ["OPENBLAS_CORETYPE": kernel.lowercased(), "REPLICATE_BLAS": "openblas"])
        XCTAssertEqual(taken.status, 0, taken.errorText)
        XCTAssertEqual(taken.errorText, "")
        XCTAssertTrue(taken.outputText.contains("kernel \(kernel) "), taken.outputText)
    }
}
