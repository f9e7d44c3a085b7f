import ArgumentParser
import ReckonModel

/// `--chat-template chatml|llama3|none`: overrides the template recognised from the model.
extension ChatTemplateKind: ExpressibleByArgument {}
