// The /source attributes of an imported checkpoint and the /tokenizer group of a BPE one;
// the byte tokenizer's group is Schema.swift's.

import CHDF5
import ReckonModel

/// Where an imported checkpoint came from (`reckon import`), stored as `/source` attributes.
public struct ImportSource: Sendable, Equatable {
    /// "gguf" or "safetensors".
    public var format: String
    /// The source file's name (the GGUF, or the folder for Hugging Face weights).
    public var file: String
    /// SHA-256 of the source file (for a folder: of its weight files in name order), lowercase hex.
    public var sha256: String
    /// The source's metadata as JSON: GGUF key-values (long arrays reduced to their length) or config.json.
    public var metadata: String

    public init(format: String, file: String, sha256: String, metadata: String) {
        self.format = format
        self.file = file
        self.sha256 = sha256
        self.metadata = metadata
    }
}

extension UInt8: HDF5Number {
    static var memoryType: hid_t { reckon_H5T_NATIVE_UINT8() }
    static var fileType: hid_t { reckon_H5T_NATIVE_UINT8() }
}

/// The `/tokenizer` group of a BPE checkpoint (docs/checkpoint.md): `kind = "bpe"` and the
/// `TokenizerSpec`, strings stored as one uint8 dataset of UTF-8 with an int64 length per
/// string, so each is checksummed like a tensor (attributes and the global heap are not).
/// The Reckon control tokens are recorded by name and id in `control_names`/`control_ids`.
extension Schema {
    static let controlNames = ["<think>", "</think>", "<short>"]

    static func writeBPE(_ spec: TokenizerSpec, vocabSize: Int, to f: HDF5File) throws(CheckpointError) {
        let g = "/tokenizer"
        try f.createGroup(g)
        try f.setAttribute(g, "kind", .string("bpe"))
        try f.setAttribute(g, "vocab_size", .int(Int64(vocabSize)))
        try f.setAttribute(g, "pre", .string(spec.pre))
        try f.setAttribute(g, "bos", .int(Int64(spec.bos ?? -1)))
        try f.setAttribute(g, "eos", .int(Int64(spec.eos ?? -1)))
        try f.setAttribute(g, "add_bos", .int(spec.addBos ? 1 : 0))
        let ids = controlNames.map { name in Int64(spec.tokens.lastIndex(of: name) ?? -1) }
        try f.setAttribute(g, "control_names", .strings(controlNames))
        try f.setAttribute(g, "control_ids", .ints(ids))
        try writeStrings(spec.tokens, "\(g)/tokens", to: f)
        try writeStrings(spec.merges, "\(g)/merges", to: f)
        try f.write("\(g)/token_types", spec.tokenTypes.map(Int64.init), shape: [spec.tokenTypes.count])
        if let template = spec.chatTemplate { try writeStrings([template], "\(g)/chat_template", to: f) }
    }

    private static func writeStrings(_ strings: [String], _ name: String, to f: HDF5File) throws(CheckpointError) {
        try f.createGroup(name)
        let bytes = strings.flatMap { Array($0.utf8) }
        try f.write("\(name)/bytes", bytes, shape: [bytes.count])
        try f.write("\(name)/lengths", strings.map { Int64($0.utf8.count) }, shape: [strings.count])
    }

    static func writeSource(_ s: ImportSource, to f: HDF5File) throws(CheckpointError) {
        try f.createGroup("/source")
        try f.setAttribute("/source", "format", .string(s.format))
        try f.setAttribute("/source", "file", .string(s.file))
        try f.setAttribute("/source", "sha256", .string(s.sha256))
        try writeStrings([s.metadata], "/source/metadata", to: f)
    }
}

extension Schema.Reader {
    /// The BPE tokenizer of a `kind = "bpe"` file; checks every array against `vocab_size`.
    func bpeTokenizer(_ config: ModelConfig) throws(CheckpointError) -> TokenizerSpec {
        let g = "/tokenizer"
        let size = try int(g, "vocab_size")
        guard size == config.vocabSize else {
            throw .tokenizerMismatch(path: path, reason: "vocab_size is \(size), the model has \(config.vocabSize) rows")
        }
        let tokens = try strings("\(g)/tokens")
        let types = try file.read("\(g)/token_types", as: Int64.self)
        guard tokens.count == size, types.count == size else {
            throw .tokenizerMismatch(path: path, reason: "\(tokens.count) tokens and \(types.count) token types for vocab_size \(size)")
        }
        func id(_ name: String) throws(CheckpointError) -> Int32? {
            let v = try int(g, name)
            guard v >= -1, v < size else {
                throw .wrongAttribute(path: path, object: g, name: name, found: "\(v)", expected: "-1 or a token id below \(size)")
            }
            return v < 0 ? nil : Int32(v)
        }
        let template = file.exists("\(g)/chat_template") ? try strings("\(g)/chat_template").first : nil
        return TokenizerSpec(pre: try string(g, "pre"), tokens: tokens, merges: try strings("\(g)/merges"),
                             tokenTypes: types.map { Int32(truncatingIfNeeded: $0) }, bos: try id("bos"), eos: try id("eos"),
                             addBos: try int(g, "add_bos") == 1, chatTemplate: template)
    }

    func source() throws(CheckpointError) -> ImportSource? {
        guard file.exists("/source") else { return nil }
        return ImportSource(format: try string("/source", "format"), file: try string("/source", "file"),
                            sha256: try string("/source", "sha256"), metadata: try strings("/source/metadata").first ?? "")
    }

    private func strings(_ name: String) throws(CheckpointError) -> [String] {
        guard file.exists("\(name)/bytes"), file.exists("\(name)/lengths") else { throw .missingDataset(path: path, dataset: name) }
        let bytes = try file.read("\(name)/bytes", as: UInt8.self)
        let lengths = try file.read("\(name)/lengths", as: Int64.self)
        var out: [String] = []
        out.reserveCapacity(lengths.count)
        var at = 0
        for n in lengths {
            guard n >= 0, n <= bytes.count - at else {
                throw .corrupted(path: path, dataset: name, detail: "string lengths exceed the \(bytes.count) bytes stored")
            }
            out.append(String(decoding: bytes[at..<(at + Int(n))], as: UTF8.self))
            at += Int(n)
        }
        guard at == bytes.count else { throw .corrupted(path: path, dataset: name, detail: "\(bytes.count - at) bytes beyond the last string") }
        return out
    }
}
