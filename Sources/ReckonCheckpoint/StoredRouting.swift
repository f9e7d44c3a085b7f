// The optional /routing group: a checkpoint's default routing rule and the split it was chosen on;
// choosing the rule is `reckon calibrate`'s (reckon/CalibrateCommand.swift).

import ReckonModel

/// The routing rule a checkpoint is used with when no `--routing` is given, and the
/// validation split it was chosen on (the optional `/routing` group, docs/checkpoint.md).
public struct StoredRouting: Sendable, Equatable {
    /// The rule, e.g. `.threshold(0.3)`.
    public var policy: RoutingPolicy
    /// How it was chosen, e.g. "highest accuracy, then fewest tokens, among threshold:0.1…0.9".
    public var criterion: String
    /// The split it was chosen on: a file name.
    public var split: String
    /// Examples in the split, and FNV-1a 64 of its bytes, so the split can be recognised.
    public var splitExamples: Int
    public var splitChecksum: UInt64
    /// The rule's figures on that split.
    public var accuracy: Double
    public var thinkRate: Double
    public var meanTokens: Double

    public init(policy: RoutingPolicy, criterion: String, split: String, splitExamples: Int, splitChecksum: UInt64,
                accuracy: Double, thinkRate: Double, meanTokens: Double) {
        self.policy = policy
        self.criterion = criterion
        self.split = split
        self.splitExamples = splitExamples
        self.splitChecksum = splitChecksum
        self.accuracy = accuracy
        self.thinkRate = thinkRate
        self.meanTokens = meanTokens
    }

    /// FNV-1a 64 of `bytes`: the split's fingerprint.
    public static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// FNV-1a 64 of rule, criterion and split, each followed by a 0 byte: as for `/train`,
    /// the strings live in HDF5's unchecksummed global heap.
    var textChecksum: UInt64 {
        Self.fnv1a([policy.description, criterion, split].flatMap { Array($0.utf8) + [0] })
    }

    /// One line for progress output and `reckon inspect`.
    public var summary: String {
        "\(policy), chosen on \(split) (\(splitExamples) examples) by \(criterion): accuracy "
            + String(format: "%.1f%%, think rate %.1f%%, %.1f tokens", 100 * accuracy, 100 * thinkRate, meanTokens)
    }
}

extension Schema {
    static func write(_ r: StoredRouting, to f: HDF5File) throws(CheckpointError) {
        let g = "/routing"
        try f.createGroup(g)
        try f.setAttribute(g, "rule", .string(r.policy.description))
        try f.setAttribute(g, "criterion", .string(r.criterion))
        try f.setAttribute(g, "split", .string(r.split))
        try f.setAttribute(g, "split_examples", .int(Int64(r.splitExamples)))
        try f.setAttribute(g, "split_checksum", .uint(r.splitChecksum))
        try f.setAttribute(g, "accuracy", .double(r.accuracy))
        try f.setAttribute(g, "think_rate", .double(r.thinkRate))
        try f.setAttribute(g, "mean_tokens", .double(r.meanTokens))
        try f.setAttribute(g, "text_checksum", .uint(r.textChecksum))
    }
}

extension Schema.Reader {
    /// The /routing group, or nil for a checkpoint without a stored rule.
    func routing() throws(CheckpointError) -> StoredRouting? {
        let g = "/routing"
        guard file.exists(g) else { return nil }
        let rule = try string(g, "rule")
        let policy: RoutingPolicy
        do { policy = try RoutingPolicy(parsing: rule) } catch {
            throw .wrongAttribute(path: path, object: g, name: "rule", found: "\"\(rule.prefix(40))\"", expected: "model, think, short or threshold:T")
        }
        let examples = try int(g, "split_examples")
        guard examples >= 1 else {
            throw .wrongAttribute(path: path, object: g, name: "split_examples", found: "\(examples)", expected: "a count ≥ 1")
        }
        let r = StoredRouting(policy: policy, criterion: try string(g, "criterion"), split: try string(g, "split"),
                              splitExamples: examples, splitChecksum: try uint64(g, "split_checksum"),
                              accuracy: try double(g, "accuracy"), thinkRate: try double(g, "think_rate"),
                              meanTokens: try double(g, "mean_tokens"))
        for (name, x) in [("accuracy", r.accuracy), ("think_rate", r.thinkRate)] where !(0...1).contains(x) {
            throw .wrongAttribute(path: path, object: g, name: name, found: "\(x)", expected: "a fraction in 0...1")
        }
        guard try uint64(g, "text_checksum") == r.textChecksum else {
            throw .corrupted(path: path, dataset: g, detail: "rule, criterion and split text do not match text_checksum")
        }
        return r
    }
}
