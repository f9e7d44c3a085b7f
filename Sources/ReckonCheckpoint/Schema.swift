// The HDF5 layout of a checkpoint: writing it, and reading it back with every attribute and tensor checked.
// The BPE /tokenizer and /source groups are TokenizerSchema.swift's, /routing is StoredRouting.swift's.

import ReckonModel

/// The checkpoint file layout, format_version 1 (docs/checkpoint.md is the reference):
///
///     /            format = "reckon-checkpoint", format_version = 1
///     /config      model config attributes (snake_case), parameter_count
///     /tokenizer   kind = "byte", vocab_size, special_names, special_ids
///     /model/<t>   float32 dataset per ParameterLayout tensor, in its shape
///     /optimizer   step, beta1, beta2, eps, weight_decay, grad_clip;  m/<t>, v/<t> datasets
///     /train       stage, step, recipe, rng_state;  /train/rng: named extra RNG states
///     /metrics     optional float64 attributes
///     /routing     optional: the stored routing rule and its validation split (StoredRouting.swift)
enum Schema {
    static let format = "reckon-checkpoint"
    static let version = 1

    // MARK: Writing

    static func write(_ c: Checkpoint, to f: HDF5File) throws(CheckpointError) {
        try f.setAttribute("/", "format", .string(format))
        try f.setAttribute("/", "format_version", .int(Int64(version)))

        try writeConfig(c.config, to: f)
        let cfg = c.config
        let layout = ParameterLayout(cfg)

        if let spec = c.tokenizer {
            try writeBPE(spec, vocabSize: cfg.vocabSize, to: f)
        } else {
            try f.createGroup("/tokenizer")
            try f.setAttribute("/tokenizer", "kind", .string("byte"))
            try f.setAttribute("/tokenizer", "vocab_size", .int(Int64(Tokenizer.vocabSize)))
            try f.setAttribute("/tokenizer", "special_names", .strings(Tokenizer.specialNames))
            try f.setAttribute("/tokenizer", "special_ids", .ints(specialIDs))
        }
        if let source = c.source { try writeSource(source, to: f) }

        try f.createGroup("/model")
        try writeTensors(c.params, layout: layout, group: "/model", to: f)

        if let opt = c.optimizer { try writeOptimizer(opt, layout: layout, to: f) }

        if let t = c.train { try writeTrain(t, to: f) }
        if let r = c.routing { try write(r, to: f) }
    }

    /// /config: the model config's attributes and the parameter count they imply.
    static func writeConfig(_ cfg: ModelConfig, to f: HDF5File) throws(CheckpointError) {
        try f.createGroup("/config")
        for (name, value) in [("dim", cfg.dim), ("n_layers", cfg.nLayers), ("n_heads", cfg.nHeads),
                              ("n_kv_heads", cfg.nKVHeads), ("hidden_dim", cfg.hiddenDim),
                              ("vocab_size", cfg.vocabSize), ("max_seq_len", cfg.maxSeqLen),
                              ("tied_embeddings", cfg.tiedEmbeddings ? 1 : 0)] {
            try f.setAttribute("/config", name, .int(Int64(value)))
        }
        try f.setAttribute("/config", "rope_theta", .float(cfg.ropeTheta))
        try f.setAttribute("/config", "norm_eps", .float(cfg.normEps))
        try f.setAttribute("/config", "qkv_bias", .int(cfg.qkvBias ? 1 : 0))
        try f.setAttribute("/config", "parameter_count", .int(Int64(ParameterLayout(cfg).count)))
    }

    /// /optimizer: hyper-parameters, step and both moments, one dataset per tensor of `layout`.
    static func writeOptimizer(_ opt: OptimizerState, layout: some TensorLayout, to f: HDF5File) throws(CheckpointError) {
        try f.createGroup("/optimizer")
        try f.setAttribute("/optimizer", "step", .int(Int64(opt.step)))
        try f.setAttribute("/optimizer", "beta1", .float(opt.beta1))
        try f.setAttribute("/optimizer", "beta2", .float(opt.beta2))
        try f.setAttribute("/optimizer", "eps", .float(opt.eps))
        try f.setAttribute("/optimizer", "weight_decay", .float(opt.weightDecay))
        try f.setAttribute("/optimizer", "grad_clip", .float(opt.gradClip))
        try f.createGroup("/optimizer/m")
        try f.createGroup("/optimizer/v")
        let P = layout.count
        try writeTensors(Array(opt.moments[0..<P]), layout: layout, group: "/optimizer/m", to: f)
        try writeTensors(Array(opt.moments[P..<(2 * P)]), layout: layout, group: "/optimizer/v", to: f)
    }

    /// /train (and /metrics): stage, step, recipe text with its checksum, RNG states.
    static func writeTrain(_ t: TrainingState, to f: HDF5File) throws(CheckpointError) {
        try f.createGroup("/train")
        try f.setAttribute("/train", "stage", .string(t.stage))
        try f.setAttribute("/train", "step", .int(Int64(t.step)))
        try f.setAttribute("/train", "recipe", .string(t.recipe))
        try f.setAttribute("/train", "text_checksum", .uint(textChecksum(stage: t.stage, recipe: t.recipe)))
        try f.setAttribute("/train", "rng_state", .uint(t.rngState))
        try f.createGroup("/train/rng")
        for (name, state) in t.rngStreams.sorted(by: { $0.key < $1.key }) {
            try f.setAttribute("/train/rng", name, .uint(state))
        }
        if !t.metrics.isEmpty {
            try f.createGroup("/metrics")
            for (name, value) in t.metrics.sorted(by: { $0.key < $1.key }) {
                try f.setAttribute("/metrics", name, .double(value))
            }
        }
    }

    /// FNV-1a 64 of the UTF-8 of stage, a 0 byte, and recipe. Variable-length strings live
    /// in HDF5's global heap, which has no checksum; this attribute (in a checksummed object
    /// header) makes a damaged recipe fail the load instead of resuming from altered text.
    static func textChecksum(stage: String, recipe: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(stage.utf8) + [0] + Array(recipe.utf8) {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return h
    }

    static var specialIDs: [Int64] { (0..<Tokenizer.specialNames.count).map { Int64(256 + $0) } }

    static func writeTensors(_ flat: [Float], layout: some TensorLayout, group: String,
                                     to f: HDF5File) throws(CheckpointError) {
        for t in layout.tensors {
            try f.write("\(group)/\(t.name)", Array(flat[t.range]), shape: t.shape)
        }
    }

    // MARK: Reading

    /// Reads and checks one file; every failure names the file and the object at fault.
    struct Reader {
        let file: HDF5File
        var path: String { file.path }

        /// Checks the root attributes; returns the format version.
        @discardableResult
        func checkFormat() throws(CheckpointError) -> Int {
            guard let format = try file.attribute("/", "format") else {
                throw .notACheckpoint(path: path, reason: "the root group has no 'format' attribute")
            }
            guard format == .string(Schema.format) else {
                throw .notACheckpoint(path: path, reason: "format is \(format.kind) \(Self.show(format)), expected \"\(Schema.format)\"")
            }
            let version = try int("/", "format_version")
            guard version == Schema.version else {
                throw .unsupportedVersion(path: path, found: version, supported: Schema.version)
            }
            return version
        }

        func config() throws(CheckpointError) -> ModelConfig {
            try requireGroup("/config")
            let g = "/config"
            // Bounds first, so a corrupt value cannot overflow the layout arithmetic.
            var ints: [String: Int] = [:]
            for (name, limit) in [("dim", 1 << 20), ("n_layers", 1 << 12), ("n_heads", 1 << 12),
                                  ("n_kv_heads", 1 << 12), ("hidden_dim", 1 << 20), ("vocab_size", 1 << 20),
                                  ("max_seq_len", 1 << 20), ("tied_embeddings", 1)] {
                let v = try int(g, name)
                guard v >= 0, v <= limit else {
                    throw .invalidConfig(path: path, reason: "\(name) = \(v) is outside 0...\(limit)")
                }
                ints[name, default: 0] = v
            }
            let cfg = ModelConfig(
                dim: ints["dim", default: 0], nLayers: ints["n_layers", default: 0], nHeads: ints["n_heads", default: 0],
                nKVHeads: ints["n_kv_heads", default: 0], hiddenDim: ints["hidden_dim", default: 0],
                vocabSize: ints["vocab_size", default: 0], maxSeqLen: ints["max_seq_len", default: 0],
                tiedEmbeddings: ints["tied_embeddings", default: 0] == 1,
                ropeTheta: try float(g, "rope_theta"), normEps: try float(g, "norm_eps"),
                qkvBias: try optionalFlag(g, "qkv_bias"))
            do { try cfg.validate() } catch { throw .invalidConfig(path: path, reason: error.description) }
            if let stored = try file.attribute(g, "parameter_count"), stored != .int(Int64(ParameterLayout(cfg).count)) {
                throw .invalidConfig(path: path, reason: "parameter_count is \(Self.show(stored)) but the config implies \(ParameterLayout(cfg).count)")
            }
            return cfg
        }

        /// `qkv_bias` came with imported models; files without it have no biases.
        func optionalFlag(_ object: String, _ name: String) throws(CheckpointError) -> Bool {
            guard try file.attribute(object, name) != nil else { return false }
            let v = try int(object, name)
            guard v == 0 || v == 1 else { throw .wrongAttribute(path: path, object: object, name: name, found: "\(v)", expected: "0 or 1") }
            return v == 1
        }

        /// The stored tokenizer: the BPE spec of an imported model, or nil for the byte
        /// tokenizer this build encodes the small models with (checked to match it exactly).
        @discardableResult
        func checkTokenizer(_ config: ModelConfig) throws(CheckpointError) -> TokenizerSpec? {
            try requireGroup("/tokenizer")
            let kind = try string("/tokenizer", "kind")
            if kind == "bpe" { return try bpeTokenizer(config) }
            guard kind == "byte" else { throw .tokenizerMismatch(path: path, reason: "kind is \"\(kind)\", this build supports \"byte\" and \"bpe\"") }
            let size = try int("/tokenizer", "vocab_size")
            guard size == Tokenizer.vocabSize else {
                throw .tokenizerMismatch(path: path, reason: "vocab_size is \(size), the byte tokenizer has \(Tokenizer.vocabSize)")
            }
            guard case .strings(let names)? = try file.attribute("/tokenizer", "special_names") else {
                throw .tokenizerMismatch(path: path, reason: "special_names is missing or not a string array")
            }
            guard case .ints(let ids)? = try file.attribute("/tokenizer", "special_ids") else {
                throw .tokenizerMismatch(path: path, reason: "special_ids is missing or not an integer array")
            }
            guard names == Tokenizer.specialNames, ids == Schema.specialIDs else {
                throw .tokenizerMismatch(path: path, reason: "special tokens \(names) at \(ids), expected \(Tokenizer.specialNames) at \(Schema.specialIDs)")
            }
            return nil
        }

        /// Checks every tensor of `layout` under `group` (present, float32, right shape) and
        /// that nothing else is there; with `readData`, returns the flat buffer, every value
        /// of it finite.
        func tensors(in group: String, layout: some TensorLayout, readData: Bool) throws(CheckpointError) -> [Float] {
            try requireGroup(group)
            let expected = Set(layout.tensors.map(\.name))
            for name in try file.members(of: group) where !expected.contains(name) {
                let why = name == "wcls" ? "the config has tied_embeddings = 1, so the classifier is tok_embeddings"
                                         : "not a tensor of this model's layout"
                throw .unexpectedDataset(path: path, dataset: "\(group)/\(name)", reason: why)
            }
            var flat = readData ? [Float](repeating: 0, count: layout.count) : []
            for t in layout.tensors {
                let name = "\(group)/\(t.name)"
                guard file.exists(name) else { throw .missingDataset(path: path, dataset: name) }
                let info = try file.info(name)
                guard info.element == .float(bits: 32) else {
                    throw .wrongType(path: path, dataset: name, found: info.element.description, expected: "float32")
                }
                guard info.shape == t.shape else {
                    throw .wrongShape(path: path, dataset: name, found: info.shape, expected: t.shape)
                }
                if readData {
                    let values: [Float]
                    do { values = try file.read(name, as: Float.self) } catch {
                        if case .hdf5(_, _, let message) = error, message.localizedCaseInsensitiveContains("checksum") {
                            throw .corrupted(path: path, dataset: name, detail: "Fletcher-32 checksum mismatch (\(message))")
                        }
                        throw error
                    }
                    flat.replaceSubrange(t.range, with: values)
                }
            }
            if readData { try FiniteCheck.check(flat, layout: layout, group: group, path: path) }
            return flat
        }

        func optimizer(layout: some TensorLayout, readMoments: Bool) throws(CheckpointError) -> OptimizerState {
            let g = "/optimizer"
            let step = try int(g, "step")
            guard step >= 0 else {
                throw .wrongAttribute(path: path, object: g, name: "step", found: "\(step)", expected: "a count ≥ 0")
            }
            let m = try tensors(in: "\(g)/m", layout: layout, readData: readMoments)
            let v = try tensors(in: "\(g)/v", layout: layout, readData: readMoments)
            return OptimizerState(beta1: try float(g, "beta1"), beta2: try float(g, "beta2"), eps: try float(g, "eps"),
                                  weightDecay: try float(g, "weight_decay"), gradClip: try float(g, "grad_clip"),
                                  step: step, moments: readMoments ? m + v : [])
        }

        /// The /train group, or nil for a checkpoint saved without training state.
        func trainingState() throws(CheckpointError) -> TrainingState? {
            guard file.exists("/train") else { return nil }
            let g = "/train"
            let step = try int(g, "step")
            guard step >= 0 else { throw .wrongAttribute(path: path, object: g, name: "step", found: "\(step)", expected: "a count ≥ 0") }
            var state = TrainingState(stage: try string(g, "stage"), step: step, recipe: try string(g, "recipe"),
                                      rngState: try uint64(g, "rng_state"))
            let checksum = try uint64(g, "text_checksum")
            guard checksum == Schema.textChecksum(stage: state.stage, recipe: state.recipe) else {
                throw .corrupted(path: path, dataset: "/train", detail: "stage and recipe text do not match text_checksum")
            }
            if file.exists("/train/rng") {
                for name in try file.attributeNames(of: "/train/rng") { state.rngStreams[name] = try uint64("/train/rng", name) }
            }
            if file.exists("/metrics") {
                for name in try file.attributeNames(of: "/metrics") { state.metrics[name] = try double("/metrics", name) }
            }
            return state
        }

        // MARK: Typed attribute access

        func requireGroup(_ group: String) throws(CheckpointError) {
            guard file.exists(group) else { throw .missingDataset(path: path, dataset: group) }
        }

        private func value(_ object: String, _ name: String) throws(CheckpointError) -> AttributeValue {
            guard let v = try file.attribute(object, name) else {
                throw .missingAttribute(path: path, object: object, name: name)
            }
            return v
        }

        private func mismatch(_ object: String, _ name: String, _ v: AttributeValue, _ expected: String) -> CheckpointError {
            .wrongAttribute(path: path, object: object, name: name, found: "\(v.kind) \(Self.show(v))", expected: expected)
        }

        func int(_ object: String, _ name: String) throws(CheckpointError) -> Int {
            let v = try value(object, name)
            switch v {
            case .int(let x): return Int(x)
            case .uint(let x) where x <= UInt64(Int.max): return Int(x)
            default: throw mismatch(object, name, v, "an integer")
            }
        }

        func uint64(_ object: String, _ name: String) throws(CheckpointError) -> UInt64 {
            let v = try value(object, name)
            switch v {
            case .uint(let x): return x
            case .int(let x) where x >= 0: return UInt64(x)
            default: throw mismatch(object, name, v, "an unsigned 64-bit integer")
            }
        }

        func float(_ object: String, _ name: String) throws(CheckpointError) -> Float {
            let v = try value(object, name)
            switch v {
            case .float(let x): return x
            case .double(let x): return Float(x)
            default: throw mismatch(object, name, v, "a float")
            }
        }

        func double(_ object: String, _ name: String) throws(CheckpointError) -> Double {
            let v = try value(object, name)
            switch v {
            case .float(let x): return Double(x)
            case .double(let x): return x
            case .int(let x): return Double(x)
            default: throw mismatch(object, name, v, "a number")
            }
        }

        func string(_ object: String, _ name: String) throws(CheckpointError) -> String {
            let v = try value(object, name)
            guard case .string(let s) = v else { throw mismatch(object, name, v, "a string") }
            return s
        }

        static func show(_ v: AttributeValue) -> String {
            switch v {
            case .int(let x): "\(x)"
            case .uint(let x): "\(x)"
            case .float(let x): "\(x)"
            case .double(let x): "\(x)"
            case .string(let s): "\"\(s.prefix(40))\""
            case .ints(let xs): "\(xs.prefix(8))"
            case .strings(let xs): "\(xs.prefix(8))"
            }
        }
    }
}
