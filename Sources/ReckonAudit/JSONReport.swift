// An audit report to and from JSON, with the infinite ratios written as strings.

import Foundation

extension AuditReport {
    /// Infinite ratios (reference rate 0) are not valid JSON numbers; they are written as strings.
    static let nonConforming = (positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    /// The report as pretty-printed JSON with sorted keys, so two runs diff cleanly.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: Self.nonConforming.positiveInfinity,
            negativeInfinity: Self.nonConforming.negativeInfinity, nan: Self.nonConforming.nan)
        return try encoder.encode(self)
    }

    /// Reads a report written by `json()`.
    public static func decode(json data: Data) throws -> AuditReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonConforming.positiveInfinity,
            negativeInfinity: nonConforming.negativeInfinity, nan: nonConforming.nan)
        return try decoder.decode(AuditReport.self, from: data)
    }
}
