import Engine
import NN
import CHDF5
import Foundation

/// Any failure of the run store: one line that names the file and what went wrong.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The element types the store reads and writes.
public enum DType: String, Sendable, CaseIterable {
    case float32, float64, int32, int64, uint8

    var nativeType: hid_t {
        switch self {
        case .float32: return chdf5_native_float()
        case .float64: return chdf5_native_double()
        case .int32: return chdf5_native_int32()
        case .int64: return chdf5_native_int64()
        case .uint8: return chdf5_native_uint8()
        }
    }
    /// The little-endian file type, so files are the same on every machine.
    var fileType: hid_t {
        switch self {
        case .float32: return chdf5_ieee_f32le()
        case .float64: return chdf5_ieee_f64le()
        case .int32: return chdf5_std_i32le()
        case .int64: return chdf5_std_i64le()
        case .uint8: return chdf5_std_u8le()
        }
    }
}

/// A dense N-dimensional array as stored in a file (row-major), independent of the engine's tensors.
public struct NDArray: Equatable, Sendable {
    public enum Storage: Equatable, Sendable {
        case float32([Float]), float64([Double]), int32([Int32]), int64([Int64]), uint8([UInt8])
    }
    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
        precondition(shape.reduce(1, *) == count, "NDArray: shape \(shape) does not match \(count) elements")
    }
    public init(_ values: [Float], shape: [Int]? = nil) { self.init(shape: shape ?? [values.count], storage: .float32(values)) }
    public init(_ values: [Double], shape: [Int]? = nil) { self.init(shape: shape ?? [values.count], storage: .float64(values)) }
    public init(_ values: [Int32], shape: [Int]? = nil) { self.init(shape: shape ?? [values.count], storage: .int32(values)) }
    public init(_ values: [Int64], shape: [Int]? = nil) { self.init(shape: shape ?? [values.count], storage: .int64(values)) }
    public init(_ values: [UInt8], shape: [Int]? = nil) { self.init(shape: shape ?? [values.count], storage: .uint8(values)) }

    public var dtype: DType {
        switch storage {
        case .float32: return .float32
        case .float64: return .float64
        case .int32: return .int32
        case .int64: return .int64
        case .uint8: return .uint8
        }
    }
    public var count: Int {
        switch storage {
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        case .uint8(let v): return v.count
        }
    }
    /// Every element converted to Double (for printing and plotting).
    public var doubles: [Double] {
        switch storage {
        case .float32(let v): return v.map(Double.init)
        case .float64(let v): return v
        case .int32(let v): return v.map(Double.init)
        case .int64(let v): return v.map(Double.init)
        case .uint8(let v): return v.map(Double.init)
        }
    }
    public var floats: [Float] {
        if case .float32(let v) = storage { return v }
        return doubles.map(Float.init)
    }
    public var int64s: [Int64] {
        switch storage {
        case .int64(let v): return v
        case .int32(let v): return v.map(Int64.init)
        case .uint8(let v): return v.map(Int64.init)
        case .float32(let v): return v.map { Int64($0) }
        case .float64(let v): return v.map { Int64($0) }
        }
    }

    func withRawBytes<R>(_ body: (UnsafeRawPointer?) throws -> R) rethrows -> R {
        switch storage {
        case .float32(let v): return try v.withUnsafeBytes { try body($0.baseAddress) }
        case .float64(let v): return try v.withUnsafeBytes { try body($0.baseAddress) }
        case .int32(let v): return try v.withUnsafeBytes { try body($0.baseAddress) }
        case .int64(let v): return try v.withUnsafeBytes { try body($0.baseAddress) }
        case .uint8(let v): return try v.withUnsafeBytes { try body($0.baseAddress) }
        }
    }

    /// Reads `count` elements of `dtype` through `fill`, which writes into the raw buffer it is given.
    static func make(dtype: DType, shape: [Int], fill: (UnsafeMutableRawPointer?) -> Bool) -> NDArray? {
        let n = shape.reduce(1, *)
        var ok = false
        let storage: Storage
        switch dtype {
        case .float32:
            var v = [Float](repeating: 0, count: n); v.withUnsafeMutableBytes { ok = fill($0.baseAddress) }; storage = .float32(v)
        case .float64:
            var v = [Double](repeating: 0, count: n); v.withUnsafeMutableBytes { ok = fill($0.baseAddress) }; storage = .float64(v)
        case .int32:
            var v = [Int32](repeating: 0, count: n); v.withUnsafeMutableBytes { ok = fill($0.baseAddress) }; storage = .int32(v)
        case .int64:
            var v = [Int64](repeating: 0, count: n); v.withUnsafeMutableBytes { ok = fill($0.baseAddress) }; storage = .int64(v)
        case .uint8:
            var v = [UInt8](repeating: 0, count: n); v.withUnsafeMutableBytes { ok = fill($0.baseAddress) }; storage = .uint8(v)
        }
        return ok ? NDArray(shape: shape, storage: storage) : nil
    }
}

/// An attribute value: strings, integers and floats, scalar or 1-D.
public enum AttributeValue: Equatable, Sendable, CustomStringConvertible {
    case string(String), int(Int64), double(Double), ints([Int64]), doubles([Double])

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .ints(let v): return "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .doubles(let v): return "[" + v.map { String($0) }.joined(separator: ", ") + "]"
        }
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d): return Int64(exactly: d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
}

/// What a name inside a file refers to.
public enum HDF5ObjectKind: Sendable { case group, dataset, other }

/// A description of one dataset: its shape, element type and maximum shape (nil entries are unlimited).
public struct DatasetInfo: Sendable, Equatable {
    public let shape: [Int]
    public let dtype: DType?
    public let typeName: String
    public let extendible: Bool
}

private let hdf5Setup: Void = {
    // No library shutdown at exit: every file is closed explicitly (or has failed and been given up), and
    // HDF5's atexit pass over a file whose writes failed (a full disk) could crash after the error line.
    H5dont_atexit()
    _ = H5open()
    chdf5_silence_errors()
}()

/// An open HDF5 file. Names are paths (`train/loss`); groups on the way are created as needed.
/// Every failure becomes a `StoreError` naming the file; HDF5's own error printing is switched off.
public final class HDF5File {
    public let path: String
    let id: hid_t
    public let writable: Bool
    private var closed = false

    private init(path: String, id: hid_t, writable: Bool) {
        self.path = path
        self.id = id
        self.writable = writable
    }

    /// The HDF5 library's version, e.g. "1.10.8".
    public static var libraryVersion: String {
        _ = hdf5Setup
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        H5get_libversion(&major, &minor, &release)
        return "\(major).\(minor).\(release)"
    }

    /// Creates (or truncates) a file.
    public static func create(_ path: String) throws -> HDF5File {
        _ = hdf5Setup
        let fid = H5Fcreate(path, chdf5_acc_trunc(), chdf5_p_default(), chdf5_p_default())
        guard fid >= 0 else { throw StoreError("\(path): cannot create HDF5 file (\(lastHDF5Error()))") }
        return HDF5File(path: path, id: fid, writable: true)
    }

    /// Opens an existing file; refuses a missing file, anything that is not a regular file (HDF5's own check blocks
    /// forever on a FIFO) or a file that is not HDF5 with one line.
    public static func open(_ path: String, writable: Bool = false) throws -> HDF5File {
        _ = hdf5Setup
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw StoreError([ENOENT, ENOTDIR].contains(errno) ? "\(path): no such file" : "\(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw StoreError("\(path): not a regular file (\(fileKind(status.st_mode)))") }
        let isHDF5 = H5Fis_hdf5(path)
        guard isHDF5 > 0 else {
            throw StoreError("\(path): not an HDF5 file (truncated or another format)")
        }
        // Readers do not take HDF5's file lock, so a running training's metrics can be inspected and plotted
        // while it writes them (the writer flushes every few seconds).
        let fapl = H5Pcreate(chdf5_p_file_access())
        defer { H5Pclose(fapl) }
        if !writable { H5Pset_file_locking(fapl, false, true) }
        var fid = H5Fopen(path, writable ? chdf5_acc_rdwr() : chdf5_acc_rdonly(), fapl)
        if fid < 0 && !writable {
            // Already open in this process (HDF5 then insists on the same access properties): share that.
            _ = lastHDF5Error()
            fid = H5Fopen(path, chdf5_acc_rdonly(), chdf5_p_default())
        }
        guard fid >= 0 else { throw StoreError("\(path): cannot open HDF5 file (\(lastHDF5Error()))") }
        return HDF5File(path: path, id: fid, writable: writable)
    }

    deinit { if !closed { H5Fclose(id) } }

    public func close() throws {
        guard !closed else { return }
        closed = true
        if H5Fclose(id) < 0 { throw StoreError("\(path): close failed (\(lastHDF5Error()))") }
    }

    /// Pushes buffered data to the operating system, so a killed process loses nothing written before.
    public func flush() throws {
        if H5Fflush(id, H5F_SCOPE_GLOBAL) < 0 { throw StoreError("\(path): flush failed (\(lastHDF5Error()))") }
    }

    // MARK: Names

    public func exists(_ name: String) -> Bool {
        let parts = components(name)
        if parts.isEmpty { return true }
        var prefix = ""
        for p in parts {
            prefix += (prefix.isEmpty ? "" : "/") + p
            if H5Lexists(id, prefix, chdf5_p_default()) <= 0 { return false }
        }
        return true
    }

    public func kind(of name: String) -> HDF5ObjectKind? {
        guard exists(name) else { return nil }
        let oid = H5Oopen(id, name.isEmpty ? "/" : name, chdf5_p_default())
        guard oid >= 0 else { return nil }
        defer { H5Oclose(oid) }
        switch H5Iget_type(oid) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }

    /// The names directly inside a group, sorted.
    public func children(of group: String = "/") throws -> [String] {
        let gid = H5Gopen2(id, group.isEmpty ? "/" : group, chdf5_p_default())
        guard gid >= 0 else { throw StoreError("\(path): no group '\(group)'") }
        defer { H5Gclose(gid) }
        var names: [String] = []
        try forEachLink(in: gid) { _, name, _ in names.append(String(cString: name)) }
        return names.sorted()
    }

    /// Every dataset below a group, as full paths without a leading slash, sorted.
    public func datasets(under group: String = "/") throws -> [String] {
        var out: [String] = []
        for child in try children(of: group) {
            let full = join(group, child)
            switch kind(of: full) {
            case .group: out += try datasets(under: full)
            case .dataset: out.append(full)
            default: break
            }
        }
        return out
    }

    /// Creates a group and every group above it; does nothing when it exists.
    public func createGroup(_ name: String) throws {
        var prefix = ""
        for p in components(name) {
            prefix += (prefix.isEmpty ? "" : "/") + p
            if H5Lexists(id, prefix, chdf5_p_default()) > 0 { continue }
            let gid = H5Gcreate2(id, prefix, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            guard gid >= 0 else { throw StoreError("\(path): cannot create group '\(prefix)' (\(lastHDF5Error()))") }
            H5Gclose(gid)
        }
    }

    private func createParents(of name: String) throws {
        let parts = components(name)
        if parts.count > 1 { try createGroup(parts.dropLast().joined(separator: "/")) }
    }

    // MARK: Arrays

    /// Writes an array as a dataset, replacing one of the same name.
    public func write(_ array: NDArray, to name: String) throws {
        try createParents(of: name)
        if exists(name) { H5Ldelete(id, name, chdf5_p_default()) }
        let space: hid_t
        if array.shape.isEmpty {
            space = H5Screate(H5S_SCALAR)
        } else {
            let dims = array.shape.map { hsize_t($0) }
            space = H5Screate_simple(Int32(dims.count), dims, nil)
        }
        guard space >= 0 else { throw StoreError("\(path): bad shape \(array.shape) for '\(name)'") }
        defer { H5Sclose(space) }
        let did = H5Dcreate2(id, name, array.dtype.fileType, space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
        guard did >= 0 else { throw StoreError("\(path): cannot create dataset '\(name)' (\(lastHDF5Error()))") }
        defer { H5Dclose(did) }
        if array.count > 0 {
            let status = array.withRawBytes { H5Dwrite(did, array.dtype.nativeType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0) }
            guard status >= 0 else { throw StoreError("\(path): cannot write '\(name)' (\(lastHDF5Error()))") }
        }
    }

    public func info(_ name: String) throws -> DatasetInfo {
        let did = try openDataset(name)
        defer { H5Dclose(did) }
        return try datasetInfo(did, name)
    }

    /// Reads a whole dataset in its stored element type.
    public func read(_ name: String) throws -> NDArray {
        let did = try openDataset(name)
        defer { H5Dclose(did) }
        let info = try datasetInfo(did, name)
        guard let dtype = info.dtype else { throw StoreError("\(path): '\(name)' has unsupported type \(info.typeName)") }
        let result = NDArray.make(dtype: dtype, shape: info.shape) { buf in
            if info.shape.reduce(1, *) == 0 { return true }
            return H5Dread(did, dtype.nativeType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), buf) >= 0
        }
        guard let array = result else { throw StoreError("\(path): cannot read '\(name)' (\(lastHDF5Error()))") }
        return array
    }

    private func openDataset(_ name: String) throws -> hid_t {
        guard kind(of: name) == .dataset else { throw StoreError("\(path): no dataset '\(name)'") }
        let did = H5Dopen2(id, name, chdf5_p_default())
        guard did >= 0 else { throw StoreError("\(path): cannot open dataset '\(name)' (\(lastHDF5Error()))") }
        return did
    }

    private func datasetInfo(_ did: hid_t, _ name: String) throws -> DatasetInfo {
        let space = H5Dget_space(did)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 else { throw StoreError("\(path): cannot read the shape of '\(name)'") }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        var maxDims = [hsize_t](repeating: 0, count: max(rank, 1))
        H5Sget_simple_extent_dims(space, &dims, &maxDims)
        let type = H5Dget_type(did)
        defer { H5Tclose(type) }
        let (dtype, typeName) = classify(type)
        let extendible = (0..<rank).contains { maxDims[$0] == chdf5_s_unlimited() }
        return DatasetInfo(shape: (0..<rank).map { Int(dims[$0]) }, dtype: dtype, typeName: typeName, extendible: extendible)
    }

    private func classify(_ type: hid_t) -> (DType?, String) {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            if size == 4 { return (.float32, "float32") }
            if size == 8 { return (.float64, "float64") }
            return (nil, "float\(size * 8)")
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (4, true): return (.int32, "int32")
            case (8, true): return (.int64, "int64")
            case (1, false): return (.uint8, "uint8")
            default: return (nil, "\(signed ? "int" : "uint")\(size * 8)")
            }
        case H5T_STRING: return (nil, "string")
        default: return (nil, "other")
        }
    }

    // MARK: Extendible series

    /// Creates an empty, chunked, extendible 1-D dataset unless it exists.
    public func createSeries(_ name: String, dtype: DType, chunk: Int = 1024) throws {
        if exists(name) {
            guard try info(name).extendible else { throw StoreError("\(path): '\(name)' exists and is not a series") }
            return
        }
        try createParents(of: name)
        var dims: [hsize_t] = [0]
        var maxDims: [hsize_t] = [chdf5_s_unlimited()]
        let space = H5Screate_simple(1, &dims, &maxDims)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(chdf5_p_dataset_create())
        defer { H5Pclose(dcpl) }
        var chunkDims: [hsize_t] = [hsize_t(chunk)]
        H5Pset_chunk(dcpl, 1, &chunkDims)
        let did = H5Dcreate2(id, name, dtype.fileType, space, chdf5_p_default(), dcpl, chdf5_p_default())
        guard did >= 0 else { throw StoreError("\(path): cannot create series '\(name)' (\(lastHDF5Error()))") }
        H5Dclose(did)
    }

    /// Appends values (a 1-D array) to the end of a series.
    public func append(_ values: NDArray, to name: String) throws {
        guard values.count > 0 else { return }
        let did = try openDataset(name)
        defer { H5Dclose(did) }
        let info = try datasetInfo(did, name)
        guard info.extendible, info.shape.count == 1 else { throw StoreError("\(path): '\(name)' is not a series") }
        let old = hsize_t(info.shape[0])
        var newSize: [hsize_t] = [old + hsize_t(values.count)]
        guard H5Dset_extent(did, &newSize) >= 0 else { throw StoreError("\(path): cannot extend '\(name)' (\(lastHDF5Error()))") }
        let fileSpace = H5Dget_space(did)
        defer { H5Sclose(fileSpace) }
        var start: [hsize_t] = [old]
        var count: [hsize_t] = [hsize_t(values.count)]
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
        let memSpace = H5Screate_simple(1, &count, nil)
        defer { H5Sclose(memSpace) }
        let status = values.withRawBytes { H5Dwrite(did, values.dtype.nativeType, memSpace, fileSpace, chdf5_p_default(), $0) }
        guard status >= 0 else { throw StoreError("\(path): cannot append to '\(name)' (\(lastHDF5Error()))") }
    }

    /// Shortens a series to its first `length` values (used when a run resumes from an earlier checkpoint).
    public func truncateSeries(_ name: String, to length: Int) throws {
        let did = try openDataset(name)
        defer { H5Dclose(did) }
        var size: [hsize_t] = [hsize_t(length)]
        guard H5Dset_extent(did, &size) >= 0 else { throw StoreError("\(path): cannot truncate '\(name)'") }
    }

    // MARK: Attributes

    /// Sets an attribute on a group or dataset (the root group by default), replacing one of the same key.
    public func setAttribute(_ key: String, _ value: AttributeValue, on object: String = "/") throws {
        let oid = H5Oopen(id, object.isEmpty ? "/" : object, chdf5_p_default())
        guard oid >= 0 else { throw StoreError("\(path): no object '\(object)' for attribute '\(key)'") }
        defer { H5Oclose(oid) }
        if H5Aexists(oid, key) > 0 { H5Adelete(oid, key) }
        var status: herr_t = -1
        switch value {
        case .string(let s):
            let type = H5Tcopy(chdf5_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, chdf5_t_variable())
            H5Tset_cset(type, H5T_CSET_UTF8)
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            let aid = H5Acreate2(oid, key, type, space, chdf5_p_default(), chdf5_p_default())
            guard aid >= 0 else { break }
            defer { H5Aclose(aid) }
            s.withCString { cstr in
                var ptr: UnsafePointer<CChar>? = cstr
                status = H5Awrite(aid, type, &ptr)
            }
        case .int(let i): status = writeNumericAttribute(oid, key, NDArray([i], shape: []))
        case .double(let d): status = writeNumericAttribute(oid, key, NDArray([d], shape: []))
        case .ints(let v): status = writeNumericAttribute(oid, key, NDArray(v))
        case .doubles(let v): status = writeNumericAttribute(oid, key, NDArray(v))
        }
        guard status >= 0 else { throw StoreError("\(path): cannot write attribute '\(key)' (\(lastHDF5Error()))") }
    }

    private func writeNumericAttribute(_ oid: hid_t, _ key: String, _ array: NDArray) -> herr_t {
        let space: hid_t
        if array.shape.isEmpty {
            space = H5Screate(H5S_SCALAR)
        } else {
            var dims = array.shape.map { hsize_t($0) }
            space = H5Screate_simple(1, &dims, nil)
        }
        defer { H5Sclose(space) }
        let aid = H5Acreate2(oid, key, array.dtype.fileType, space, chdf5_p_default(), chdf5_p_default())
        guard aid >= 0 else { return -1 }
        defer { H5Aclose(aid) }
        if array.count == 0 { return 0 }
        return array.withRawBytes { H5Awrite(aid, array.dtype.nativeType, $0) }
    }

    public func attribute(_ key: String, on object: String = "/") throws -> AttributeValue? {
        let oid = H5Oopen(id, object.isEmpty ? "/" : object, chdf5_p_default())
        guard oid >= 0 else { throw StoreError("\(path): no object '\(object)'") }
        defer { H5Oclose(oid) }
        guard H5Aexists(oid, key) > 0 else { return nil }
        let aid = H5Aopen(oid, key, chdf5_p_default())
        guard aid >= 0 else { return nil }
        defer { H5Aclose(aid) }
        return readAttribute(aid)
    }

    /// Every attribute of an object, by key.
    public func attributes(on object: String = "/") throws -> [(String, AttributeValue)] {
        let oid = H5Oopen(id, object.isEmpty ? "/" : object, chdf5_p_default())
        guard oid >= 0 else { throw StoreError("\(path): no object '\(object)'") }
        defer { H5Oclose(oid) }
        var out: [(String, AttributeValue)] = []
        try forEachAttribute(of: oid) { key, aid in
            if let aid, let value = readAttribute(aid) { out.append((key, value)) }
            return true
        }
        return out
    }

    private func readAttribute(_ aid: hid_t) -> AttributeValue? {
        let type = H5Aget_type(aid)
        defer { H5Tclose(type) }
        let space = H5Aget_space(aid)
        defer { H5Sclose(space) }
        let n = Int(H5Sget_simple_extent_npoints(space))
        let scalar = H5Sget_simple_extent_ndims(space) == 0
        switch H5Tget_class(type) {
        case H5T_STRING:
            // One string (an array of strings is no AttributeValue; `attributes(ofObjectAt:first:limit:)` shows it).
            guard n == 1 else { return nil }
            if H5Tis_variable_str(type) > 0 {
                let mem = H5Tcopy(chdf5_c_s1())
                defer { H5Tclose(mem) }
                H5Tset_size(mem, chdf5_t_variable())
                H5Tset_cset(mem, H5Tget_cset(type))
                var ptr: UnsafeMutablePointer<CChar>? = nil
                guard H5Aread(aid, mem, &ptr) >= 0, let p = ptr else { return nil }
                let s = String(cString: p)
                H5free_memory(p)
                return .string(s)
            } else {
                let size = H5Tget_size(type)
                var buf = [CChar](repeating: 0, count: size + 1)
                guard H5Aread(aid, type, &buf) >= 0 else { return nil }
                return .string(String(cString: buf))
            }
        case H5T_INTEGER:
            var v = [Int64](repeating: 0, count: n)
            guard n == 0 || H5Aread(aid, chdf5_native_int64(), &v) >= 0 else { return nil }
            return scalar ? .int(v.first ?? 0) : .ints(v)
        case H5T_FLOAT:
            var v = [Double](repeating: 0, count: n)
            guard n == 0 || H5Aread(aid, chdf5_native_double(), &v) >= 0 else { return nil }
            return scalar ? .double(v.first ?? 0) : .doubles(v)
        default:
            return nil
        }
    }
}

private func components(_ name: String) -> [String] {
    name.split(separator: "/").map(String.init)
}

func join(_ group: String, _ child: String) -> String {
    let g = components(group).joined(separator: "/")
    return g.isEmpty ? child : g + "/" + child
}

func lastHDF5Error() -> String {
    var m = chdf5_last_error()
    let text = withUnsafeBytes(of: &m.text) { raw -> String in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
    }
    let message = text.isEmpty ? "HDF5 error" : text
    return m.sys_errno > 0 ? "\(message): \(String(cString: strerror(m.sys_errno)))" : message
}

/// What `stat` says a path is, for the error that refuses it.
private func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "a directory"
    case S_IFIFO: return "a FIFO"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    default: return "mode \(String(mode, radix: 8))"
    }
}

// MARK: Browsing any file

/// One value of any HDF5 element type, as `replicate inspect` shows it.
public indirect enum HDF5Element: Sendable, CustomStringConvertible {
    case int(Int64), uint(UInt64), float(Double), string(String)
    /// An enum value: its member's name, or the number when it names no member.
    case enumMember(String)
    /// Opaque data and bitfields, most significant byte first for a bitfield.
    case bytes([UInt8])
    case compound([Field])
    /// An array element or a variable-length sequence: its first elements and how many it has.
    case list([HDF5Element], count: Int)
    /// An object or region reference: the path it points to, nil for a null reference.
    case reference(String?, region: Bool)

    public struct Field: Sendable {
        public let name: String
        public let value: HDF5Element
    }

    /// The value on one line; strings are quoted (a caller that shows one string alone can print it bare).
    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .float(let x): return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.6g", x)
        case .string(let s): return s.debugDescription
        case .enumMember(let name): return name
        case .bytes(let b): return "0x" + b.map { String(format: "%02x", $0) }.joined()
        case .compound(let fields): return "{" + fields.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "}"
        case .list(let items, let count): return HDF5Element.describe(items, count: count)
        case .reference(let path, let region): return path.map { "→ \($0)" + (region ? " (region)" : "") } ?? "(null reference)"
        }
    }

    /// `[a, b, c]`, or `[a, b, … (n values)]` when only the first of `count` values are given.
    public static func describe(_ items: [HDF5Element], count: Int) -> String {
        let shown = items.map(\.description).joined(separator: ", ")
        return items.count < count ? "[\(shown), … (\(count) values)]" : "[\(shown)]"
    }
}

/// A dataset's or attribute's type, extent and first values, read in bounded size whatever the file holds.
public struct HDF5Preview: Sendable {
    /// The element type, e.g. `int32`, `string`, `compound {x: float32, y: float32}`, `sequence of int32`.
    public let typeName: String
    /// The extent: nil for a null dataspace (not even a shape), [] for a scalar.
    public let shape: [UInt64]?
    /// Whether some dimension can grow without limit (a series).
    public let extendible: Bool
    /// The first values in row-major order; for more than one dimension, those along the last axis.
    public let first: [HDF5Element]
    /// The last value of a one-dimensional dataset, read on its own when `first` does not reach it (nil for an
    /// attribute, which shows only its first values).
    public let last: HDF5Element?
    /// Why no values are shown although there are some (an unsupported type, an unreadable chunk).
    public let unreadable: String?

    /// The number of elements (saturating at UInt64.max), 0 for a null dataspace.
    public var count: UInt64 {
        guard let shape else { return 0 }
        return shape.reduce(1) { n, d in
            let (product, overflow) = n.multipliedReportingOverflow(by: d)
            return overflow ? .max : product
        }
    }
}

/// An object's address in its file: the same for every name (hard link) the object has.
public typealias HDF5Address = UInt

/// A link inside a group, as `replicate inspect` walks a file.
public struct HDF5Link: Sendable {
    public enum Target: Sendable {
        /// A hard link to an object, by the object's address in the file (the same for every name it has).
        case group(HDF5Address), dataset(HDF5Address), namedType(HDF5Address), otherObject(HDF5Address)
        /// A soft link and whether it leads to an object inside this file.
        case soft(String, resolves: Bool)
        case external(file: String, object: String)
        case userDefined(Int32)
        case unreadable(String)
    }
    public let name: String
    public let target: Target
}

/// The most bytes one read of values takes (a slab of a dataset, a whole attribute).
private let previewByteLimit = 16 << 20

/// The link access list for resolving soft links without ever opening another file.
private let localLinksOnly: hid_t = {
    _ = hdf5Setup
    return chdf5_lapl_without_external_links()
}()

extension HDF5File {
    /// The address of the root group.
    public func rootAddress() throws -> HDF5Address {
        var info = H5O_info_t()
        guard H5Oget_info2(id, &info, UInt32(H5O_INFO_BASIC)) >= 0 else {
            throw StoreError("\(path): cannot read the root group (\(lastHDF5Error()))")
        }
        return info.addr
    }

    /// The links of the group at `address`, sorted by name. External links are described, never followed.
    public func links(inGroupAt address: HDF5Address) throws -> [HDF5Link] {
        let gid = try openObject(at: address)
        defer { H5Oclose(gid) }
        var out: [HDF5Link] = []
        try forEachLink(in: gid) { gid, name, info in out.append(HDF5Link(name: String(cString: name), target: target(gid, name, info))) }
        return out
    }

    /// The first `count` (at least one) attributes, by name, of the object at `address`, each with at most `limit`
    /// values, and how many it has. The count bounds the work: HDF5 finds an attribute stored in the object header
    /// by a linear search, so reading all of an object's n attributes takes time in n².
    public func attributes(ofObjectAt address: HDF5Address, first count: Int, limit: Int) throws
        -> (attributes: [(name: String, preview: HDF5Preview)], total: Int) {
        let oid = try openObject(at: address)
        defer { H5Oclose(oid) }
        var info = H5O_info_t()
        guard H5Oget_info2(oid, &info, UInt32(H5O_INFO_NUM_ATTRS)) >= 0 else {
            throw StoreError("\(path): cannot count attributes (\(lastHDF5Error()))")
        }
        var out: [(name: String, preview: HDF5Preview)] = []
        try forEachAttribute(of: oid) { name, aid in
            out.append((name, aid.map { attributePreview($0, limit: limit) }
                        ?? HDF5Preview(typeName: "?", shape: nil, extendible: false, first: [], last: nil, unreadable: lastHDF5Error())))
            return out.count < count
        }
        return (out, Int(info.num_attrs))
    }

    /// The dataset at `address`: its type, shape, its first `limit` values along the last axis and, when it is
    /// one-dimensional, its last value. Reads at most two small slabs, however large (or sparse) the dataset.
    public func preview(datasetAt address: HDF5Address, limit: Int) throws -> HDF5Preview {
        let did = try openObject(at: address)
        defer { H5Oclose(did) }
        let type = H5Dget_type(did), space = H5Dget_space(did)
        defer { H5Tclose(type); H5Sclose(space) }
        guard type >= 0, space >= 0 else { throw StoreError("\(path): cannot read a dataset's type (\(lastHDF5Error()))") }
        let (shape, extendible) = extent(space)
        func preview(_ first: [HDF5Element] = [], last: HDF5Element? = nil, unreadable: String? = nil) -> HDF5Preview {
            HDF5Preview(typeName: typeName(type), shape: shape, extendible: extendible, first: first, last: last, unreadable: unreadable)
        }
        guard let shape, !shape.contains(0) else { return preview() }
        guard let mem = memoryType(for: type) else { return preview(unreadable: "unsupported type \(typeName(type))") }
        defer { H5Tclose(mem) }
        let size = max(1, H5Tget_size(mem))
        guard size <= previewByteLimit else { return preview(unreadable: "values of \(H5Tget_size(type)) bytes each, too large to show") }
        let take = min(UInt64(limit), shape.last ?? 1, UInt64(previewByteLimit / size))
        do {
            let first = try readSlab(did, space, mem, start: shape.map { _ in 0 }, count: shape.dropLast().map { _ in 1 } + (shape.isEmpty ? [] : [take]),
                                     limit: limit)
            let last = shape.count == 1 && shape[0] > take
                ? try readSlab(did, space, mem, start: [shape[0] - 1], count: [1], limit: limit).first : first.last
            return preview(first, last: shape.count == 1 ? last : nil)
        } catch {
            return preview(unreadable: "values not readable: \(missingFilter(did).map { "needs filter \($0), which this HDF5 lacks" } ?? "\(error)")")
        }
    }

    /// The first filter of a dataset's pipeline that this HDF5 library cannot run (h5py's LZF, a plugin's), if any.
    private func missingFilter(_ did: hid_t) -> String? {
        let dcpl = H5Dget_create_plist(did)
        defer { H5Pclose(dcpl) }
        for i in 0..<UInt32(max(0, H5Pget_nfilters(dcpl))) {
            var flags: UInt32 = 0, config: UInt32 = 0, parameters = 0
            var name = [CChar](repeating: 0, count: 256)
            let filter = H5Pget_filter2(dcpl, i, &flags, &parameters, nil, name.count, &name, &config)
            if filter >= 0, H5Zfilter_avail(filter) <= 0 {
                _ = lastHDF5Error()
                return "'\(String(cString: name))' (\(filter))"
            }
        }
        return nil
    }

    /// The type a named (committed) datatype at `address` stands for.
    public func typeName(ofNamedTypeAt address: HDF5Address) throws -> String {
        let tid = try openObject(at: address)
        defer { H5Oclose(tid) }
        return typeName(tid)
    }

    // MARK: Iteration

    /// Calls `body` with every link of an open group (the group, the link's name, its info), in name order.
    private func forEachLink(in gid: hid_t, _ body: (hid_t, UnsafePointer<CChar>, H5L_info_t) -> Void) throws {
        try withoutActuallyEscaping(body) { body in
            let visitor = Visitor(body)
            var index: hsize_t = 0
            let status = H5Literate(gid, H5_INDEX_NAME, H5_ITER_INC, &index, { gid, name, info, data in
                guard let name, let info, let data else { return -1 }
                Unmanaged<Visitor<(hid_t, UnsafePointer<CChar>, H5L_info_t) -> Void>>.fromOpaque(data).takeUnretainedValue()
                    .body(gid, name, info.pointee)
                return 0
            }, Unmanaged.passUnretained(visitor).toOpaque())
            guard status >= 0 else { throw StoreError("\(path): cannot list a group (\(lastHDF5Error()))") }
        }
    }

    /// Calls `body` with the name and the open attribute (nil when it cannot be opened) of every attribute of an
    /// open object, in name order, until it returns false.
    private func forEachAttribute(of oid: hid_t, _ body: (String, hid_t?) -> Bool) throws {
        try withoutActuallyEscaping(body) { body in
            let visitor = Visitor(body)
            var index: hsize_t = 0
            let status = H5Aiterate2(oid, H5_INDEX_NAME, H5_ITER_INC, &index, { loc, name, _, data in
                guard let name, let data else { return -1 }
                let aid = H5Aopen(loc, name, chdf5_p_default())
                defer { if aid >= 0 { H5Aclose(aid) } }
                let goOn = Unmanaged<Visitor<(String, hid_t?) -> Bool>>.fromOpaque(data).takeUnretainedValue()
                    .body(String(cString: name), aid >= 0 ? aid : nil)
                return goOn ? 0 : 1
            }, Unmanaged.passUnretained(visitor).toOpaque())
            guard status >= 0 else { throw StoreError("\(path): cannot list attributes (\(lastHDF5Error()))") }
        }
    }

    private func openObject(at address: HDF5Address) throws -> hid_t {
        let oid = H5Oopen_by_addr(id, address)
        guard oid >= 0 else { throw StoreError("\(path): cannot open the object at address \(address) (\(lastHDF5Error()))") }
        return oid
    }

    /// Where a link leads, found without following it out of the file.
    private func target(_ gid: hid_t, _ name: UnsafePointer<CChar>, _ info: H5L_info_t) -> HDF5Link.Target {
        switch info.type {
        case H5L_TYPE_HARD:
            var object = H5O_info_t()
            guard H5Oget_info_by_name2(gid, name, &object, UInt32(H5O_INFO_BASIC), localLinksOnly) >= 0 else {
                return .unreadable(lastHDF5Error())
            }
            switch object.type {
            case H5O_TYPE_GROUP: return .group(object.addr)
            case H5O_TYPE_DATASET: return .dataset(object.addr)
            case H5O_TYPE_NAMED_DATATYPE: return .namedType(object.addr)
            default: return .otherObject(object.addr)
            }
        case H5L_TYPE_SOFT:
            var value = [CChar](repeating: 0, count: info.u.val_size + 1)
            guard H5Lget_val(gid, name, &value, info.u.val_size, localLinksOnly) >= 0 else { return .unreadable(lastHDF5Error()) }
            // A dangling link, a cycle of soft links or a path through an external link does not resolve here.
            let resolves = H5Oexists_by_name(gid, name, localLinksOnly) > 0
            _ = lastHDF5Error()
            return .soft(String(cString: value), resolves: resolves)
        case H5L_TYPE_EXTERNAL:
            var value = [UInt8](repeating: 0, count: info.u.val_size)
            var flags: UInt32 = 0
            var file: UnsafePointer<CChar>? = nil, object: UnsafePointer<CChar>? = nil
            guard H5Lget_val(gid, name, &value, info.u.val_size, localLinksOnly) >= 0,
                  H5Lunpack_elink_val(&value, info.u.val_size, &flags, &file, &object) >= 0, let file, let object else {
                return .unreadable(lastHDF5Error())
            }
            return .external(file: String(cString: file), object: String(cString: object))
        default:
            return .userDefined(info.type.rawValue)
        }
    }

    // MARK: Values of any type

    /// An attribute's type, extent and first `limit` values (attributes are read whole, up to the byte limit).
    private func attributePreview(_ aid: hid_t, limit: Int) -> HDF5Preview {
        let type = H5Aget_type(aid), space = H5Aget_space(aid)
        defer { H5Tclose(type); H5Sclose(space) }
        let (shape, _) = extent(space)
        func preview(_ first: [HDF5Element] = [], unreadable: String? = nil) -> HDF5Preview {
            HDF5Preview(typeName: typeName(type), shape: shape, extendible: false, first: first, last: nil, unreadable: unreadable)
        }
        let n = Int(clamping: H5Sget_simple_extent_npoints(space))
        guard shape != nil, n > 0 else { return preview() }
        guard let mem = memoryType(for: type) else { return preview(unreadable: "unsupported type \(typeName(type))") }
        defer { H5Tclose(mem) }
        let size = max(1, H5Tget_size(mem))
        guard n <= previewByteLimit / size else { return preview(unreadable: "\(n) values of \(size) bytes, too large to show") }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: n * size, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: n * size)
        defer { buffer.deallocate() }
        guard H5Aread(aid, mem, buffer) >= 0 else { return preview(unreadable: "values not readable: \(lastHDF5Error())") }
        defer { H5Dvlen_reclaim(mem, space, chdf5_p_default(), buffer) }
        return preview((0..<min(n, limit)).map { element(mem, buffer + $0 * size, limit: limit) })
    }

    /// Reads the hyperslab `start`/`count` of a dataset (a scalar's one value when both are empty) in `mem`; lists
    /// inside the values show at most `limit` elements.
    private func readSlab(_ did: hid_t, _ space: hid_t, _ mem: hid_t, start: [UInt64], count: [UInt64], limit: Int) throws -> [HDF5Element] {
        let selection = H5Scopy(space)
        defer { H5Sclose(selection) }
        if !start.isEmpty { H5Sselect_hyperslab(selection, H5S_SELECT_SET, start, nil, count, nil) }
        let n = Int(count.reduce(1, *)), size = H5Tget_size(mem)
        var dims: [hsize_t] = [hsize_t(n)]
        let memSpace = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(memSpace) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: n * size, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: n * size)
        defer { buffer.deallocate() }
        guard H5Dread(did, mem, memSpace, selection, chdf5_p_default(), buffer) >= 0 else { throw StoreError(lastHDF5Error()) }
        defer { H5Dvlen_reclaim(mem, memSpace, chdf5_p_default(), buffer) }
        return (0..<n).map { element(mem, buffer + $0 * size, limit: limit) }
    }

    /// The extent of a dataspace (nil for a null one) and whether some dimension is unlimited.
    private func extent(_ space: hid_t) -> ([UInt64]?, Bool) {
        guard H5Sget_simple_extent_type(space) != H5S_NULL else { return (nil, false) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank > 0 else { return ([], false) }
        var dims = [hsize_t](repeating: 0, count: rank), maxDims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, &maxDims)
        return (dims, maxDims.contains(chdf5_s_unlimited()))
    }

    /// A memory type that holds the values of the file type `type`: integers widened to 64 bits, floats to double,
    /// strings, enums, opaque data, bitfields and references as they are, compounds, arrays and sequences built
    /// from their members' memory types. Nil when some part has no reader (a time type).
    private func memoryType(for type: hid_t) -> hid_t? {
        switch H5Tget_class(type) {
        case H5T_INTEGER:
            return H5Tcopy(H5Tget_sign(type) == H5T_SGN_NONE ? chdf5_native_uint64() : chdf5_native_int64())
        case H5T_FLOAT:
            return H5Tcopy(chdf5_native_double())
        case H5T_STRING:
            guard H5Tis_variable_str(type) > 0 else { return H5Tcopy(type) }
            let mem = H5Tcopy(chdf5_c_s1())
            H5Tset_size(mem, chdf5_t_variable())
            H5Tset_cset(mem, H5Tget_cset(type))
            return mem
        case H5T_ENUM:
            let mem = H5Tget_native_type(type, H5T_DIR_ASCEND)
            return mem >= 0 ? mem : nil
        case H5T_OPAQUE, H5T_BITFIELD:
            return H5Tcopy(type)
        case H5T_REFERENCE:
            if H5Tequal(type, chdf5_std_ref_obj()) > 0 { return H5Tcopy(chdf5_std_ref_obj()) }
            if H5Tequal(type, chdf5_std_ref_dsetreg()) > 0 { return H5Tcopy(chdf5_std_ref_dsetreg()) }
            return nil
        case H5T_COMPOUND:
            let n = UInt32(max(0, H5Tget_nmembers(type)))
            var members: [(name: UnsafeMutablePointer<CChar>, type: hid_t)] = []
            defer { for m in members { H5free_memory(m.name); H5Tclose(m.type) } }
            for i in 0..<n {
                let memberType = H5Tget_member_type(type, i)
                defer { H5Tclose(memberType) }
                guard let name = H5Tget_member_name(type, i), let mem = memoryType(for: memberType) else { return nil }
                members.append((name, mem))
            }
            let mem = H5Tcreate(H5T_COMPOUND, max(1, members.reduce(0) { $0 + H5Tget_size($1.type) }))
            var offset = 0
            for m in members {
                H5Tinsert(mem, m.name, offset, m.type)
                offset += H5Tget_size(m.type)
            }
            return mem
        case H5T_ARRAY:
            let base = H5Tget_super(type)
            defer { H5Tclose(base) }
            var dims = [hsize_t](repeating: 0, count: Int(max(0, H5Tget_array_ndims(type))))
            guard H5Tget_array_dims2(type, &dims) >= 0, let mem = memoryType(for: base) else { return nil }
            defer { H5Tclose(mem) }
            return H5Tarray_create2(mem, UInt32(dims.count), dims)
        case H5T_VLEN:
            let base = H5Tget_super(type)
            defer { H5Tclose(base) }
            guard let mem = memoryType(for: base) else { return nil }
            defer { H5Tclose(mem) }
            return H5Tvlen_create(mem)
        default:
            return nil
        }
    }

    /// The value at `p` of a memory type made by `memoryType(for:)`; lists show at most `limit` elements.
    private func element(_ mem: hid_t, _ p: UnsafeRawPointer, limit: Int) -> HDF5Element {
        let size = H5Tget_size(mem)
        switch H5Tget_class(mem) {
        case H5T_INTEGER:
            return H5Tget_sign(mem) == H5T_SGN_NONE ? .uint(p.loadUnaligned(as: UInt64.self)) : .int(p.loadUnaligned(as: Int64.self))
        case H5T_FLOAT:
            return .float(p.loadUnaligned(as: Double.self))
        case H5T_STRING:
            if H5Tis_variable_str(mem) > 0 {
                guard let s = UnsafePointer<CChar>(bitPattern: p.loadUnaligned(as: UInt.self)) else { return .string("") }
                return .string(String(cString: s))
            }
            var bytes = Array(UnsafeRawBufferPointer(start: p, count: size).prefix { $0 != 0 })
            if H5Tget_strpad(mem) == H5T_STR_SPACEPAD { while bytes.last == 0x20 { bytes.removeLast() } }
            return .string(String(decoding: bytes, as: UTF8.self))
        case H5T_ENUM:
            var name = [CChar](repeating: 0, count: 256)
            if H5Tenum_nameof(mem, p, &name, name.count) >= 0 { return .enumMember(String(cString: name)) }
            _ = lastHDF5Error()
            let base = H5Tget_super(mem)
            defer { H5Tclose(base) }
            return .enumMember(String(integer(p, size: size, signed: H5Tget_sign(base) == H5T_SGN_2)))
        case H5T_OPAQUE:
            return .bytes(Array(UnsafeRawBufferPointer(start: p, count: size)))
        case H5T_BITFIELD:
            let bytes = Array(UnsafeRawBufferPointer(start: p, count: size))
            return .bytes(H5Tget_order(mem) == H5T_ORDER_BE ? bytes : bytes.reversed())
        case H5T_REFERENCE:
            let region = H5Tequal(mem, chdf5_std_ref_dsetreg()) > 0
            guard UnsafeRawBufferPointer(start: p, count: size).contains(where: { $0 != 0 }) else { return .reference(nil, region: region) }
            var name = [CChar](repeating: 0, count: 1024)
            guard H5Rget_name(id, region ? H5R_DATASET_REGION : H5R_OBJECT, p, &name, name.count) > 0 else {
                _ = lastHDF5Error()
                return .reference("(unresolved)", region: region)
            }
            return .reference(String(cString: name), region: region)
        case H5T_COMPOUND:
            return .compound((0..<UInt32(max(0, H5Tget_nmembers(mem)))).map { i in
                let memberType = H5Tget_member_type(mem, i)
                defer { H5Tclose(memberType) }
                let name = H5Tget_member_name(mem, i)
                defer { H5free_memory(name) }
                return HDF5Element.Field(name: name.map { String(cString: $0) } ?? "?",
                                         value: element(memberType, p + H5Tget_member_offset(mem, i), limit: limit))
            })
        case H5T_ARRAY:
            let base = H5Tget_super(mem)
            defer { H5Tclose(base) }
            let count = size / max(1, H5Tget_size(base))
            return .list((0..<min(count, limit)).map { element(base, p + $0 * H5Tget_size(base), limit: limit) }, count: count)
        case H5T_VLEN:
            let base = H5Tget_super(mem)
            defer { H5Tclose(base) }
            let sequence = p.loadUnaligned(as: hvl_t.self)
            guard let items = sequence.p, sequence.len > 0 else { return .list([], count: 0) }
            return .list((0..<min(sequence.len, limit)).map { element(base, items + $0 * H5Tget_size(base), limit: limit) },
                         count: sequence.len)
        default:
            return .string("?")
        }
    }

    /// A short name of any HDF5 type: `int16`, `uint64 (big-endian)`, `float16`, `string`, `string[8]`,
    /// `enum uint8 {RED, GREEN, BLUE}`, `compound {x: float32, y: float32}`, `complex128 (compound {r, i})`,
    /// `opaque[4]`, `bitfield8`, `object reference`, `array [2, 3] of int32`, `sequence of int32`, `time`.
    private func typeName(_ type: hid_t) -> String {
        let size = H5Tget_size(type)
        let endian = H5Tget_order(type) == H5T_ORDER_BE ? " (big-endian)" : ""
        switch H5Tget_class(type) {
        case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + "\(size * 8)" + endian
        case H5T_FLOAT: return "float\(size * 8)" + endian
        case H5T_STRING: return H5Tis_variable_str(type) > 0 ? "string" : "string[\(size)]"
        case H5T_BITFIELD: return "bitfield\(size * 8)" + endian
        case H5T_TIME: return "time"
        case H5T_OPAQUE:
            let tag = H5Tget_tag(type)
            defer { H5free_memory(tag) }
            let text = tag.map { String(cString: $0) } ?? ""
            return "opaque[\(size)]" + (text.isEmpty ? "" : " \(text.debugDescription)")
        case H5T_REFERENCE:
            if H5Tequal(type, chdf5_std_ref_obj()) > 0 { return "object reference" }
            return H5Tequal(type, chdf5_std_ref_dsetreg()) > 0 ? "region reference" : "reference"
        case H5T_ENUM:
            let base = H5Tget_super(type)
            defer { H5Tclose(base) }
            let signed = H5Tget_sign(base) == H5T_SGN_2
            let members = (0..<UInt32(max(0, H5Tget_nmembers(type)))).map { i -> (name: String, value: Int128?) in
                let name = H5Tget_member_name(type, i)
                defer { H5free_memory(name) }
                // The value in the base type's layout, converted in place to a 64-bit integer.
                var value: UInt64 = 0
                let known = H5Tget_size(base) <= MemoryLayout<UInt64>.size && withUnsafeMutableBytes(of: &value) { buf in
                    H5Tget_member_value(type, i, buf.baseAddress) >= 0
                        && H5Tconvert(base, signed ? chdf5_native_int64() : chdf5_native_uint64(), 1, buf.baseAddress, nil, chdf5_p_default()) >= 0
                }
                return (name.map { String(cString: $0) } ?? "?", known ? (signed ? Int128(Int64(bitPattern: value)) : Int128(value)) : nil)
            }
            let sorted = members.sorted { ($0.value ?? .max) < ($1.value ?? .max) }
            return "enum \(typeName(base)) {\(abbreviated(sorted.map { m in m.value.map { "\(m.name) = \($0)" } ?? m.name }))}"
        case H5T_COMPOUND:
            let members = (0..<UInt32(max(0, H5Tget_nmembers(type)))).map { i -> (String, String) in
                let name = H5Tget_member_name(type, i), memberType = H5Tget_member_type(type, i)
                defer { H5free_memory(name); H5Tclose(memberType) }
                return (name.map { String(cString: $0) } ?? "?", typeName(memberType))
            }
            // h5py stores complex numbers as a compound of two floats named r and i.
            if members.map(\.0) == ["r", "i"], members[0].1 == members[1].1, members[0].1.hasPrefix("float") {
                return "complex\(size * 8) (compound {r, i})"
            }
            return "compound {\(abbreviated(members.map { "\($0.0): \($0.1)" }))}"
        case H5T_ARRAY:
            let base = H5Tget_super(type)
            defer { H5Tclose(base) }
            var dims = [hsize_t](repeating: 0, count: Int(max(0, H5Tget_array_ndims(type))))
            H5Tget_array_dims2(type, &dims)
            return "array \(dims) of \(typeName(base))"
        case H5T_VLEN:
            let base = H5Tget_super(type)
            defer { H5Tclose(base) }
            return "sequence of \(typeName(base))"
        default:
            return "type class \(H5Tget_class(type).rawValue)"
        }
    }
}

/// The first items of a list joined by commas, the rest counted.
private func abbreviated(_ items: [String], first: Int = 12) -> String {
    items.count <= first ? items.joined(separator: ", ") : items.prefix(first).joined(separator: ", ") + ", … (\(items.count) in all)"
}

/// Holds a callback for a C iteration function, which passes it back through its user-data pointer.
private final class Visitor<Body> {
    let body: Body
    init(_ body: Body) { self.body = body }
}

/// The value of a signed or unsigned little-endian-native integer of 1, 2, 4 or 8 bytes at `p`, as text.
private func integer(_ p: UnsafeRawPointer, size: Int, signed: Bool) -> String {
    switch (size, signed) {
    case (1, true): return String(p.loadUnaligned(as: Int8.self))
    case (2, true): return String(p.loadUnaligned(as: Int16.self))
    case (4, true): return String(p.loadUnaligned(as: Int32.self))
    case (8, true): return String(p.loadUnaligned(as: Int64.self))
    case (1, false): return String(p.loadUnaligned(as: UInt8.self))
    case (2, false): return String(p.loadUnaligned(as: UInt16.self))
    case (4, false): return String(p.loadUnaligned(as: UInt32.self))
    case (8, false): return String(p.loadUnaligned(as: UInt64.self))
    default: return "?"
    }
}
