// The `--chat-template` option's parsing; the templates are ReckonModel/ChatTemplate.swift's.

import ArgumentParser
import ReckonModel

/// `--chat-template chatml|llama3|none`: overrides the template recognised from the model.
extension ChatTemplateKind: ExpressibleByArgument {}
