import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation
import XCTest

final class StoreTests: XCTestCase {
    func testRoundTripEveryDTypeAndShape() throws {
        let dir = try makeTempDir()
        let path = dir + "/arrays.h5"
        let arrays: [String: NDArray] = [
            "f32/matrix": NDArray([1.5, -2.25, 3, 4, 5, 6e-8], shape: [2, 3]),
            "f32/scalar": NDArray([Float(7.5)], shape: []),
            "f32/one": NDArray([Float(-1)], shape: [1]),
            "f32/empty": NDArray([Float](), shape: [0]),
            "f32/empty2d": NDArray([Float](), shape: [3, 0]),
            "f64/cube": NDArray((0..<24).map { Double($0) * 0.1 - 1 }, shape: [2, 3, 4]),
            "i32/v": NDArray([Int32.min, -1, 0, Int32.max], shape: [4]),
            "i64/v": NDArray([Int64.min, 42, Int64.max], shape: [3, 1]),
            "u8/bytes": NDArray([UInt8](0...255), shape: [16, 16]),
            "u8/scalar": NDArray([UInt8(9)], shape: []),
        ]
        let f = try HDF5File.create(path)
        for (name, a) in arrays { try f.write(a, to: name) }
        try f.close()

        let g = try HDF5File.open(path)
        for (name, a) in arrays {
            let back = try g.read(name)
            XCTAssertEqual(back, a, name)
            XCTAssertEqual(back.dtype, a.dtype, name)
        }
        XCTAssertEqual(try g.children(), ["f32", "f64", "i32", "i64", "u8"])
        XCTAssertEqual(try g.datasets().count, arrays.count)
        XCTAssertEqual(g.kind(of: "f32"), .group)
        XCTAssertEqual(g.kind(of: "f32/matrix"), .dataset)
        XCTAssertNil(g.kind(of: "nope/never"))
    }

    func testOverwriteDatasetReplacesIt() throws {
        let path = try makeTempDir() + "/a.h5"
        let f = try HDF5File.create(path)
        try f.write(NDArray([Float(1), 2, 3]), to: "x")
        try f.write(NDArray([Int32(5)], shape: [1, 1]), to: "x")
        XCTAssertEqual(try f.read("x"), NDArray([Int32(5)], shape: [1, 1]))
    }

    func testAttributesOnRootGroupAndDataset() throws {
        let path = try makeTempDir() + "/attrs.h5"
        let f = try HDF5File.create(path)
        try f.write(NDArray([Double(1)]), to: "g/d")
        let values: [(String, AttributeValue)] = [
            ("s", .string("héllo, wörld")), ("empty", .string("")), ("i", .int(-12)), ("d", .double(0.125)),
            ("is", .ints([1, 2, 3])), ("ds", .doubles([0.5, -1.5])),
        ]
        for object in ["/", "g", "g/d"] {
            for (k, v) in values { try f.setAttribute(k, v, on: object) }
        }
        try f.setAttribute("i", .int(99))  // replace
        try f.close()
        let g = try HDF5File.open(path)
        XCTAssertEqual(try g.attribute("i"), .int(99))
        for object in ["g", "g/d"] {
            for (k, v) in values { XCTAssertEqual(try g.attribute(k, on: object), v, "\(object)@\(k)") }
        }
        XCTAssertEqual(try g.attributes(on: "g").map { $0.0 }, ["d", "ds", "empty", "i", "is", "s"])
        XCTAssertNil(try g.attribute("missing"))
    }

    func testSeriesAppendAcrossCloseAndReopen() throws {
        let path = try makeTempDir() + "/series.h5"
        do {
            let f = try HDF5File.create(path)
            try f.createSeries("train/loss", dtype: .float64, chunk: 4)
            try f.append(NDArray([1.0, 2.0, 3.0]), to: "train/loss")
            try f.append(NDArray([4.0]), to: "train/loss")
            try f.close()
        }
        let f = try HDF5File.open(path, writable: true)
        XCTAssertTrue(try f.info("train/loss").extendible)
        try f.createSeries("train/loss", dtype: .float64)  // exists: no-op
        try f.append(NDArray((5...10).map(Double.init)), to: "train/loss")
        XCTAssertEqual(try f.read("train/loss").doubles, (1...10).map(Double.init))
        try f.truncateSeries("train/loss", to: 7)
        XCTAssertEqual(try f.read("train/loss").doubles, (1...7).map(Double.init))
        try f.write(NDArray([Float(1)]), to: "fixed")
        XCTAssertThrowsError(try f.append(NDArray([Float(1)]), to: "fixed"))
    }

    func testMetricsLogBuffersFlushesAndResumes() throws {
        let path = try makeTempDir() + "/metrics.h5"
        do {
            let log = try MetricsLog(path: path, flushEvery: 3, flushSeconds: 1e9)
            for step in 1...5 { try log.record("train", step: Int64(step), ["loss": Double(10 - step)]) }
            // Three rows were flushed by the third record; two are still buffered.
            let peek = try HDF5File.open(path)
            XCTAssertEqual(try peek.read("train/step").int64s, [1, 2, 3])
            try peek.close()
            try log.record("train", step: 6, ["loss": 4, "lr": 0.5])  // a new metric appears: earlier rows NaN
            try log.record("eval", step: 6, ["bpc": 2.5])
            try log.close()
        }
        let log = try MetricsLog(path: path, flushEvery: 100)
        let lr = try log.file.read("train/lr").doubles
        XCTAssertEqual(lr.count, 6)
        XCTAssertTrue(lr[0..<5].allSatisfy(\.isNaN))
        XCTAssertEqual(lr[5], 0.5)
        try log.resume(atStep: 4)
        XCTAssertEqual(try log.file.read("train/step").int64s, [1, 2, 3, 4])
        XCTAssertEqual(try log.file.read("train/loss").doubles, [9, 8, 7, 6])
        XCTAssertEqual(try log.file.read("eval/step").int64s, [])
        try log.record("train", step: 5, ["loss": 1, "lr": 0.1])
        try log.close()
        let f = try HDF5File.open(path)
        XCTAssertEqual(try f.read("train/step").int64s, [1, 2, 3, 4, 5])
        XCTAssertEqual(try f.read("train/loss").doubles, [9, 8, 7, 6, 1])
    }

    func testCheckpointWriteIsAtomic() throws {
        let path = try makeTempDir() + "/checkpoint.h5"
        let good = NDArray([Float(1), 2, 3, 4], shape: [2, 2])
        try Checkpoint.write(to: path) { f in
            try f.write(good, to: "params/w")
            try f.setAttribute("step", .int(100))
        }
        struct Boom: Error {}
        // A write that fails half-way (after some data went into the new file) leaves the old checkpoint intact.
        XCTAssertThrowsError(try Checkpoint.write(to: path) { f in
            try f.write(NDArray([Float](repeating: 9, count: 4), shape: [2, 2]), to: "params/w")
            throw Boom()
        })
        let f = try Checkpoint.open(path)
        XCTAssertEqual(try f.read("params/w"), good)
        XCTAssertEqual(try f.attribute("step"), .int(100))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        XCTAssertEqual(leftovers, ["checkpoint.h5"], "no temporary file may be left behind")
    }

    func testBadFilesAreRefusedWithOneLine() throws {
        let dir = try makeTempDir()
        // Missing.
        assertOneLineError(try HDF5File.open(dir + "/missing.h5"), contains: "no such file")
        // Not HDF5 at all.
        try Data("this is a text file\n".utf8).write(to: URL(fileURLWithPath: dir + "/text.h5"))
        assertOneLineError(try Checkpoint.open(dir + "/text.h5"), contains: "not an HDF5 file")
        // A real checkpoint, truncated.
        let ckpt = dir + "/ckpt.h5"
        try Checkpoint.write(to: ckpt) { try $0.write(NDArray([Float](repeating: 1, count: 10_000)), to: "w") }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: ckpt))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: dir + "/truncated.h5"))
        XCTAssertThrowsError(try {
            let f = try Checkpoint.open(dir + "/truncated.h5")
            _ = try f.read("w")
        }()) { error in
            XCTAssertTrue("\(error)".contains("truncated.h5"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
        // HDF5, but not a checkpoint; and a checkpoint of another format version.
        let plain = try HDF5File.create(dir + "/plain.h5")
        try plain.close()
        assertOneLineError(try Checkpoint.open(dir + "/plain.h5"), contains: "not a replicate checkpoint")
        try Checkpoint.write(to: dir + "/v99.h5") { try $0.setAttribute("format_version", .int(99)) }
        assertOneLineError(try Checkpoint.open(dir + "/v99.h5"), contains: "format version 99")
    }

    func testValuesMatchWhatH5dumpPrints() throws {
        guard let h5dump = which("h5dump") else { throw XCTSkip("h5dump (hdf5-tools) not installed") }
        let path = try makeTempDir() + "/dump.h5"
        let f = try HDF5File.create(path)
        try f.write(NDArray([Float(0.5), -1.25, 3], shape: [3]), to: "g/x")
        try f.write(NDArray([Int64(7), -8], shape: [2, 1]), to: "g/n")
        try f.setAttribute("note", .string("written by the store"))
        try f.close()
        let (rc, out, _) = try runProcess(h5dump, [path])
        XCTAssertEqual(rc, 0)
        XCTAssertTrue(out.contains("(0): 0.5, -1.25, 3"), out)
        XCTAssertTrue(out.contains("(0,0): 7,"), out)
        XCTAssertTrue(out.contains("(1,0): -8"), out)
        XCTAssertTrue(out.contains("\"written by the store\""), out)
        XCTAssertTrue(out.contains("H5T_IEEE_F32LE"), out)
    }

    func testProvenanceAttributes() throws {
        let path = try makeTempDir() + "/prov.h5"
        let f = try HDF5File.create(path)
        try Provenance(command: ["replicate", "x", "--name", "a b"], configJSON: "{\"k\":1}", seed: 7, threads: 2).write(to: f)
        try Provenance.writeEnd(to: f)
        let attrs = Dictionary(uniqueKeysWithValues: try f.attributes())
        XCTAssertEqual(attrs["command"], .string("replicate x --name 'a b'"))
        XCTAssertEqual(attrs["seed"], .int(7))
        XCTAssertEqual(attrs["config"], .string("{\"k\":1}"))
        XCTAssertEqual(attrs["hdf5_version"], .string(HDF5File.libraryVersion))
        for key in ["code_commit", "code_dirty", "blas", "blas_kernel", "cpu", "threads", "start_time", "end_time"] {
            XCTAssertNotNil(attrs[key], key)
        }
    }
}

func assertOneLineError<T>(_ expression: @autoclosure () throws -> T, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        let message = "\(error)"
        XCTAssertTrue(message.contains(text), "'\(message)' should contain '\(text)'", file: file, line: line)
        XCTAssertFalse(message.contains("\n"), "error must be one line: \(message)", file: file, line: line)
    }
}

final class LiveReadTests: XCTestCase {
    func testReadersCanOpenAFileThatIsBeingWritten() throws {
        let path = try makeTempDir() + "/live.h5"
        let log = try MetricsLog(path: path, flushEvery: 1)
        try log.record("train", step: 1, ["loss": 2])
        let reader = try HDF5File.open(path)  // the writer still holds the file open
        XCTAssertEqual(try reader.read("train/loss").doubles, [2])
        try log.close()
    }
}
