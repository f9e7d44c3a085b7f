// LoRA adapter checkpoints: the adapters, control rows, LoRA config, optimizer and training
// state, and a pointer to the frozen base (name, path, weights SHA-256), as one HDF5 file; and
// resolving that base when loading. Not the full checkpoint (Checkpoint.swift, Schema.swift).

import Crypto
import Foundation
import ReckonModel

// The file (docs/checkpoint.md, "Adapter checkpoints"):
//
//     /          format = "reckon-adapter", format_version = 1
//     /config    the base's model config (as in a full checkpoint)
//     /lora      rank, alpha, targets, control_tokens
//     /base      name, path (relative to the adapter's folder), sha256 (of the weights),
//                source_format, source_file, source_sha256 (what the base was imported from)
//     /adapter/<t>                      float32 per LoRALayout tensor
//     /optimizer, /train, /metrics      as in a full checkpoint, over the adapter's tensors
//     /routing                          optional: the rule `reckon calibrate` chose (StoredRouting.swift)

/// Which base an adapter was trained on, and where to find it.
public struct BaseReference: Sendable, Equatable {
    /// The base checkpoint's file name, e.g. "smollm2-135m.h5".
    public var name: String
    /// Its path relative to the adapter's folder (absolute paths stay absolute).
    public var path: String
    /// SHA-256 of the base's float32 weights in layout order (`AdapterCheckpoint.weightsSHA256`):
    /// the same for every import of the same source, unlike the HDF5 file's bytes.
    public var sha256: String
    /// What the base was imported from (GGUF or Hugging Face), to tell a user how to rebuild it.
    public var source: ImportSource?

    public init(name: String, path: String, sha256: String, source: ImportSource?) {
        self.name = name; self.path = path; self.sha256 = sha256; self.source = source
    }

    /// A reference to the base at `basePath` for an adapter to be saved at `adapterPath`.
    public static func to(base: Checkpoint, at basePath: String, from adapterPath: String) -> BaseReference {
        BaseReference(name: URL(fileURLWithPath: basePath).lastPathComponent,
                      path: relativePath(of: basePath, from: URL(fileURLWithPath: adapterPath).deletingLastPathComponent().path),
                      sha256: AdapterCheckpoint.weightsSHA256(base.params), source: base.source)
    }

    /// `target` relative to the folder `from`, through `..` where needed.
    static func relativePath(of target: String, from folder: String) -> String {
        let t = URL(fileURLWithPath: absolute(target)).standardizedFileURL.pathComponents
        let f = URL(fileURLWithPath: absolute(folder)).standardizedFileURL.pathComponents
        var common = 0
        while common < min(t.count, f.count), t[common] == f[common] { common += 1 }
        return (Array(repeating: "..", count: f.count - common) + t[common...]).joined(separator: "/")
    }

    /// `path` from the working directory made absolute (URL's `..` handling needs an absolute path).
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// How to get the base back, for errors; `context` is the adapter's, which the import must give.
    public func fetchHint(context: Int) -> String {
        if let s = source, s.format == "gguf" {
            return "rebuild it with `tools/fetch_base.sh && reckon import checkpoints/base/\(s.file) \(name) --context \(context)` (source \(s.file), SHA-256 \(s.sha256))"
        }
        if let s = source { return "re-import it with `reckon import \(s.file) \(name) --context \(context)` (source SHA-256 \(s.sha256))" }
        return "use the checkpoint the adapter was trained from"
    }
}

/// A LoRA run's state without its base: a few MB where the base is hundreds.
public struct AdapterCheckpoint: Sendable {
    public var config: ModelConfig
    public var lora: LoRAConfig
    public var controlTokens: [Int32]
    /// Adapters and control rows, flat in `LoRALayout` order.
    public var params: [Float]
    public var base: BaseReference
    public var optimizer: OptimizerState?
    public var train: TrainingState?
    /// The routing rule chosen for the adapted model; it overrides the base's when merged.
    public var routing: StoredRouting?

    static let format = "reckon-adapter"
    static let version = 1

    public init(lora: LoRA, base: BaseReference, optimizer: OptimizerState? = nil, train: TrainingState? = nil) {
        config = lora.model
        self.lora = lora.config
        controlTokens = lora.controlTokens
        params = lora.params
        self.base = base
        self.optimizer = optimizer
        self.train = train
    }

    public var layout: LoRALayout { LoRALayout(lora, model: config, controlCount: controlTokens.count) }

    /// SHA-256 of float32 weights as little-endian bytes, lowercase hex.
    public static func weightsSHA256(_ params: [Float]) -> String {
        let digest = params.withUnsafeBytes { SHA256.hash(data: $0) }
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `path` is an adapter file (by its root `format` attribute).
    public static func isAdapter(_ path: String) -> Bool {
        guard let file = try? HDF5File.open(path) else { return false }
        defer { try? file.close() }
        return (try? file.attribute("/", "format")) == .string(format)
    }

    // MARK: Saving

    /// Writes the adapter atomically, like `Checkpoint.save`.
    public func save(to path: String) throws(CheckpointError) {
        let layout = self.layout
        guard params.count == layout.count else {
            throw .inconsistent(path: path, reason: "LoRA config needs \(layout.count) adapter values, the buffer holds \(params.count)")
        }
        if let optimizer, optimizer.moments.count != 2 * layout.count {
            throw .inconsistent(path: path, reason: "optimizer holds \(optimizer.moments.count) moment values; the adapter needs \(2 * layout.count)")
        }
        let temporary = Checkpoint.temporaryPath(for: path)
        do throws(CheckpointError) {
            let f = try HDF5File.create(temporary)
            try f.setAttribute("/", "format", .string(Self.format))
            try f.setAttribute("/", "format_version", .int(Int64(Self.version)))
            try Schema.writeConfig(config, to: f)
            try f.createGroup("/lora")
            try f.setAttribute("/lora", "rank", .int(Int64(lora.rank)))
            try f.setAttribute("/lora", "alpha", .float(lora.alpha))
            try f.setAttribute("/lora", "targets", .strings(lora.targets.map(\.rawValue)))
            try f.setAttribute("/lora", "control_tokens", .ints(controlTokens.map(Int64.init)))
            try f.createGroup("/base")
            try f.setAttribute("/base", "name", .string(base.name))
            try f.setAttribute("/base", "path", .string(base.path))
            try f.setAttribute("/base", "sha256", .string(base.sha256))
            if let s = base.source {
                try f.setAttribute("/base", "source_format", .string(s.format))
                try f.setAttribute("/base", "source_file", .string(s.file))
                try f.setAttribute("/base", "source_sha256", .string(s.sha256))
            }
            try f.createGroup("/adapter")
            try Schema.writeTensors(params, layout: layout, group: "/adapter", to: f)
            if let optimizer { try Schema.writeOptimizer(optimizer, layout: layout, to: f) }
            if let train { try Schema.writeTrain(train, to: f) }
            if let routing { try Schema.write(routing, to: f) }
            try f.flush()
            try f.close()
            guard rename(temporary, path) == 0 else {
                throw .io(path: path, operation: "rename \(temporary) over it", message: String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    // MARK: Loading

    /// Reads an adapter file; with `includeOptimizer` (resuming) it must hold /optimizer and /train.
    public static func load(from path: String, includeOptimizer: Bool = false) throws(CheckpointError) -> AdapterCheckpoint {
        let file = try HDF5File.open(path)
        let reader = Schema.Reader(file: file)
        guard try file.attribute("/", "format") == .string(format) else {
            throw .notACheckpoint(path: path, reason: "its root format attribute is not \"\(format)\"")
        }
        let version = try reader.int("/", "format_version")
        guard version == Self.version else { throw .unsupportedVersion(path: path, found: version, supported: Self.version) }
        let config = try reader.config()
        try reader.requireGroup("/lora")
        guard case .strings(let names)? = try file.attribute("/lora", "targets") else {
            throw .missingAttribute(path: path, object: "/lora", name: "targets")
        }
        var targets: [LoRATarget] = []
        for n in names {
            guard let t = LoRATarget(rawValue: n) else {
                throw .wrongAttribute(path: path, object: "/lora", name: "targets", found: n, expected: "one of q, k, v, o, gate, up, down")
            }
            targets.append(t)
        }
        guard case .ints(let ids)? = try file.attribute("/lora", "control_tokens") else {
            throw .missingAttribute(path: path, object: "/lora", name: "control_tokens")
        }
        let lora = LoRAConfig(rank: try reader.int("/lora", "rank"), alpha: try reader.float("/lora", "alpha"), targets: targets)
        do { try lora.validate(for: config) } catch { throw .invalidConfig(path: path, reason: error.description) }
        for id in ids where id < 0 || id >= Int64(config.vocabSize) {
            throw .wrongAttribute(path: path, object: "/lora", name: "control_tokens", found: "\(id)", expected: "ids below \(config.vocabSize)")
        }
        let tokens = ids.map { Int32($0) }
        let layout = LoRALayout(lora, model: config, controlCount: tokens.count)
        let params = try reader.tensors(in: "/adapter", layout: layout, readData: true)
        try reader.requireGroup("/base")
        var source: ImportSource?
        if try file.attribute("/base", "source_file") != nil {
            source = ImportSource(format: try reader.string("/base", "source_format"), file: try reader.string("/base", "source_file"),
                                  sha256: try reader.string("/base", "source_sha256"), metadata: "")
        }
        let base = BaseReference(name: try reader.string("/base", "name"), path: try reader.string("/base", "path"),
                                 sha256: try reader.string("/base", "sha256"), source: source)
        let train = try reader.trainingState()
        let routing = try reader.routing()
        var optimizer: OptimizerState?
        if includeOptimizer {
            guard file.exists("/optimizer") else { throw .notResumable(path: path, reason: "it has no /optimizer group (an adapter for inference)") }
            guard train != nil else { throw .notResumable(path: path, reason: "it has no /train group (stage, step, RNG state)") }
            optimizer = try reader.optimizer(layout: layout, readMoments: true)
        }
        try file.close()
        var out = AdapterCheckpoint(config: config, lora: lora, controlTokens: tokens, params: params, base: base)
        out.optimizer = optimizer
        out.train = train
        out.routing = routing
        return out
    }

    init(config: ModelConfig, lora: LoRAConfig, controlTokens: [Int32], params: [Float], base: BaseReference) {
        self.config = config; self.lora = lora; self.controlTokens = controlTokens; self.params = params; self.base = base
    }

    /// The base path: `override` (`--base`) when given, else the stored path, relative to the
    /// adapter's folder.
    public func basePath(adapterPath: String, override: String?) -> String {
        if let override { return override }
        if base.path.hasPrefix("/") { return base.path }
        return URL(fileURLWithPath: BaseReference.absolute(adapterPath)).deletingLastPathComponent()
            .appendingPathComponent(base.path).standardizedFileURL.path
    }

    /// Loads and checks the base: present, same config, same weights hash. Returns it with its path.
    public func loadBase(adapterPath: String, override: String?) throws(CheckpointError) -> (Checkpoint, String) {
        let path = basePath(adapterPath: adapterPath, override: override)
        guard FileManager.default.fileExists(atPath: path) else {
            throw .baseMissing(adapter: adapterPath, base: path, expectedSHA256: base.sha256, fetch: base.fetchHint(context: config.maxSeqLen))
        }
        let checkpoint = try Checkpoint.load(from: path)
        let found = Self.weightsSHA256(checkpoint.params)
        guard checkpoint.config == config, found == base.sha256 else {
            throw .baseMismatch(adapter: adapterPath, base: path, expectedSHA256: base.sha256, foundSHA256: found, fetch: base.fetchHint(context: config.maxSeqLen))
        }
        return (checkpoint, path)
    }

    /// The adapters as a `LoRA` value over the base's config.
    public func adapters() throws(CheckpointError) -> LoRA {
        do { return try LoRA(config: lora, model: config, controlTokens: controlTokens, params: params) } catch {
            throw .invalidConfig(path: base.name, reason: error.description)
        }
    }

    /// The base model with these adapters attached (for training or unmerged decoding), and the base.
    public func model(adapterPath: String, base override: String?) throws(CheckpointError) -> (Transformer, Checkpoint) {
        let (base, basePath) = try loadBase(adapterPath: adapterPath, override: override)
        do {
            var model = try base.model()
            try model.attach(try adapters())
            return (model, base)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .invalidConfig(path: basePath, reason: "\(error)")
        }
    }
}

extension Checkpoint {
    /// Ids of `<think>`, `</think>` and `<short>`: the imported BPE vocabulary's entries, or the
    /// byte tokenizer's fixed ids. These rows train with LoRA.
    public var controlTokenIDs: [Int32] {
        guard let spec = tokenizer else { return [Tokenizer.think, Tokenizer.endThink, Tokenizer.short] }
        return ["<think>", "</think>", "<short>"].compactMap { name in spec.tokens.firstIndex(of: name).map { Int32($0) } }
    }

    /// A full checkpoint of `model` with every adapter merged in, carrying `base`'s tokenizer
    /// and source (what `reckon export --merge` writes and serving loads).
    public static func merged(_ model: Transformer, base: Checkpoint, train: TrainingState? = nil) throws(CheckpointError) -> Checkpoint {
        let merged: Transformer
        do { merged = try model.merged() } catch { throw .invalidConfig(path: "merge", reason: error.description) }
        return Checkpoint(config: merged.config, params: merged.params, train: train, routing: base.routing,
                          tokenizer: base.tokenizer, source: base.source)
    }
}

/// A model file as the serving commands take it with `--checkpoint`: a full checkpoint, or an
/// adapter resolved against its base and merged at load (decoding then costs what the base
/// does; the adapters never change while serving).
public enum ModelFile {
    /// The checkpoint to serve from `path`; `base` overrides an adapter's stored base path.
    public static func load(_ path: String, base: String? = nil) throws(CheckpointError) -> Checkpoint {
        guard AdapterCheckpoint.isAdapter(path) else { return try Checkpoint.load(from: path) }
        let adapter = try AdapterCheckpoint.load(from: path)
        let (model, baseCheckpoint) = try adapter.model(adapterPath: path, base: base)
        var merged = try Checkpoint.merged(model, base: baseCheckpoint, train: adapter.train)
        if let routing = adapter.routing { merged.routing = routing }
        return merged
    }
}

extension CheckpointRotation {
    /// Saves an adapter as step `step`, then prunes, like a full checkpoint.
    @discardableResult
    public func save(adapter: AdapterCheckpoint, step: Int) throws(CheckpointError) -> String {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .io(path: directory, operation: "create the checkpoint folder", message: error.localizedDescription)
        }
        let path = path(forStep: step)
        try adapter.save(to: path)
        try prune()
        return path
    }
}

extension BaseReference {
    /// This reference with its path re-expressed relative to an adapter saved at `adapterPath`
    /// (`path` itself is taken as given from the working directory).
    public func relative(to adapterPath: String) -> BaseReference {
        var r = self
        r.path = Self.relativePath(of: path, from: URL(fileURLWithPath: adapterPath).deletingLastPathComponent().path)
        return r
    }
}
