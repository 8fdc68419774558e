import CRuntime
import Foundation

/// A run directory's lock: the file `lock` in it, flock'd for as long as a process trains the run and holding
/// "pid host" of that process. A second process on the same run gets one line naming the holder; a lock left by a
/// dead process is free again (the kernel drops a dead process's flock) and is taken over. HDF5's own file
/// locking is not relied on: it is off on many shared file systems (HDF5_USE_FILE_LOCKING=FALSE). Where the file
/// system has no flock at all, the recorded pid is checked instead (on this host).
public final class RunLock {
    public static let fileName = "lock"
    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// This process's "pid host".
    static var holderText: String { "\(getpid()) \(ProcessInfo.processInfo.hostName)" }

    /// Takes the lock of `runDir` (which must exist) or throws one line naming the process that holds it.
    public static func acquire(_ runDir: String) throws -> RunLock {
        let path = (runDir as NSString).appendingPathComponent(fileName)
        let fd = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError("\(runDir): cannot create the run's lock file (\(String(cString: strerror(errno))))") }
        let holder = readHolder(fd)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            if err == EWOULDBLOCK {
                Foundation.close(fd)
                throw StoreError("\(runDir): in use by \(describe(holder)) (lock file \(path)); let it finish or stop it first")
            }
            // No flock on this file system: trust a live holder on this host, take over a dead one.
            if let h = holder, h.pid != getpid(), h.host != ProcessInfo.processInfo.hostName || kill(h.pid, 0) == 0 || errno == EPERM {
                Foundation.close(fd)
                throw StoreError("\(runDir): in use by \(describe(holder)) (lock file \(path), file locking unavailable: \(String(cString: strerror(err))); "
                                 + "remove it if that process is gone)")
            }
        }
        let text = holderText + "\n"
        guard ftruncate(fd, 0) == 0, pwrite(fd, text, text.utf8.count, 0) == text.utf8.count else {
            let why = String(cString: strerror(errno))
            Foundation.close(fd)
            throw StoreError("\(runDir): cannot write the run's lock file (\(why))")
        }
        return RunLock(path: path, fd: fd)
    }

    /// Releases the lock (also on deinit). The file stays; its content is only a hint once unlocked.
    public func release() {
        guard fd >= 0 else { return }
        Foundation.close(fd)
        fd = -1
    }

    deinit { release() }

    private static func readHolder(_ fd: Int32) -> (pid: pid_t, host: String)? {
        var buf = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buf, buf.count, 0)
        guard n > 0 else { return nil }
        let parts = String(decoding: buf[0..<n], as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard parts.count >= 2, let pid = pid_t(parts[0]) else { return nil }
        return (pid, String(parts[1]))
    }

    private static func describe(_ holder: (pid: pid_t, host: String)?) -> String {
        guard let h = holder else { return "another process" }
        return "process \(h.pid) on \(h.host)"
    }
}
