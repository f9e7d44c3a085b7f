import CHDF5
import Foundation

// A small wrapper over the HDF5 C API: files, groups, numeric datasets and attributes.
// Every unsafe pointer of the checkpoint module lives in this file. Each C call that can
// fail is checked; a failure reads HDF5's error stack and becomes CheckpointError.hdf5.

/// Attribute values the checkpoint schema uses.
enum AttributeValue: Equatable, Sendable {
    case int(Int64)
    case uint(UInt64)
    case float(Float)
    case double(Double)
    case string(String)
    case ints([Int64])
    case strings([String])

    /// Name of the kind, for "expected integer, found string" messages.
    var kind: String {
        switch self {
        case .int: "int64"
        case .uint: "uint64"
        case .float: "float32"
        case .double: "float64"
        case .string: "string"
        case .ints: "int64 array"
        case .strings: "string array"
        }
    }
}

/// Element type of a stored dataset, as far as the schema cares.
enum ElementType: Equatable, Sendable, CustomStringConvertible {
    case float(bits: Int)
    case int(bits: Int, signed: Bool)
    case other(String)

    var description: String {
        switch self {
        case .float(let b): "float\(b)"
        case .int(let b, let s): "\(s ? "int" : "uint")\(b)"
        case .other(let s): s
        }
    }
}

/// Shape and element type of a dataset, read without reading its data.
struct DatasetInfo: Equatable, Sendable {
    var shape: [Int]
    var element: ElementType
}

/// Numeric element types that map to one HDF5 memory type and one little-endian file type.
protocol HDF5Number {
    static var memoryType: hid_t { get }
    static var fileType: hid_t { get }
}
extension Float: HDF5Number {
    static var memoryType: hid_t { reckon_H5T_NATIVE_FLOAT() }
    static var fileType: hid_t { reckon_H5T_IEEE_F32LE() }
}
extension Int64: HDF5Number {
    static var memoryType: hid_t { reckon_H5T_NATIVE_INT64() }
    static var fileType: hid_t { reckon_H5T_STD_I64LE() }
}
extension UInt64: HDF5Number {
    static var memoryType: hid_t { reckon_H5T_NATIVE_UINT64() }
    static var fileType: hid_t { reckon_H5T_STD_U64LE() }
}

/// An open HDF5 file. `close()` reports errors; deinit closes quietly if a throw skipped it.
final class HDF5File {
    let path: String
    private var id: hid_t

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    deinit {
        if id >= 0 { H5Fclose(id) }
    }

    /// Creates (or truncates) a file for writing.
    static func create(_ path: String) throws(CheckpointError) -> HDF5File {
        silenceErrorPrinting()
        // The 1.10 file format checksums its metadata: superblock, object headers and chunk
        // indexes. In the older format a damaged chunk index reads back as zeros without error.
        // Every HDF5 1.10+ reader (h5py wheels, h5dump 1.10) opens it.
        let fapl = H5Pcreate(reckon_H5P_FILE_ACCESS())
        guard fapl >= 0 else { throw failure(path, "create file properties") }
        defer { H5Pclose(fapl) }
        guard H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) >= 0 else {
            throw failure(path, "select the HDF5 1.10 file format")
        }
        let id = H5Fcreate(path, reckon_H5F_ACC_TRUNC(), reckon_H5P_DEFAULT(), fapl)
        guard id >= 0 else { throw failure(path, "create file") }
        return HDF5File(path: path, id: id)
    }

    /// Opens an existing file; read-only unless `writable`. Separates "missing", "not HDF5"
    /// and "truncated", the three ways a checkpoint path most often goes wrong.
    static func open(_ path: String, writable: Bool = false) throws(CheckpointError) -> HDF5File {
        silenceErrorPrinting()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        guard !isDirectory.boolValue else { throw .notHDF5(path: path, detail: "it is a directory") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .io(path: path, operation: "open", message: "permission denied")
        }
        let signature = H5Fis_hdf5(path)
        if signature < 0 { throw failure(path, "probe file") }
        if signature == 0 {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            throw .notHDF5(path: path, detail: size == 0 ? "the file is empty" : "no HDF5 signature in its \(size) bytes")
        }
        let flags = writable ? reckon_H5F_ACC_RDWR() : reckon_H5F_ACC_RDONLY()
        let id = H5Fopen(path, flags, reckon_H5P_DEFAULT())
        guard id >= 0 else {
            let message = errorStackMessage()
            if message.contains("truncated file") { throw .truncated(path: path, detail: message) }
            throw .hdf5(path: path, operation: "open file", message: message)
        }
        return HDF5File(path: path, id: id)
    }

    /// Writes HDF5's buffers to the OS.
    func flush() throws(CheckpointError) {
        guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw failure("flush file") }
    }

    func close() throws(CheckpointError) {
        guard id >= 0 else { return }
        let status = H5Fclose(id)
        id = -1
        guard status >= 0 else { throw failure("close file") }
    }

    // MARK: Groups and links

    func createGroup(_ name: String) throws(CheckpointError) {
        let g = H5Gcreate2(id, name, reckon_H5P_DEFAULT(), reckon_H5P_DEFAULT(), reckon_H5P_DEFAULT())
        guard g >= 0 else { throw failure("create group \(name)") }
        H5Gclose(g)
    }

    /// Whether an absolute path like /model/wq names an object. Checks each component,
    /// since H5Lexists fails (rather than answering no) when a parent is missing.
    func exists(_ name: String) -> Bool {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += "/" + part
            guard H5Lexists(id, prefix, reckon_H5P_DEFAULT()) > 0,
                  H5Oexists_by_name(id, prefix, reckon_H5P_DEFAULT()) > 0 else {
                _ = errorStackMessage()
                return false
            }
        }
        return true
    }

    /// Names of the links directly inside a group, in name order.
    func members(of group: String) throws(CheckpointError) -> [String] {
        var info = H5G_info_t()
        guard H5Gget_info_by_name(id, group, &info, reckon_H5P_DEFAULT()) >= 0 else {
            throw failure("list group \(group)")
        }
        return try names(count: info.nlinks, what: "list group \(group)") { i, buffer, size in
            H5Lget_name_by_idx(id, group, H5_INDEX_NAME, H5_ITER_INC, i, buffer, size, reckon_H5P_DEFAULT())
        }
    }

    // MARK: Datasets

    /// Writes a dataset of `shape` (row-major); `data.count` must match the shape. With
    /// `checksummed` (always, outside tests that build files other writers make) it is
    /// chunked with a Fletcher-32 checksum; without, it is stored contiguous and unchecked.
    func write<T: HDF5Number>(_ name: String, _ data: [T], shape: [Int], checksummed: Bool = true) throws(CheckpointError) {
        precondition(data.count == shape.reduce(1, *), "dataset \(name): \(data.count) values for shape \(shape)")
        let dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
        guard space >= 0 else { throw failure("create dataspace for \(name)") }
        defer { H5Sclose(space) }
        // One chunk per tensor with a Fletcher-32 checksum, so flipped bits in the data fail
        // the read instead of loading as wrong weights. (Contiguous data has no checksum.)
        let dcpl = H5Pcreate(reckon_H5P_DATASET_CREATE())
        guard dcpl >= 0 else { throw failure("create dataset properties for \(name)") }
        defer { H5Pclose(dcpl) }
        if checksummed, !shape.isEmpty, !shape.contains(0) {
            // HDF5 chunks must stay under 4 GiB; halve leading dimensions until one is ≤ 1 GiB.
            var chunk = dims
            for axis in chunk.indices {
                while chunk[axis] > 1, chunk.reduce(hsize_t(MemoryLayout<T>.size), *) > 1 << 30 {
                    chunk[axis] = (chunk[axis] + 1) / 2
                }
            }
            guard H5Pset_chunk(dcpl, Int32(chunk.count), chunk) >= 0, H5Pset_fletcher32(dcpl) >= 0 else {
                throw failure("set up checksums for \(name)")
            }
        }
        let ds = H5Dcreate2(id, name, T.fileType, space, reckon_H5P_DEFAULT(), dcpl, reckon_H5P_DEFAULT())
        guard ds >= 0 else { throw failure("create dataset \(name)") }
        defer { H5Dclose(ds) }
        let status = data.withUnsafeBytes {
            H5Dwrite(ds, T.memoryType, reckon_H5S_ALL(), reckon_H5S_ALL(), reckon_H5P_DEFAULT(), $0.baseAddress)
        }
        guard status >= 0 else { throw failure("write dataset \(name)") }
    }

    /// Whether a dataset's reads are checked by a Fletcher-32 checksum (a chunked dataset
    /// with that filter); a contiguous dataset has none.
    func hasChecksum(_ name: String) throws(CheckpointError) -> Bool {
        let ds = H5Dopen2(id, name, reckon_H5P_DEFAULT())
        guard ds >= 0 else { throw failure("open dataset \(name)") }
        defer { H5Dclose(ds) }
        let dcpl = H5Dget_create_plist(ds)
        guard dcpl >= 0 else { throw failure("read the storage properties of \(name)") }
        defer { H5Pclose(dcpl) }
        let count = H5Pget_nfilters(dcpl)
        guard count >= 0 else { throw failure("list the filters of \(name)") }
        for i in 0..<UInt32(count) {
            var flags: UInt32 = 0, elements = 0, config: UInt32 = 0
            var values = [UInt32](repeating: 0, count: 8)
            var filterName = [CChar](repeating: 0, count: 64)
            elements = values.count
            let filter = H5Pget_filter2(dcpl, i, &flags, &elements, &values, filterName.count, &filterName, &config)
            if filter == H5Z_FILTER_FLETCHER32 { return true }
        }
        return false
    }

    /// Shape and element type of a dataset.
    func info(_ name: String) throws(CheckpointError) -> DatasetInfo {
        let ds = H5Dopen2(id, name, reckon_H5P_DEFAULT())
        guard ds >= 0 else { throw failure("open dataset \(name)") }
        defer { H5Dclose(ds) }
        let space = H5Dget_space(ds)
        guard space >= 0 else { throw failure("read the shape of \(name)") }
        defer { H5Sclose(space) }
        let type = H5Dget_type(ds)
        guard type >= 0 else { throw failure("read the type of \(name)") }
        defer { H5Tclose(type) }
        return DatasetInfo(shape: try shape(of: space, name), element: elementType(type))
    }

    /// Reads a whole dataset, converting to T; the caller checks `info` first so the
    /// conversion is never a silent narrowing.
    func read<T: HDF5Number>(_ name: String, as: T.Type) throws(CheckpointError) -> [T] {
        let ds = H5Dopen2(id, name, reckon_H5P_DEFAULT())
        guard ds >= 0 else { throw failure("open dataset \(name)") }
        defer { H5Dclose(ds) }
        let space = H5Dget_space(ds)
        guard space >= 0 else { throw failure("read the shape of \(name)") }
        defer { H5Sclose(space) }
        let count = try shape(of: space, name).reduce(1, *)
        var status: herr_t = -1
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = H5Dread(ds, T.memoryType, reckon_H5S_ALL(), reckon_H5S_ALL(), reckon_H5P_DEFAULT(),
                             UnsafeMutableRawPointer(buffer.baseAddress))
            initialized = status >= 0 ? count : 0
        }
        guard status >= 0 else { throw failure("read dataset \(name)") }
        return values
    }

    // MARK: Attributes

    /// Sets attribute `name` on the object at `object`, replacing any previous value.
    func setAttribute(_ object: String, _ name: String, _ value: AttributeValue) throws(CheckpointError) {
        let what = "attribute \(name) on \(object)"
        let present = H5Aexists_by_name(id, object, name, reckon_H5P_DEFAULT())
        guard present >= 0 else { throw failure("check \(what)") }
        if present > 0, H5Adelete_by_name(id, object, name, reckon_H5P_DEFAULT()) < 0 { throw failure("replace \(what)") }

        let count: Int? = switch value {
        case .ints(let xs): xs.count
        case .strings(let xs): xs.count
        default: nil
        }
        var dims = [hsize_t(count ?? 0)]
        let space = count == nil ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        guard space >= 0 else { throw failure("create dataspace for \(what)") }
        defer { H5Sclose(space) }

        let isString: Bool = switch value {
        case .string, .strings: true
        default: false
        }
        // Strings are variable-length UTF-8, which h5py reads back as str.
        let stringType = isString ? try utf8StringType() : -1
        defer { if stringType >= 0 { H5Tclose(stringType) } }
        let (fileType, memoryType): (hid_t, hid_t) = switch value {
        case .int, .ints: (Int64.fileType, Int64.memoryType)
        case .uint: (UInt64.fileType, UInt64.memoryType)
        case .float: (Float.fileType, Float.memoryType)
        case .double: (reckon_H5T_IEEE_F64LE(), reckon_H5T_NATIVE_DOUBLE())
        case .string, .strings: (stringType, stringType)
        }
        let attr = H5Acreate_by_name(id, object, name, fileType, space, reckon_H5P_DEFAULT(), reckon_H5P_DEFAULT(),
                                     reckon_H5P_DEFAULT())
        guard attr >= 0 else { throw failure("create \(what)") }
        defer { H5Aclose(attr) }

        var status: herr_t = 0
        switch value {
        case .int(var x): status = H5Awrite(attr, memoryType, &x)
        case .uint(var x): status = H5Awrite(attr, memoryType, &x)
        case .float(var x): status = H5Awrite(attr, memoryType, &x)
        case .double(var x): status = H5Awrite(attr, memoryType, &x)
        case .ints(let xs) where !xs.isEmpty: status = xs.withUnsafeBufferPointer { H5Awrite(attr, memoryType, $0.baseAddress) }
        case .string(let s): status = Self.withCStrings([s]) { H5Awrite(attr, memoryType, $0) }
        case .strings(let xs) where !xs.isEmpty: status = Self.withCStrings(xs) { H5Awrite(attr, memoryType, $0) }
        default: break
        }
        guard status >= 0 else { throw failure("write \(what)") }
    }

    /// Names of the attributes on `object`, in name order.
    func attributeNames(of object: String) throws(CheckpointError) -> [String] {
        var info = H5O_info_t()
        guard H5Oget_info_by_name2(id, object, &info, UInt32(H5O_INFO_NUM_ATTRS), reckon_H5P_DEFAULT()) >= 0 else {
            throw failure("list the attributes of \(object)")
        }
        return try names(count: info.num_attrs, what: "list the attributes of \(object)") { i, buffer, size in
            H5Aget_name_by_idx(id, object, H5_INDEX_NAME, H5_ITER_INC, i, buffer, size, reckon_H5P_DEFAULT())
        }
    }

    /// Reads `count` names through an HDF5 get-name-by-index call: once for the length, once for the text.
    private func names(count: hsize_t, what: String,
                       _ get: (hsize_t, UnsafeMutablePointer<CChar>?, Int) -> Int) throws(CheckpointError) -> [String] {
        var names: [String] = []
        for i in 0..<count {
            let n = get(i, nil, 0)
            guard n >= 0 else { throw failure(what) }
            var buffer = [CChar](repeating: 0, count: n + 1)
            guard get(i, &buffer, buffer.count) >= 0 else { throw failure(what) }
            names.append(String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// The attribute `name` on `object`, or nil when it is absent.
    func attribute(_ object: String, _ name: String) throws(CheckpointError) -> AttributeValue? {
        let what = "attribute \(name) on \(object)"
        let present = H5Aexists_by_name(id, object, name, reckon_H5P_DEFAULT())
        guard present >= 0 else { throw failure("check \(what)") }
        guard present > 0 else { return nil }
        let attr = H5Aopen_by_name(id, object, name, reckon_H5P_DEFAULT(), reckon_H5P_DEFAULT())
        guard attr >= 0 else { throw failure("open \(what)") }
        defer { H5Aclose(attr) }
        let space = H5Aget_space(attr)
        guard space >= 0 else { throw failure("read the shape of \(what)") }
        defer { H5Sclose(space) }
        let type = H5Aget_type(attr)
        guard type >= 0 else { throw failure("read the type of \(what)") }
        defer { H5Tclose(type) }

        let scalar = H5Sget_simple_extent_type(space) == H5S_SCALAR
        let points = H5Sget_simple_extent_npoints(space)
        guard points >= 0 else { throw failure("read the size of \(what)") }
        let count = Int(points)
        guard scalar || H5Sget_simple_extent_ndims(space) == 1 else {
            throw .hdf5(path: path, operation: "read \(what)", message: "attributes of rank above 1 are not part of the schema")
        }

        switch H5Tget_class(type) {
        case H5T_INTEGER where H5Tget_sign(type) == H5T_SGN_NONE && scalar:
            var x: UInt64 = 0
            guard H5Aread(attr, UInt64.memoryType, &x) >= 0 else { throw failure("read \(what)") }
            return .uint(x)
        case H5T_INTEGER:
            var xs = [Int64](repeating: 0, count: count)
            if count > 0, H5Aread(attr, Int64.memoryType, &xs) < 0 { throw failure("read \(what)") }
            return scalar ? .int(xs.first ?? 0) : .ints(xs)
        case H5T_FLOAT where scalar:
            if H5Tget_size(type) <= 4 {
                var x: Float = 0
                guard H5Aread(attr, Float.memoryType, &x) >= 0 else { throw failure("read \(what)") }
                return .float(x)
            }
            var x: Double = 0
            guard H5Aread(attr, reckon_H5T_NATIVE_DOUBLE(), &x) >= 0 else { throw failure("read \(what)") }
            return .double(x)
        case H5T_STRING:
            let strings = try readStrings(attr, type: type, space: space, count: count, what)
            return scalar ? .string(strings.first ?? "") : .strings(strings)
        default:
            throw .hdf5(path: path, operation: "read \(what)", message: "its HDF5 type is not one the schema uses")
        }
    }

    /// Reads variable-length or fixed-length strings (other writers use either).
    private func readStrings(_ attr: hid_t, type: hid_t, space: hid_t, count: Int,
                             _ what: String) throws(CheckpointError) -> [String] {
        guard count > 0 else { return [] }
        let variable = H5Tis_variable_str(type)
        guard variable >= 0 else { throw failure("read the type of \(what)") }
        if variable > 0 {
            let memoryType = try utf8StringType()
            defer { H5Tclose(memoryType) }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(attr, memoryType, &pointers) >= 0 else { throw failure("read \(what)") }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            H5Dvlen_reclaim(memoryType, space, reckon_H5P_DEFAULT(), &pointers)
            return strings
        }
        let width = H5Tget_size(type)
        guard width > 0 else { throw failure("read the type of \(what)") }
        var bytes = [UInt8](repeating: 0, count: width * count)
        guard H5Aread(attr, type, &bytes) >= 0 else { throw failure("read \(what)") }
        return (0..<count).map { i in
            let field = bytes[(i * width)..<((i + 1) * width)]
            let text = field.prefix { $0 != 0 }
            return String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        }
    }

    /// Calls `body` with a C array of NUL-terminated copies of `strings`.
    private static func withCStrings(_ strings: [String], _ body: (UnsafeRawPointer) -> herr_t) -> herr_t {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return copies.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return -1 }
            return body(UnsafeRawPointer(base))
        }
    }

    /// Variable-length UTF-8 string type; the caller closes it.
    private func utf8StringType() throws(CheckpointError) -> hid_t {
        let t = H5Tcopy(reckon_H5T_C_S1())
        guard t >= 0, H5Tset_size(t, reckon_H5T_VARIABLE()) >= 0, H5Tset_cset(t, H5T_CSET_UTF8) >= 0 else {
            if t >= 0 { H5Tclose(t) }
            throw failure("make a string type")
        }
        return t
    }

    // MARK: Helpers

    private func shape(of space: hid_t, _ name: String) throws(CheckpointError) -> [Int] {
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw failure("read the rank of \(name)") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else { throw failure("read the shape of \(name)") }
        return dims.map { Int($0) }
    }

    private func elementType(_ type: hid_t) -> ElementType {
        let size = H5Tget_size(type) * 8
        switch H5Tget_class(type) {
        case H5T_FLOAT: return .float(bits: size)
        case H5T_INTEGER: return .int(bits: size, signed: H5Tget_sign(type) != H5T_SGN_NONE)
        case H5T_STRING: return .other("string")
        case H5T_COMPOUND: return .other("compound")
        default: return .other("non-numeric")
        }
    }

    private func failure(_ operation: String) -> CheckpointError {
        Self.failure(path, operation)
    }

    private static func failure(_ path: String, _ operation: String) -> CheckpointError {
        .hdf5(path: path, operation: operation, message: errorStackMessage())
    }
}

/// Turns off HDF5's automatic printing of error stacks to stderr; we report errors ourselves.
/// The setting lives with the (per-thread) error stack, so each entry point calls it.
func silenceErrorPrinting() {
    H5Eset_auto2(reckon_H5E_DEFAULT(), nil, nil)
}

/// Reads the current error stack into one line: the outermost description (what the API
/// call was doing) and the innermost (the specific cause), then clears the stack.
func errorStackMessage() -> String {
    final class Lines { var items: [String] = [] }
    let lines = Lines()
    withExtendedLifetime(lines) {
        let context = Unmanaged.passUnretained(lines).toOpaque()
        H5Ewalk2(reckon_H5E_DEFAULT(), H5E_WALK_DOWNWARD, { _, entry, context in
            guard let entry, let context, let desc = entry.pointee.desc else { return 0 }
            let text = String(cString: desc).trimmingCharacters(in: .whitespaces)
            if !text.isEmpty { Unmanaged<Lines>.fromOpaque(context).takeUnretainedValue().items.append(text) }
            return 0
        }, context)
    }
    H5Eclear2(reckon_H5E_DEFAULT())
    guard let first = lines.items.first, let last = lines.items.last else { return "unknown HDF5 error" }
    return first == last ? first : "\(first): \(last)"
}
