// The runtime: see Engine.swift.
