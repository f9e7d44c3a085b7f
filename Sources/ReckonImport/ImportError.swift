// The import module's one error type: every failure reading a foreign model, as one line naming the file.

/// Everything that can go wrong reading a foreign model. Each case renders as one line that
/// starts with the file it concerns.
public enum ImportError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    /// The file ends before a structure it declares: an interrupted download or copy.
    case truncated(path: String, detail: String)
    case notGGUF(path: String, detail: String)
    case unsupportedVersion(path: String, found: Int, supported: [Int])
    case badMetadata(path: String, key: String, reason: String)
    /// A tensor type id ggml does not define.
    case unknownTensorType(path: String, tensor: String, type: UInt32)
    /// A type ggml defines but this importer does not dequantise.
    case unsupportedTensorType(path: String, tensor: String, type: String, supported: [String])
    case unsupportedArchitecture(path: String, architecture: String, supported: [String])
    case unsupportedFeature(path: String, reason: String)
    case missingTensor(path: String, tensor: String)
    case unexpectedTensor(path: String, tensor: String)
    case shapeMismatch(path: String, tensor: String, found: [Int], expected: [Int])
    case missingTokenizer(path: String, reason: String)
    case unsupportedTokenizer(path: String, reason: String)
    case invalidConfig(path: String, reason: String)
    case malformed(path: String, reason: String)
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): "\(p): no such file or folder"
        case .truncated(let p, let d): "\(p): truncated file: \(d)"
        case .notGGUF(let p, let d): "\(p): not a GGUF file (\(d))"
        case .unsupportedVersion(let p, let f, let s): "\(p): GGUF version \(f) is not supported (supported: \(s.map(String.init).joined(separator: ", ")))"
        case .badMetadata(let p, let k, let r): "\(p): metadata \(k): \(r)"
        case .unknownTensorType(let p, let t, let ty): "\(p): tensor \(t) has unknown tensor type \(ty)"
        case .unsupportedTensorType(let p, let t, let ty, let s):
            "\(p): tensor \(t) has type \(ty), which is not supported (supported: \(s.joined(separator: ", ")))"
        case .unsupportedArchitecture(let p, let a, let s):
            "\(p): architecture \"\(a)\" is not supported (supported: \(s.joined(separator: ", ")))"
        case .unsupportedFeature(let p, let r): "\(p): not supported: \(r)"
        case .missingTensor(let p, let t): "\(p): tensor \(t) is missing"
        case .unexpectedTensor(let p, let t): "\(p): unexpected tensor \(t) (not part of a supported model)"
        case .shapeMismatch(let p, let t, let f, let e): "\(p): tensor \(t) has shape \(f), but the metadata implies \(e)"
        case .missingTokenizer(let p, let r): "\(p): no tokenizer: \(r)"
        case .unsupportedTokenizer(let p, let r): "\(p): tokenizer not supported: \(r)"
        case .invalidConfig(let p, let r): "\(p): invalid model config: \(r)"
        case .malformed(let p, let r): "\(p): malformed: \(r)"
        case .io(let p, let m): "\(p): \(m)"
        }
    }
}
