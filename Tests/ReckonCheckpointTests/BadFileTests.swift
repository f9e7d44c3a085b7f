import Foundation
import XCTest
import ReckonCore
import ReckonModel
@testable import ReckonCheckpoint

/// Each way a checkpoint file can be wrong gives one typed error whose message names the file
/// and the problem; none crashes or loads garbage.
final class BadFileTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try Fixture.directory(self)
    }

    /// A valid checkpoint at `name`, then `damage` applied through the HDF5 wrapper.
    /// A saved checkpoint with `removing` links removed, then `damage` done to it.
    func damaged(_ name: String, removing: [String] = [], _ damage: (HDF5File) throws -> Void) throws -> String {
        let path = dir + "/" + name
        try Fixture.checkpoint().save(to: path)
        for link in removing { try Fixture.removeLink(link, from: path) }
        let file = try HDF5File.open(path, writable: true)
        try damage(file)
        try file.close()
        return path
    }

    /// A saved checkpoint with one link removed, through HDF5's own API: Reckon never deletes.
    func missing(_ name: String, link: String) throws -> String {
        let path = dir + "/" + name
        try Fixture.checkpoint().save(to: path)
        try Fixture.removeLink(link, from: path)
        return path
    }

    func load(_ path: String) throws { _ = try Checkpoint.load(from: path, includeOptimizer: true) }

    func testMissingFile() {
        let path = dir + "/nope.h5"
        Fixture.assertError(path, ["no such file"], { try load(path) }) { $0 == .fileNotFound(path: path) }
    }

    func testNotHDF5() throws {
        let path = dir + "/notes.h5"
        try Data("step,loss\n1,5.6\n".utf8).write(to: URL(fileURLWithPath: path))
        Fixture.assertError(path, ["not an HDF5 file"], { try load(path) }) {
            if case .notHDF5 = $0 { true } else { false }
        }
        let empty = dir + "/empty.h5"
        try Data().write(to: URL(fileURLWithPath: empty))
        Fixture.assertError(empty, ["empty"], { try load(empty) }) {
            if case .notHDF5 = $0 { true } else { false }
        }
    }

    func testTruncated() throws {
        let path = dir + "/cut.h5"
        try Fixture.checkpoint().save(to: path)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        for keep in [size * 3 / 5, size - 1, 4096] {
            let h = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
            try h.truncate(atOffset: UInt64(keep))
            try h.close()
            Fixture.assertError(path, ["truncated", "eof"], { try load(path) }) {
                if case .truncated = $0 { true } else { false }
            }
        }
    }

    func testMissingDataset() throws {
        let path = try missing("missing.h5", link: "/model/wq")
        Fixture.assertError(path, ["dataset /model/wq is missing"], { try load(path) }) {
            $0 == .missingDataset(path: path, dataset: "/model/wq")
        }
        let moments = try missing("missing-v.h5", link: "/optimizer/v/w2")
        Fixture.assertError(moments, ["/optimizer/v/w2"], { try load(moments) }) {
            $0 == .missingDataset(path: moments, dataset: "/optimizer/v/w2")
        }
        XCTAssertNoThrow(try Checkpoint.load(from: moments), "inference never reads the moments")
    }

    func testWrongShape() throws {
        let path = try damaged("shape.h5", removing: ["/model/wq"]) { f in
            try f.write("/model/wq", [Float](repeating: 0, count: 2 * 8 * 8), shape: [2, 8, 8])
        }
        Fixture.assertError(path, ["dataset /model/wq has shape [2, 8, 8], expected [2, 16, 16]"], { try load(path) }) {
            $0 == .wrongShape(path: path, dataset: "/model/wq", found: [2, 8, 8], expected: [2, 16, 16])
        }
        let transposed = try damaged("transposed.h5", removing: ["/model/w2"]) { f in
            try f.write("/model/w2", [Float](repeating: 0, count: 2 * 32 * 16), shape: [2, 32, 16])
        }
        Fixture.assertError(transposed, ["/model/w2", "[2, 32, 16]", "[2, 16, 32]"], { try load(transposed) }) {
            if case .wrongShape = $0 { true } else { false }
        }
    }

    func testWrongElementType() throws {
        let path = try damaged("type.h5", removing: ["/model/norm"]) { f in
            try f.write("/model/norm", [Int64](repeating: 1, count: 16), shape: [16])
        }
        Fixture.assertError(path, ["/model/norm", "int64", "float32"], { try load(path) }) {
            if case .wrongType = $0 { true } else { false }
        }
    }

    func testInvalidConfig() throws {
        let path = try damaged("heads.h5") { try $0.setAttribute("/config", "n_heads", .int(3)) }
        Fixture.assertError(path, ["invalid model config", "divisible"], { try load(path) }) {
            if case .invalidConfig = $0 { true } else { false }
        }
        let huge = try damaged("huge.h5") { try $0.setAttribute("/config", "n_layers", .int(-7)) }
        Fixture.assertError(huge, ["n_layers = -7"], { try load(huge) }) {
            if case .invalidConfig = $0 { true } else { false }
        }
        let typed = try damaged("typed.h5") { try $0.setAttribute("/config", "dim", .string("sixteen")) }
        Fixture.assertError(typed, ["attribute dim on /config", "string", "integer"], { try load(typed) }) {
            if case .wrongAttribute = $0 { true } else { false }
        }
        let absent = try missing("absent.h5", link: "/config")
        Fixture.assertError(absent, ["/config"], { try load(absent) }) { $0 == .missingDataset(path: absent, dataset: "/config") }
    }

    func testForeignHDF5AndFutureVersion() throws {
        let foreign = dir + "/foreign.h5"
        let f = try HDF5File.create(foreign)
        try f.createGroup("/data")
        try f.write("/data/x", [Float](repeating: 1, count: 4), shape: [4])
        try f.close()
        Fixture.assertError(foreign, ["not a Reckon checkpoint", "format"], { try load(foreign) }) {
            if case .notACheckpoint = $0 { true } else { false }
        }
        let future = try damaged("future.h5") { try $0.setAttribute("/", "format_version", .int(2)) }
        Fixture.assertError(future, ["format_version 2"], { try load(future) }) {
            $0 == .unsupportedVersion(path: future, found: 2, supported: 1)
        }
    }

    func testTokenizerAndStrayClassifier() throws {
        let spm = try damaged("spm.h5") { try $0.setAttribute("/tokenizer", "kind", .string("sentencepiece")) }
        Fixture.assertError(spm, ["tokenizer", "sentencepiece"], { try load(spm) }) {
            if case .tokenizerMismatch = $0 { true } else { false }
        }
        // A BPE tokenizer group must hold its vocabulary (docs/import.md).
        let bpe = try damaged("bpe.h5") { try $0.setAttribute("/tokenizer", "kind", .string("bpe")) }
        Fixture.assertError(bpe, ["/tokenizer/tokens", "missing"], { try load(bpe) }) {
            if case .missingDataset = $0 { true } else { false }
        }
        let tied = try damaged("tied.h5", removing: ["/model/wcls"]) { f in
            try f.setAttribute("/config", "tied_embeddings", .int(1))
            try f.setAttribute("/config", "parameter_count", .int(Int64(ParameterLayout(
                ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 32, maxSeqLen: 8, tiedEmbeddings: true)).count)))
        }
        Fixture.assertError(tied, ["/optimizer/m/wcls", "tied_embeddings"], { try load(tied) }) {
            if case .unexpectedDataset = $0 { true } else { false }
        }
    }

    func testWrongTrainAttribute() throws {
        let path = try damaged("train.h5") { try $0.setAttribute("/train", "rng_state", .string("lost")) }
        Fixture.assertError(path, ["rng_state", "/train"], { try load(path) }) {
            if case .wrongAttribute = $0 { true } else { false }
        }
    }
}

final class CorruptionTests: XCTestCase {
    /// A flipped bit inside tensor data fails the Fletcher-32 check instead of loading.
    func testFlippedBitInTensorDataIsCaught() throws {
        let dir = try Fixture.directory(self)
        let path = dir + "/flip.h5"
        var c = try Fixture.checkpoint()
        let wq = ParameterLayout(c.config).wq
        let marker: [Float] = [1234.5, -2345.25, 3456.125, -4567.0625]
        c.params.replaceSubrange(wq..<(wq + 4), with: marker)
        try c.save(to: path)

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let pattern = marker.flatMap { f in (0..<4).map { UInt8(truncatingIfNeeded: f.bitPattern >> (8 * $0)) } }
        let at = try XCTUnwrap((0...(bytes.count - pattern.count)).first { Array(bytes[$0..<($0 + pattern.count)]) == pattern })
        bytes[at + 5] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        Fixture.assertError(path, ["/model/wq", "checksum"], { _ = try Checkpoint.load(from: path) }) {
            if case .corrupted = $0 { true } else { false }
        }
        XCTAssertNoThrow(try CheckpointSummary.read(from: path), "metadata is intact; only the values are damaged")
    }

    /// Strings sit in HDF5's unchecksummed global heap; text_checksum catches damage there.
    func testDamagedRecipeTextIsCaught() throws {
        let dir = try Fixture.directory(self)
        let path = dir + "/recipe.h5"
        try Fixture.checkpoint().save(to: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array("stage sft".utf8)
        let at = try XCTUnwrap((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
        bytes[at] ^= 0x20  // "stage" → "Stage"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        Fixture.assertError(path, ["/train", "recipe", "text_checksum"], { _ = try Checkpoint.load(from: path) }) {
            if case .corrupted = $0 { true } else { false }
        }
    }
}

final class FuzzTests: XCTestCase {
    /// Single-byte damage anywhere in the file: the load either fails with a CheckpointError
    /// or, when the byte was slack space, returns exactly the saved values. Never a crash,
    /// never different numbers.
    func testRandomByteFlipsNeverLoadWrongNumbers() throws {
        let dir = try Fixture.directory(self)
        let path = dir + "/fuzz.h5", damaged = dir + "/damaged.h5"
        let saved = try Fixture.checkpoint()
        try saved.save(to: path)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var rng = RNG(seed: 2024)
        var caught = 0
        let trials = 200
        for _ in 0..<trials {
            var bytes = original
            let at = rng.int(below: bytes.count), mask = UInt8(1 + rng.int(below: 255))
            bytes[at] ^= mask
            try Data(bytes).write(to: URL(fileURLWithPath: damaged))
            do {
                let c = try Checkpoint.load(from: damaged, includeOptimizer: true)
                let same = c.params.map(\.bitPattern) == saved.params.map(\.bitPattern)
                    && c.optimizer?.moments.map(\.bitPattern) == saved.optimizer?.moments.map(\.bitPattern)
                    && c.config == saved.config && c.optimizer?.step == saved.optimizer?.step && c.train == saved.train
                XCTAssertTrue(same, "byte \(at) of \(bytes.count) xor \(mask) loaded different numbers")
            } catch {
                caught += 1
                XCTAssertTrue(error.description.hasPrefix(damaged + ":"), error.description)
            }
        }
        XCTAssertGreaterThan(caught, trials * 8 / 10, "nearly every byte is checksummed data or metadata (\(caught) of \(trials) caught)")

        // Any cut, anywhere, is refused.
        for _ in 0..<40 {
            let keep = rng.int(below: original.count)
            try Data(original[0..<keep]).write(to: URL(fileURLWithPath: damaged))
            XCTAssertThrowsError(try Checkpoint.load(from: damaged), "cut at \(keep)") { error in
                guard let e = error as? CheckpointError else { return XCTFail("\(error)") }
                switch e {
                case .truncated, .notHDF5: break
                default: XCTFail("cut at \(keep): \(e)")
                }
            }
        }
    }
}
