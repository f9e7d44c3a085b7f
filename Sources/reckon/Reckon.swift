import ArgumentParser

@main
struct Reckon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reckon",
        abstract: "Train and serve self-routing language models.",
        subcommands: [BenchCommand.self, CalibrateCommand.self, DataCommand.self, TokenizeCommand.self, InspectCommand.self, ExportCommand.self, InitCheckpointCommand.self, TrainCommand.self, EvalCommand.self, GenerateCommand.self, AuditCommand.self, ServeCommand.self]
    )
}
