// The one-line progress display on standard error, and `note` for user messages; no progress logic of its own.

import Foundation

/// A one-line progress display on standard error: `label [####....] done/total ETA 1m20s | fields`.
/// On a terminal the line is redrawn in place with \r; otherwise (a log file, nohup) a plain
/// line is printed at most every `plainInterval` seconds, and at the end.
final class ProgressBar {
    let total: Int
    let label: String
    let isTTY: Bool
    let plainInterval: Double
    private let start = Date()
    private let startDone: Int
    private var lastPlain = Date.distantPast
    private var drawn = false

    /// `startDone`: work already done before this process (a resumed run), kept out of the rate.
    init(total: Int, label: String, startDone: Int = 0, plainInterval: Double = 15) {
        self.total = max(1, total)
        self.label = label
        self.startDone = startDone
        self.plainInterval = plainInterval
        isTTY = isatty(STDERR_FILENO) == 1
    }

    func update(_ done: Int, _ fields: String = "") {
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(done - startDone) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : .infinity
        let text = "\(label) \(done)/\(total) ETA \(Self.duration(eta))" + (fields.isEmpty ? "" : " | \(fields)")
        if isTTY {
            let width = 20, filled = width * min(done, total) / total
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(text)".utf8))
            drawn = true
        } else if now.timeIntervalSince(lastPlain) >= plainInterval || done >= total {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
            lastPlain = now
        }
    }

    /// Prints a message on its own line without losing the bar.
    func note(_ message: String) {
        if isTTY && drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// Ends the bar's line.
    func finish() {
        if isTTY && drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}

/// Messages for the user go to standard error, keeping standard output for results.
/// Under `mpirun` only rank 0 speaks (TrainRanks.swift).
func note(_ message: String) {
    guard launchRank == 0 else { return }
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}
