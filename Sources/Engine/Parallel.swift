import Dispatch
import Foundation

/// Thread settings for the engine's own (non-BLAS) kernels.
///
/// Work is split into contiguous ranges and each output element is computed by exactly one thread with a fixed
/// order of operations, so results are bit-identical for any thread count; reductions across the split
/// dimension are done in a fixed order after the parallel part.
public enum Engine {
    nonisolated(unsafe) public static var threads: Int = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 2))

    /// Sets the engine's thread count. The BLAS (oneMKL or OpenBLAS) always runs single-threaded: the engine
    /// splits large products over its own threads (see gemmAccumulate), so BLAS worker threads never spin against
    /// the engine's kernels.
    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        BLAS.threads = 1
    }

    /// In a data-parallel job of `count` processes, this process's `index`: a dropout mask drawn here is this
    /// process's rows of the mask one process would draw for the whole batch (the tensor's leading rows being
    /// the batch's rows, this process's slice of them the index-th of `count` equal ones). nil: one process.
    nonisolated(unsafe) public static var dropoutShard: (index: Int, count: Int)?

    /// Overrides whether attention keeps its strips of scores for backward (nil: `attentionKeepsScores` decides);
    /// `bench engine --without keep-scores` times the engine with them recomputed.
    nonisolated(unsafe) public static var attentionScoresKept: Bool?

    /// Set while a parallel region of independent jobs runs (e.g. attention heads): products inside it are not
    /// split again.
    nonisolated(unsafe) static var inBLASParallelRegion = false
}

/// Runs `body` over `0..<n` split into at most `Engine.threads` contiguous ranges, when the work is large enough.
@inline(__always)
public func parallelFor(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let workers = min(Engine.threads, max(1, n / max(grain, 1)))
    if workers <= 1 || n < 2 {
        body(0..<n)
        return
    }
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = n * w / workers, hi = n * (w + 1) / workers
        if lo < hi { body(lo..<hi) }
    }
}

/// Independent jobs (e.g. attention heads) spread over the engine's threads; each job writes disjoint memory,
/// so results do not depend on the schedule. Products inside a job are not split again.
public enum ParallelJobs {
    public static func perform(_ jobs: Int, _ body: (Int) -> Void) {
        if Engine.threads <= 1 || jobs <= 1 {
            for j in 0..<jobs { body(j) }
            return
        }
        Engine.inBLASParallelRegion = true
        defer { Engine.inBLASParallelRegion = false }
        DispatchQueue.concurrentPerform(iterations: jobs, execute: body)
    }
}
