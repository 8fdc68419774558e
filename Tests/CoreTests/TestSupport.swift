import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation
import XCTest

/// A fresh temporary directory per test, removed afterwards.
func makeTempDir(_ name: String = #function) throws -> String {
    let dir = NSTemporaryDirectory() + "replicate-tests-\(getpid())-\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs a program and returns (exit status, stdout, stderr).
func runProcess(_ exe: String, _ args: [String]) throws -> (Int32, String, String) {
    let r = try Subprocess.run(exe, args)
    return (r.status, r.outputText, r.errorText)
}

func which(_ tool: String) -> String? {
    for d in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(d)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}
