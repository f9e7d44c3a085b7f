import Foundation

/// Runs the built `reckon` binary, which sits next to the test bundle.
struct CLI {
    /// On Linux the main bundle is the products folder itself; on macOS the .xctest bundle sits in it.
    var reckon: URL {
        if let xctest = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            return xctest.bundleURL.deletingLastPathComponent().appendingPathComponent("reckon")
        }
        return Bundle.main.bundleURL.appendingPathComponent("reckon")
    }

    func run(_ args: [String], in dir: URL) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = reckon
        p.arguments = args
        p.currentDirectoryURL = dir
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
