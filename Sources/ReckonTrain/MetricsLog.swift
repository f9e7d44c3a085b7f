// The run's `metrics.jsonl` writer; a record's fields are each stage's, when to write one StageLoop.swift's.

import Foundation

/// Appends one JSON object per line to a metrics file (`metrics.jsonl` in the run folder).
/// Keys are sorted so lines diff cleanly; numbers are written as JSON numbers. A failed
/// write is an error: a run whose log stops silently cannot be plotted or compared.
public final class MetricsLog {
    public let path: String
    private let handle: FileHandle

    /// Opens `path` for appending (a resumed run continues the same file), creating it if needed.
    public init(path: String) throws(TrainError) {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw .io(path: path, reason: "cannot create the metrics log")
            }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw .io(path: path, reason: "cannot open the metrics log for writing") }
        handle = h
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    /// Writes one record. Non-finite values become null, which JSON can represent.
    public func append(_ record: [String: Double]) throws(TrainError) {
        let parts = record.keys.sorted().map { key -> String in
            let v = record[key] ?? .nan
            let text: String
            if !v.isFinite { text = "null" }
            else if v == v.rounded(), abs(v) < 1e15 { text = String(Int64(v)) }
            else { text = "\(v)" }
            return "\"\(key)\":\(text)"
        }
        do { try handle.write(contentsOf: Data(("{" + parts.joined(separator: ",") + "}\n").utf8)) } catch {
            throw .io(path: path, reason: "cannot write the metrics log: \(error.localizedDescription)")
        }
    }
}
