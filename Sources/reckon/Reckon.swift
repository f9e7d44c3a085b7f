// The `reckon` entry point: the subcommand list and how a thrown error becomes one line and exit status 1.

import ArgumentParser

@main
struct Reckon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reckon",
        abstract: "Train and serve self-routing language models.",
        subcommands: [BenchCommand.self, CalibrateCommand.self, DataCommand.self, TokenizeCommand.self, InspectCommand.self, ExportCommand.self, InitCheckpointCommand.self, ImportCommand.self, TrainCommand.self, EvalCommand.self, GenerateCommand.self, AuditCommand.self, ServeCommand.self]
    )

    /// Parsing, help and validation as ArgumentParser does them. An error a command throws
    /// while running is one `error: …` line on standard error and exit status 1, so commands
    /// let typed errors propagate instead of wrapping each call; `ExitCode` keeps its status.
    static func main() async {
        var command: ParsableCommand
        do { command = try await asyncParseAsRoot() } catch { exit(withError: error) }
        do {
            if var asyncCommand = command as? AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            exit(withError: error)  // help, usage, validation and exit codes, as ArgumentParser prints them
        } catch {
            exit(withError: fail(error))
        }
    }
}
