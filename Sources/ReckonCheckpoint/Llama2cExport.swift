// Export to llama2.c's version-0 model file and its tokenizer file, with the BOS id swap; not the HDF5 checkpoint.

import Foundation
import ReckonCore
import ReckonModel

/// Export to llama2.c's version-0 checkpoint (`run.c` reads it) and its tokenizer file.
///
/// Model file: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
/// vocab_size, max_seq_len; vocab_size negated when the classifier is not shared), then
/// float32 tensors in ParameterLayout order, then freq_cis_real and freq_cis_imag
/// (max_seq_len, head_size/2) before wcls, which comes last and only when unshared.
///
/// Token ids: run.c prepends BOS = 1 to prompts and stops generating at 1. Our <bos> is 257
/// and id 1 is byte 0x01, so the export swaps the two: rows 1 and 257 of tok_embeddings and
/// wcls trade places, and so do their tokenizer entries. Every other id is unchanged.
public enum Llama2cExport {
    /// What run.c hard-codes; a model trained with other values would run wrong, so it is refused.
    public static let normEps: Float = 1e-5
    public static let ropeTheta: Float = 10000
    public static let llamaBOS = 1

    /// llama2.c id of our token `id` (and, since the swap is its own inverse, ours of theirs).
    public static func llamaID(_ id: Int) -> Int {
        switch id {
        case Int(Tokenizer.bos): llamaBOS
        case llamaBOS: Int(Tokenizer.bos)
        default: id
        }
    }

    /// Refuses a config the v0 format or run.c cannot express.
    public static func check(_ config: ModelConfig, output: String) throws(CheckpointError) {
        do { try config.validate() } catch { throw .exportUnsupported(path: output, reason: error.description) }
        guard config.normEps == normEps else {
            throw .exportUnsupported(path: output, reason: "RMSNorm eps is \(config.normEps); run.c hard-codes \(normEps)")
        }
        guard !config.qkvBias else {
            throw .exportUnsupported(path: output, reason: "the model has q/k/v biases, which the v0 format has no place for")
        }
        guard config.ropeTheta == ropeTheta else {
            throw .exportUnsupported(path: output, reason: "RoPE theta is \(config.ropeTheta); run.c hard-codes \(Int(ropeTheta))")
        }
        for (name, v) in header(config).names where Int32(exactly: v) == nil || v == Int(Int32.min) {
            throw .exportUnsupported(path: output, reason: "\(name) = \(v) does not fit the int32 header")
        }
    }

    /// Header fields in file order, with run.c's sign convention for vocab_size.
    static func header(_ c: ModelConfig) -> (names: [(String, Int)], values: [Int]) {
        let names = [("dim", c.dim), ("hidden_dim", c.hiddenDim), ("n_layers", c.nLayers), ("n_heads", c.nHeads),
                     ("n_kv_heads", c.nKVHeads), ("vocab_size", c.tiedEmbeddings ? c.vocabSize : -c.vocabSize),
                     ("max_seq_len", c.maxSeqLen)]
        return (names, names.map(\.1))
    }

    /// The model file's bytes.
    public static func modelFile(_ checkpoint: Checkpoint, output: String) throws(CheckpointError) -> [UInt8] {
        let c = checkpoint.config
        try check(c, output: output)
        let layout = ParameterLayout(c)
        guard checkpoint.params.count == layout.count else {
            throw .inconsistent(path: output, reason: "config needs \(layout.count) parameters, the checkpoint holds \(checkpoint.params.count)")
        }
        if let bad = checkpoint.params.firstIndex(where: { !$0.isFinite }),
           let t = layout.tensors.first(where: { $0.range.contains(bad) }) {
            throw .exportUnsupported(path: output, reason: "tensor \(t.name) holds a non-finite value at flat index \(bad - t.offset)")
        }
        let rope = RoPETable(headDim: c.headDim, maxSeqLen: c.maxSeqLen, theta: c.ropeTheta)
        let floats = layout.count + rope.cos.count + rope.sin.count
        var out: [UInt8] = []
        out.reserveCapacity(7 * 4 + 4 * floats)
        for v in header(c).values { append(Int32(truncatingIfNeeded: v), to: &out) }

        func appendRows(_ t: TensorSpec) {
            // Embedding-shaped tensors get the id permutation; the rest are copied as is.
            let permute = t.name == "tok_embeddings" || t.name == "wcls"
            let width = t.shape.dropFirst().reduce(1, *)
            for row in 0..<t.shape[0] {
                let source = t.offset + (permute ? llamaID(row) : row) * width
                for x in checkpoint.params[source..<(source + width)] { append(x, to: &out) }
            }
        }
        for t in layout.tensors where t.name != "wcls" { appendRows(t) }
        for x in rope.cos { append(x, to: &out) }
        for x in rope.sin { append(x, to: &out) }
        if let wcls = layout.tensor(named: "wcls") { appendRows(wcls) }
        return out
    }

    /// Bytes a v0 file with this header must have: what run.c maps, so a size check catches truncation.
    public static func expectedSize(dim: Int, hiddenDim: Int, nLayers: Int, nHeads: Int, nKVHeads: Int,
                                    vocabSize signedVocab: Int, maxSeqLen: Int) -> Int {
        let vocab = abs(signedVocab), headSize = dim / nHeads, kvDim = dim * nKVHeads / nHeads
        let perLayer = 2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * dim * hiddenDim
        let floats = vocab * dim + nLayers * perLayer + dim + maxSeqLen * headSize
            + (signedVocab < 0 ? vocab * dim : 0)
        return 7 * 4 + 4 * floats
    }

    /// Token strings in llama2.c id order. Printable ASCII is written as itself, because run.c's
    /// encoder looks prompt characters up by string (and needs " " for its dummy prefix); other
    /// bytes are "<0xXX>", which run.c's decoder turns back into the raw byte; specials keep their names.
    public static func tokenStrings(vocabSize: Int) -> [String] {
        (0..<vocabSize).map { llamaId in
            let id = llamaID(llamaId)
            switch id {
            case 0x20...0x7E: return String(UnicodeScalar(UInt8(id)))
            case 0..<256:
                let hex = String(id, radix: 16, uppercase: true)
                return "<0x\(hex.count == 1 ? "0" + hex : hex)>"
            case 256..<Tokenizer.vocabSize: return Tokenizer.specialNames[id - 256]
            default: return "<unused\(id)>"
            }
        }
    }

    /// The tokenizer file: uint32 max_token_length, then per token float32 score, int32 length, bytes.
    /// Scores are 0: every token is one byte or a special, so run.c's merge loop finds nothing to merge.
    public static func tokenizerFile(vocabSize: Int) -> [UInt8] {
        let tokens = tokenStrings(vocabSize: vocabSize).map { Array($0.utf8) }
        var out: [UInt8] = []
        append(UInt32(tokens.map(\.count).max() ?? 0), to: &out)
        for bytes in tokens {
            append(Float(0), to: &out)
            append(Int32(bytes.count), to: &out)
            out.append(contentsOf: bytes)
        }
        return out
    }

    /// Writes both files (each atomically).
    public static func export(_ checkpoint: Checkpoint, model: String, tokenizer: String) throws(CheckpointError) {
        let bytes = try modelFile(checkpoint, output: model)
        try write(bytes, to: model)
        try write(tokenizerFile(vocabSize: checkpoint.config.vocabSize), to: tokenizer)
    }

    private static func write(_ bytes: [UInt8], to path: String) throws(CheckpointError) {
        do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .io(path: path, operation: "write", message: error.localizedDescription)
        }
    }

    private static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        for i in 0..<(T.bitWidth / 8) { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }

    private static func append(_ v: Float, to out: inout [UInt8]) {
        append(v.bitPattern, to: &out)
    }
}
