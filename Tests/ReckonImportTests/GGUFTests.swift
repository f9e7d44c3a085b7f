import Foundation
import XCTest
@testable import ReckonImport
import ReckonModel

/// Fixtures written by tools/make_gguf_fixtures.py with gguf-py.
enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
}

final class GGUFTests: XCTestCase {
    /// Every supported type, dequantised from the same bytes by gguf-py's `gguf.quants.dequantize`:
    /// the float32 bit patterns must be identical.
    func testEveryTypeDequantisesBitExactlyAsGGUFPy() throws {
        let file = try GGUFFile(path: Fixtures.path("all_types.gguf"))
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.path("all_types.json")))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let expected = try XCTUnwrap(json["tensors"] as? [String: [String: Any]])
        XCTAssertEqual(Set(expected.keys), Set(GGMLType.supported.map { "t.\($0.name)" }))
        XCTAssertEqual(file.alignment, 64)
        for (name, e) in expected {
            let t = try XCTUnwrap(file.tensor(named: name), name)
            XCTAssertEqual(t.type.name, e["type"] as? String)
            XCTAssertEqual(t.shape, e["shape"] as? [Int])
            XCTAssertEqual(t.offset % 64, 0, "\(name) is not aligned")
            let bits = try XCTUnwrap(e["bits"] as? [String]).map { UInt32($0, radix: 16)! }
            let got = file.floats(t).map(\.bitPattern)
            XCTAssertEqual(got.count, bits.count, name)
            let wrong = zip(got, bits).enumerated().filter { $0.element.0 != $0.element.1 }
            XCTAssert(wrong.isEmpty, "\(name): \(wrong.count) values differ, first at \(wrong.first.map { "\($0.offset): \(String($0.element.0, radix: 16)) vs \(String($0.element.1, radix: 16))" } ?? "")")
        }
    }

    func testMetadataOfEveryValueType() throws {
        let m = try GGUFFile(path: Fixtures.path("all_types.gguf")).metadata
        XCTAssertEqual(m["general.architecture"], .string("llama"))
        XCTAssertEqual(m["v.uint8"], .uint8(200))
        XCTAssertEqual(m["v.int8"], .int8(-100))
        XCTAssertEqual(m["v.uint16"], .uint16(60000))
        XCTAssertEqual(m["v.int16"], .int16(-30000))
        XCTAssertEqual(m["v.uint32"], .uint32(4_000_000_000))
        XCTAssertEqual(m["v.int32"], .int32(-2_000_000_000))
        XCTAssertEqual(m["v.float32"], .float32(0.1))
        XCTAssertEqual(m["v.uint64"], .uint64(1 << 63 + 5))
        XCTAssertEqual(m["v.int64"], .int64(-(1 << 62)))
        XCTAssertEqual(m["v.float64"], .float64(0.1))
        XCTAssertEqual(m["v.bool"], .bool(true))
        XCTAssertEqual(m["v.string"], .string("héllo\nwörld ✓"))
        XCTAssertEqual(m["v.array_int"]?.array?.compactMap(\.int), [1, -2, 3])
        XCTAssertEqual(m["v.array_str"], .array([.string("a"), .string(""), .string("ü")]))
    }

    /// Every finite half converts exactly and back (numpy's conversions are exact both ways on these).
    func testHalfConversionsRoundTrip() {
        for h in 0...UInt16.max where (h & 0x7C00) != 0x7C00 || (h & 0x3FF) == 0 {
            let f = Dequantize.halfToFloat(h)
            XCTAssertEqual(GGUFWriter.floatToHalf(f), h, "half \(String(h, radix: 16)) → \(f)")
        }
        XCTAssertEqual(Dequantize.halfToFloat(0x3C00), 1)
        XCTAssertEqual(Dequantize.halfToFloat(0x0001), 0x1p-24)
        XCTAssertEqual(Dequantize.halfToFloat(0xC000), -2)
        // Ties round to even: 1 + 2^-11 lies halfway between 1 and the next half.
        XCTAssertEqual(GGUFWriter.floatToHalf(1 + 0x1p-11), 0x3C00)
        XCTAssertEqual(GGUFWriter.floatToHalf(1 + 3 * 0x1p-11), 0x3C02)
        XCTAssertEqual(GGUFWriter.floatToHalf(70000), 0x7C00)
    }

    /// Head size 4 (two RoPE pairs): half-split rows (0, 1 | 2, 3) become (0, 2, 1, 3).
    func testInterleavePermutationByHand() {
        let w: [Float] = [0, 0, 1, 1, 2, 2, 3, 3, 10, 10, 11, 11, 12, 12, 13, 13]   // 2 heads × 4 rows × 2 cols
        XCTAssertEqual(Importer.interleave(w, heads: 2, headDim: 4), [0, 0, 2, 2, 1, 1, 3, 3, 10, 10, 12, 12, 11, 11, 13, 13])
    }
}
