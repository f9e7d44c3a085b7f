// The cap on open connections across event loops, and its per-connection handler.

import Foundation
import NIOCore
import NIOHTTPTypes

/// At most `limit` connections open at once, across every event loop. A connection over
/// the limit is closed as soon as it is accepted, so open file descriptors stay bounded
/// however many clients hold connections idle.
final class ConnectionCap: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var open = 0
    private var refused = 0

    init(limit: Int) { self.limit = limit }

    func admit() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard open < limit else { refused += 1; return false }
        open += 1
        return true
    }

    func release() {
        lock.lock()
        open -= 1
        lock.unlock()
    }

    /// Connections open now, and those closed for being over the limit so far.
    var counts: (open: Int, refused: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (open, refused)
    }
}

/// The per-connection side of `ConnectionCap`.
final class ConnectionCapHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let cap: ConnectionCap
    private enum State { case undecided, admitted, refused, released }
    private var state = State.undecided

    init(cap: ConnectionCap) { self.cap = cap }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { decide(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        decide(context)
        if state == .admitted { context.fireChannelActive() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if state == .admitted { context.fireChannelRead(data) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseSlot()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { releaseSlot() }

    private func decide(_ context: ChannelHandlerContext) {
        guard state == .undecided else { return }
        if cap.admit() {
            state = .admitted
        } else {
            state = .refused
            context.close(promise: nil)
        }
    }

    private func releaseSlot() {
        if state == .admitted { cap.release() }
        if state != .refused { state = .released }
    }
}
