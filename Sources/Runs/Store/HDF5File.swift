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

    /// Opens an existing file; refuses a missing file or one that is not HDF5 with one line.
    public static func open(_ path: String, writable: Bool = false) throws -> HDF5File {
        _ = hdf5Setup
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError("\(path): no such file") }
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
        var info = H5G_info_t()
        guard H5Gget_info(gid, &info) >= 0 else { throw StoreError("\(path): cannot list '\(group)'") }
        var names: [String] = []
        for i in 0..<info.nlinks {
            let size = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, chdf5_p_default())
            guard size >= 0 else { continue }
            var buf = [CChar](repeating: 0, count: Int(size) + 1)
            H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(size) + 1, chdf5_p_default())
            names.append(String(cString: buf))
        }
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
        var index: hsize_t = 0
        while true {
            let size = H5Aget_name_by_idx(oid, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, chdf5_p_default())
            if size < 0 { _ = lastHDF5Error(); break }
            var buf = [CChar](repeating: 0, count: Int(size) + 1)
            H5Aget_name_by_idx(oid, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buf, Int(size) + 1, chdf5_p_default())
            let key = String(cString: buf)
            let aid = H5Aopen(oid, key, chdf5_p_default())
            if aid >= 0 {
                if let value = readAttribute(aid) { out.append((key, value)) }
                H5Aclose(aid)
            }
            index += 1
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
    return text.isEmpty ? "HDF5 error" : text
}
