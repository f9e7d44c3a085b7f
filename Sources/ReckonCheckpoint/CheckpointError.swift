// The checkpoint module's one error type: every failure reading, writing, verifying or exporting a file.

/// Everything that can go wrong reading, writing or exporting a checkpoint.
/// Each case renders as one line that starts with the file it concerns.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    /// The file exists but is not HDF5 (no signature), e.g. a text file or a cut-off header.
    case notHDF5(path: String, detail: String)
    /// HDF5, but shorter than its superblock says: an interrupted copy or download.
    case truncated(path: String, detail: String)
    /// HDF5, but not written by Reckon (no or wrong `format` attribute).
    case notACheckpoint(path: String, reason: String)
    case unsupportedVersion(path: String, found: Int, supported: Int)
    case missingDataset(path: String, dataset: String)
    case unexpectedDataset(path: String, dataset: String, reason: String)
    case wrongShape(path: String, dataset: String, found: [Int], expected: [Int])
    case wrongType(path: String, dataset: String, found: String, expected: String)
    /// The tensor's stored checksum does not match its bytes (bit rot, a bad copy).
    case corrupted(path: String, dataset: String, detail: String)
    /// A tensor holds NaN or an infinity: `element` is its flat index within the tensor.
    case nonFinite(path: String, dataset: String, element: Int, value: String)
    case missingAttribute(path: String, object: String, name: String)
    case wrongAttribute(path: String, object: String, name: String, found: String, expected: String)
    case invalidConfig(path: String, reason: String)
    case tokenizerMismatch(path: String, reason: String)
    /// A model-only checkpoint asked to resume training.
    case notResumable(path: String, reason: String)
    /// The in-memory checkpoint does not match its own config (caught before writing).
    case inconsistent(path: String, reason: String)
    case hdf5(path: String, operation: String, message: String)
    case io(path: String, operation: String, message: String)
    case exportUnsupported(path: String, reason: String)
    case invalidRotation(reason: String)
    /// An adapter's base checkpoint is not where the adapter (or `--base`) points.
    case baseMissing(adapter: String, base: String, expectedSHA256: String, fetch: String)
    /// A base was found but its weights are not the ones the adapter was trained on.
    case baseMismatch(adapter: String, base: String, expectedSHA256: String, foundSHA256: String, fetch: String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): "\(p): no such file"
        case .notHDF5(let p, let d): "\(p): not an HDF5 file (\(d))"
        case .truncated(let p, let d): "\(p): truncated HDF5 file (\(d))"
        case .notACheckpoint(let p, let r): "\(p): not a Reckon checkpoint: \(r)"
        case .unsupportedVersion(let p, let f, let s):
            "\(p): checkpoint format_version \(f) is not supported (this build reads version \(s))"
        case .missingDataset(let p, let d): "\(p): dataset \(d) is missing"
        case .unexpectedDataset(let p, let d, let r): "\(p): unexpected dataset \(d): \(r)"
        case .wrongShape(let p, let d, let f, let e): "\(p): dataset \(d) has shape \(f), expected \(e)"
        case .wrongType(let p, let d, let f, let e): "\(p): dataset \(d) holds \(f), expected \(e)"
        case .corrupted(let p, let d, let detail): "\(p): dataset \(d) is corrupted: \(detail)"
        case .nonFinite(let p, let d, let i, let v):
            "\(p): dataset \(d) holds a non-finite value (\(v) at element \(i)); a model with it gives wrong answers"
        case .missingAttribute(let p, let o, let n): "\(p): attribute \(n) is missing on \(o)"
        case .wrongAttribute(let p, let o, let n, let f, let e): "\(p): attribute \(n) on \(o) is \(f), expected \(e)"
        case .invalidConfig(let p, let r): "\(p): invalid model config: \(r)"
        case .tokenizerMismatch(let p, let r): "\(p): tokenizer mismatch: \(r)"
        case .notResumable(let p, let r): "\(p): cannot resume training from this checkpoint: \(r)"
        case .inconsistent(let p, let r): "\(p): checkpoint is inconsistent: \(r)"
        case .hdf5(let p, let op, let m): "\(p): HDF5 failed to \(op): \(m)"
        case .io(let p, let op, let m): "\(p): failed to \(op): \(m)"
        case .exportUnsupported(let p, let r): "\(p): cannot export to llama2.c v0: \(r)"
        case .invalidRotation(let r): "invalid checkpoint rotation: \(r)"
        case .baseMissing(let a, let b, let h, let fetch):
            "\(a): its base checkpoint \(b) is missing (expected weights SHA-256 \(h)); \(fetch), or pass --base PATH"
        case .baseMismatch(let a, let b, let h, let found, let fetch):
            "\(a): base \(b) has weights SHA-256 \(found), the adapter was trained on \(h); \(fetch), or pass --base PATH"
        }
    }
}
