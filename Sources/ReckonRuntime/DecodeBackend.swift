// What the engine needs from a model, the transformer behind it, and a type-erased backend; the forward
// itself is ReckonModel/Decode.swift's.

import ReckonModel

/// What the engine needs from a model: run a mix of prefill and decode rows against
/// per-slot caches, and free a slot. The transformer is one implementation; the runtime's
/// property tests use a scripted one whose choices are known in advance.
public protocol DecodeBackend {
    var vocabSize: Int { get }
    /// Longest prompt + generation a slot can hold.
    var contextLength: Int { get }
    var slots: Int { get }
    /// Logits for every row, (rows.count, vocabSize) row-major; a slot's rows must be in order.
    mutating func step(_ rows: [DecodeRow]) throws -> [Float]
    /// Forgets a slot's tokens so a new request can use it.
    mutating func release(slot: Int) throws
    /// FLOPs of one token that attends over `context` positions (itself included).
    func flopsPerToken(context: Int) -> Double
}

/// The transformer with its KV cache and decode scratch.
public struct TransformerBackend: DecodeBackend {
    public let model: Transformer
    private var cache: KVCache
    private var scratch: DecodeScratch

    /// `memoryAvailable` (bytes; default: what the machine has now) bounds the KV cache, see `MemoryCheck`.
    public init(model: Transformer, slots: Int, memoryAvailable: UInt64? = nil) throws(RuntimeError) {
        guard slots > 0 else { throw .invalidConfig("the batch needs at least one slot") }
        try MemoryCheck.check(model.config, slots: slots, available: memoryAvailable ?? MemoryCheck.availableBytes())
        self.model = model
        do { cache = try KVCache(config: model.config, slots: slots) } catch { throw .backend("\(error)") }
        // Prefill of a full batch of prompts can reach slots × context rows; the scratch grows on demand.
        scratch = DecodeScratch(config: model.config, maxRows: max(64, slots))
    }

    public var vocabSize: Int { model.config.vocabSize }
    public var contextLength: Int { model.config.maxSeqLen }
    public var slots: Int { cache.slots }

    public mutating func step(_ rows: [DecodeRow]) throws -> [Float] {
        try model.step(rows, cache: &cache, scratch: &scratch)
    }

    public mutating func release(slot: Int) throws { try cache.reset(slot: slot) }

    public func flopsPerToken(context: Int) -> Double { model.config.decodeFlopsPerToken(context: context) }
}

/// Any backend behind one concrete type, for a host that picks its backend at run time:
/// `reckon serve` runs the transformer, its tests a paced one that wraps it.
public struct AnyDecodeBackend: DecodeBackend {
    private var base: any DecodeBackend
    public init(_ base: any DecodeBackend) { self.base = base }

    public var vocabSize: Int { base.vocabSize }
    public var contextLength: Int { base.contextLength }
    public var slots: Int { base.slots }
    public mutating func step(_ rows: [DecodeRow]) throws -> [Float] { try base.step(rows) }
    public mutating func release(slot: Int) throws { try base.release(slot: slot) }
    public func flopsPerToken(context: Int) -> Double { base.flopsPerToken(context: context) }
}
