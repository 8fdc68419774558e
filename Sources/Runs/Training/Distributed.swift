import CRuntime
import Engine
import Foundation

/// Data-parallel training over MPI (Open MPI, loaded at run time only when the process was started by mpirun).
///
/// Every rank builds the same model from the same seed and draws the same global batch from the same data
/// stream; rank r trains on its slice of the batch (`slice`), with the dropout masks one process would have drawn
/// for those rows (`Engine.dropoutShard`); the gradients are averaged over the ranks once per step
/// (`averageGradients`), so every rank applies the same update and the parameters stay identical. Rank 0 alone
/// writes run files. Without mpirun nothing here does anything and no MPI library is needed.
public enum Distributed {
    nonisolated(unsafe) public private(set) static var rank = 0
    nonisolated(unsafe) public private(set) static var size = 1
    /// "Open MPI v4.1.4" once started.
    nonisolated(unsafe) public private(set) static var library = ""
    /// Seconds spent in the gradient all-reduce since the start (the benchmark's allreduce time).
    nonisolated(unsafe) public static var allreduceSeconds = 0.0
    nonisolated(unsafe) private static var started = false

    public static var isActive: Bool { size > 1 }
    /// The rank that writes run files and prints.
    public static var isLeader: Bool { rank == 0 }

    /// The job's size when this process was started by Open MPI's mpirun (it sets OMPI_COMM_WORLD_SIZE), else nil.
    public static var launchedSize: Int? {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) }
    }

    /// Joins the job when started by mpirun; a no-op otherwise (and when already started).
    public static func start() throws {
        guard !started, launchedSize != nil else { return }
        started = true
        var r: Int32 = 0, s: Int32 = 0
        guard rb_mpi_start(&r, &s) == 0 else { throw TrainingError("MPI: \(String(cString: rb_mpi_error()))") }
        rank = Int(r)
        size = Int(s)
        library = String(cString: rb_mpi_library())
        if size > 1 { Engine.dropoutShard = (rank, size) }
        if rank != 0 { _ = freopen("/dev/null", "w", stdout) }  // rank 0 prints; every rank's errors reach stderr
        atexit { _ = rb_mpi_finish() }
    }

    /// This rank's rows of a global batch of `count`: the rank-th of `size` contiguous slices.
    public static func slice(_ count: Int) -> Range<Int> { (rank * count / size)..<((rank + 1) * count / size) }

    /// Replaces `count` Floats by their mean over the ranks.
    public static func averageGradients(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        guard isActive else { return }
        let t0 = DispatchTime.now().uptimeNanoseconds
        guard rb_mpi_allreduce_sum_float(values, count) == 0 else { throw TrainingError("MPI: the gradient all-reduce failed") }
        let scale = 1 / Float(size)
        for i in 0..<count { values[i] *= scale }
        allreduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    /// Sums over the ranks.
    public static func sum(_ values: [Double]) throws -> [Double] {
        guard isActive else { return values }
        var v = values
        guard rb_mpi_allreduce_sum_double(&v, v.count) == 0 else { throw TrainingError("MPI: an all-reduce failed") }
        return v
    }

    /// Refuses to go on unless every rank has the same `text` (a configuration, a parameter checksum): compares a
    /// 64-bit hash of it across the ranks.
    public static func requireSameEverywhere(_ text: [UInt8], _ what: String) throws {
        guard isActive else { return }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for b in text { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let hi = Double(h >> 32), lo = Double(h & 0xffff_ffff)
        var v = [hi, lo, -hi, -lo]
        guard rb_mpi_allreduce_max_double(&v, 4) == 0 else { throw TrainingError("MPI: an all-reduce failed") }
        guard v[0] == -v[2] && v[1] == -v[3] else {
            throw TrainingError("the \(size) ranks do not have the same \(what) (rank \(rank) differs from another); start every rank with the same command")
        }
    }

    /// Sums over the ranks inside an evaluation (which cannot throw): a failed reduction ends the job.
    public static func sumOrAbort(_ values: [Double]) -> [Double] {
        guard isActive else { return values }
        do { return try sum(values) } catch {
            FileHandle.standardError.write(Data("error: rank \(rank): \(error)\n".utf8))
            abort(code: 1)
        }
    }

    /// Whether this rank takes part `index` of a piece of work split over the ranks (round robin).
    public static func owns(_ index: Int) -> Bool { index % size == rank }

    /// Ends the whole job (every rank) after an error on this one, so no rank is left waiting on it.
    public static func abort(code: Int32) -> Never {
        rb_mpi_abort(code)
        exit(code)
    }
}
